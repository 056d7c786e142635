"""An anon-off kube-apiserver that ends on its own is not the story's restart: its process is
sent SIGQUIT inside the node once the cluster is made (a Go program dumps its goroutines and
exits 2), and the restart cell fails with the cause `exit`, though every probe of it gets
401 as in the story."""

from __future__ import annotations

import json
import re

import pytest

from authprobe.harness.access import NodeAccess
from authprobe.wait import until

from .conftest import VERSION, outcomes_of

pytestmark = pytest.mark.e2e

MADE = re.compile(r"creating cluster (authprobe-anon-off-\S+) \(anon-off, .*\): done in")


def end_the_apiserver(node: NodeAccess) -> int:
    """SIGQUIT to the running kube-apiserver's process; returns its pid."""
    running = node.exec("crictl", "ps", "--name", "^kube-apiserver$", "--state", "running",
                        "-q").stdout.split()
    assert len(running) == 1, f"running kube-apiserver containers: {running}"
    pid = json.loads(node.exec("crictl", "inspect", running[0]).stdout)["info"]["pid"]
    node.exec("sh", "-c", 'kill -s QUIT "$1"', "sh", str(pid))  # the shell's own kill
    return int(pid)


def test_an_apiserver_that_exits_on_its_own_fails_the_restart_cell_as_exit(tmp_path,
                                                                            run_child):
    child = run_child("--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                      "--profile", "anon-off",
                      "-k", "apiserver_restarts or control_plane_comes_up", wait=False)

    def made() -> str | None:
        assert child.proc.poll() is None, f"the run ended early:\n{child.tail()}"
        found = [MADE.search(line) for _, line in child.lines]
        return next((m.group(1) for m in found if m), None)

    name = until(made, timeout=900, interval=2.0, what="the anon-off cluster to be made")
    end_the_apiserver(NodeAccess(f"{name}-control-plane"))
    assert child.wait(timeout=1800) == 1, child.tail()

    cells = {c["scenario"]: c for c in outcomes_of(tmp_path)["cells"]}
    assert cells["control_plane_comes_up"]["outcome"] == "pass"
    restarts = cells["apiserver_restarts"]
    assert restarts["outcome"] == "fail", restarts
    observed = restarts["observed"]
    assert observed["restart_cause"] == "exit" and observed["killed_by"] is None
    assert observed["restart_shape"] == "climbs" and observed["probe_status"] == 401
    first = restarts["evidence"]["restarts"][0]
    assert (first["cause"], first["exit_code"], first["killed_by"]) == ("exit", 2, None)
    assert first["ended_at"] - first["started_at"] < observed["probe_budget"]
    assert "cause exit" in restarts["message"], restarts["message"]
    assert restarts["evidence"]["events_read"] is True  # no Killing event near its end
