"""The kube-apiserver restart series: its shape, its summary line and why it restarted."""

from __future__ import annotations

import pytest

from authprobe.model.expectations import SHAPES as EXPECTED_SHAPES
from authprobe.model.series import (
    CLIMBS,
    FLAT,
    NEVER_UP,
    SHAPES,
    Sample,
    first_restart_at,
    restart_cause,
    shape,
    summary,
)


def s(t, restarts, ready=True, reason=None, source="api"):
    return Sample(t=t, restarts=restarts, ready=ready, last_reason=reason, source=source)


FLAT_SERIES = [s(t, 0) for t in range(0, 340, 10)]
CLIMBING = [s(t, 0, ready=False) for t in range(0, 260, 10)] + [
    s(260, 1, ready=False, reason="Error"), s(270, 1, ready=False, source="runtime")]
NEVER = [s(t, t // 10, ready=False, source="runtime", reason="Error") for t in range(0, 100, 10)]


def test_flat_series():
    assert shape(FLAT_SERIES) == FLAT
    assert first_restart_at(FLAT_SERIES) is None
    assert summary(FLAT_SERIES) == "34 samples over 330s; restarts 0->0; ever ready: yes"


def test_a_series_that_restarts_climbs_and_says_when():
    assert shape(CLIMBING) == CLIMBS
    assert first_restart_at(CLIMBING) == 260
    text = summary(CLIMBING)
    assert "first restart seen at 260s" in text and "ever ready: no" in text
    assert "last termination: Error" in text
    assert "restarts 0->1" in text


def test_ready_between_restarts_climbs_even_from_the_runtime():
    series = [s(0, 0, source="runtime"), s(10, 1, ready=True, source="runtime")]
    assert shape(series) == CLIMBS


def test_runtime_only_series_that_never_stays_up():
    assert shape(NEVER) == NEVER_UP
    assert first_restart_at(NEVER) == 10


def test_shapes_are_the_expectation_shapes():
    assert SHAPES == EXPECTED_SHAPES


def test_sample_round_trips_through_dicts():
    sample = s(12.5, 2, ready=False, reason="Completed", source="runtime")
    assert Sample.from_dict(sample.to_dict()) == sample
    assert Sample.from_dict({"t": "3", "restarts": "1", "ready": 0}) == s(3.0, 1, ready=False)


def test_empty_series_has_no_shape():
    with pytest.raises(ValueError):
        shape([])
    assert summary([]) == "no samples"


def test_restart_cause_none_without_a_restart():
    assert restart_cause(FLAT_SERIES, [401, 401], 1) == "none"
    assert restart_cause([], [401], None) == "none"


def test_restart_cause_from_the_probe_statuses():
    assert restart_cause(CLIMBING, [401] * 24, 137) == "probe-401"
    assert restart_cause(CLIMBING, [401, 500, 401, None], 0) == "probe-401"
    assert restart_cause(CLIMBING, [500, 500, 401], None) == "probe-500"


def test_restart_cause_timeout_when_no_probe_was_answered():
    assert restart_cause(CLIMBING, [None, None, None], 137) == "probe-timeout"


def test_restart_cause_exit_without_probe_failures():
    assert restart_cause(NEVER, [], 1) == "exit"


@pytest.mark.parametrize("code", [None, 0, 137, 143])
def test_restart_cause_unknown_when_killed_or_clean_without_probe_evidence(code):
    assert restart_cause(CLIMBING, [], code) == "unknown"
