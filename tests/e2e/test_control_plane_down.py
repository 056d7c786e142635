"""A profile predicted to come up that does not: the scenario that checks whether the control
plane comes up checked just that and fails; the scenarios that need it up error (no-etcd, in
the session's failure run, tests/e2e/shared_runs.py). The run leaves none of its clusters."""

from __future__ import annotations

import pytest

from .conftest import left_of, run_clusters

pytestmark = pytest.mark.e2e


def test_a_control_plane_down_against_its_row_fails_its_own_cell_and_errors_the_others(
        failure_run):
    assert failure_run.code == 1, failure_run.child.tail()
    cells = failure_run.cells_of("no-etcd")
    comes_up = cells["control_plane_comes_up"]
    assert comes_up["outcome"] == "fail", comes_up
    assert comes_up["observed"]["up"] is False
    assert "the control plane did not come up" in comes_up["message"], comes_up["message"]
    for scenario in ("apiserver_restarts", "anonymous_get_root"):
        assert cells[scenario]["outcome"] == "error", cells[scenario]
        assert "is down" in cells[scenario]["message"], cells[scenario]["message"]


def test_the_failure_run_leaves_none_of_its_clusters(failure_run):
    made = run_clusters(failure_run.outcomes)
    assert len(made) == 3, made
    assert not left_of(made)
