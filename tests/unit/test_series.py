import pytest

from authprobe.series import CLIMBS, FLAT, NEVER_UP, Sample, first_restart_at, shape, summary


def s(t, restarts, ready=True, reason=None, source="api"):
    return Sample(t=t, restarts=restarts, ready=ready, last_reason=reason, source=source)


def test_flat_series():
    series = [s(t, 0) for t in range(0, 340, 10)]
    assert shape(series) == FLAT
    assert first_restart_at(series) is None


def test_a_series_that_restarts_climbs_and_says_when():
    series = [s(t, 0, ready=False) for t in range(0, 260, 10)]
    series += [s(260, 1, ready=False, reason="Error"), s(270, 1, ready=False, source="runtime")]
    assert shape(series) == CLIMBS
    assert first_restart_at(series) == 260
    text = summary(series)
    assert "first restart seen at 260s" in text and "ever ready: no" in text
    assert "last termination: Error" in text


def test_runtime_only_series_that_never_stays_up():
    series = [s(t, t // 10, ready=False, source="runtime") for t in range(0, 100, 10)]
    assert shape(series) == NEVER_UP


def test_sample_round_trips_through_dicts():
    sample = s(12.5, 2, ready=False, reason="Completed", source="runtime")
    assert Sample.from_dict(sample.to_dict()) == sample


def test_empty_series_has_no_shape():
    with pytest.raises(ValueError):
        shape([])
