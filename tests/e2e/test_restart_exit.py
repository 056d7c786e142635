"""An anon-off kube-apiserver that ends on its own is not the story's restart: once the
cluster is made and the kubelet's startup probe has had 401s, its process is sent SIGTERM
twice inside the node (the first starts its graceful shutdown, the second makes it exit 1 at
once, as k8s.io/apiserver's signal handler does). It exits 1 between 401 probes, as a crash
would, and the restart cell fails with the cause `exit`. The session's failure run does
this to its anon-off cluster (tests/e2e/shared_runs.py)."""

from __future__ import annotations

import pytest

from .shared_runs import REFUSED

pytestmark = pytest.mark.e2e


def test_an_apiserver_that_exits_on_its_own_fails_the_restart_cell_as_exit(failure_run):
    assert failure_run.code == 1, failure_run.child.tail()
    assert failure_run.notes.get("ended_container"), failure_run.notes
    cells = failure_run.cells_of("anon-off")
    assert cells["control_plane_comes_up"]["outcome"] == "pass"
    restarts = cells["apiserver_restarts"]
    assert restarts["outcome"] == "fail", restarts
    observed = restarts["observed"]
    assert observed["restart_cause"] == "exit" and observed["killed_by"] is None
    assert observed["restart_shape"] == "climbs" and observed["probe_status"] == 401
    first = restarts["evidence"]["restarts"][0]
    assert (first["cause"], first["exit_code"], first["killed_by"]) == ("exit", 1, None)
    assert first["ended_at"] - first["started_at"] < observed["probe_budget"]
    refused = [f for f in restarts["evidence"]["kubelet_probe_failures"]
               if f["probe"] == "Startup" and f["status"] == 401
               and f["t"] <= first["ended_at"]]
    assert len(refused) >= REFUSED, restarts["evidence"]["kubelet_probe_failures"]
    assert "cause exit" in restarts["message"], restarts["message"]
    assert restarts["evidence"]["events_read"] is True  # no Killing event near its end
