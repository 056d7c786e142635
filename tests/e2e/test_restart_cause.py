"""A crash loop with another cause than the story's fails the restart cell, naming its real
cause: a test-only profile whose startup probe gets 403, judged by anon-off's row (401), in
the session's failure run (tests/e2e/shared_runs.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_another_cause_fails_with_its_cause(failure_run):
    assert failure_run.code == 1, failure_run.child.tail()
    cells = failure_run.cells_of("probe-403")
    assert cells["control_plane_comes_up"]["outcome"] == "pass"
    restarts = cells["apiserver_restarts"]
    assert restarts["outcome"] == "fail", restarts
    assert restarts["observed"]["restart_cause"] == "probe-403"
    assert restarts["observed"]["restart_shape"] == "climbs"
    assert "cause probe-403" in restarts["message"], restarts["message"]
    assert restarts["evidence"]["restarts"][0]["answer"] == 403
    assert all(r["killed_by"] == "startup" and r["cause"] == "probe-403"
               for r in restarts["evidence"]["restarts"]), restarts["evidence"]["restarts"]
    failures = restarts["evidence"]["kubelet_probe_failures"]
    assert failures and {f["status"] for f in failures if f["probe"] == "Startup"} == {403}
    assert restarts["observed"]["window"] < 200  # derived from the short probe budget
