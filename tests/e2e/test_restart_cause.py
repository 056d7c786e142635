"""A crash loop with another cause than the story's fails the restart cell, naming its real
cause: a test-only profile whose startup probe gets 403, judged by anon-off's row (401)."""

from __future__ import annotations

import pytest

from .conftest import DATA, VERSION, outcomes_of

pytestmark = pytest.mark.e2e


def test_another_cause_fails_with_its_cause(tmp_path, run_child):
    child = run_child("--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                      "--profile", "probe-403", "--profiles-dir", str(DATA / "profiles"),
                      "--expectations", str(DATA / "expectations.yaml"),
                      "-k", "apiserver_restarts or control_plane_comes_up")
    assert child.proc.returncode == 1, child.tail()
    cells = {c["scenario"]: c for c in outcomes_of(tmp_path)["cells"]}
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
