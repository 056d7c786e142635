"""The kube-apiserver restart series: its shape and its summary line."""

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


def test_the_started_state_round_trips_and_older_samples_have_none():
    sample = Sample(t=40, restarts=0, ready=False, last_reason=None, source="api", started=True)
    assert Sample.from_dict(sample.to_dict()) == sample
    recorded = {"t": 10.0, "restarts": 0, "ready": False, "last_reason": None, "source": "api"}
    assert Sample.from_dict(recorded).started is None


def test_empty_series_has_no_shape():
    with pytest.raises(ValueError):
        shape([])
    assert summary([]) == "no samples"
