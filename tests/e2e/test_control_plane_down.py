"""A profile predicted to come up that does not: the scenario that checks whether the control
plane comes up checked just that and fails; the scenarios that need it up error."""

from __future__ import annotations

import pytest

from .conftest import DATA, VERSION, outcomes_of

pytestmark = pytest.mark.e2e


def test_a_control_plane_down_against_its_row_fails_its_own_cell_and_errors_the_others(
        tmp_path, run_child):
    child = run_child("--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                      "--profile", "no-etcd", "--profiles-dir", str(DATA / "profiles"),
                      "--expectations", str(DATA / "expectations.yaml"),
                      "-k", "control_plane_comes_up or apiserver_restarts or anonymous_get_root")
    assert child.proc.returncode == 1, child.tail()
    cells = {c["scenario"]: c for c in outcomes_of(tmp_path)["cells"]}
    comes_up = cells["control_plane_comes_up"]
    assert comes_up["outcome"] == "fail", comes_up
    assert comes_up["observed"]["up"] is False
    assert "the control plane did not come up" in comes_up["message"], comes_up["message"]
    for scenario in ("apiserver_restarts", "anonymous_get_root"):
        assert cells[scenario]["outcome"] == "error", cells[scenario]
        assert "is down" in cells[scenario]["message"], cells[scenario]["message"]
