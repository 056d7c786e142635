"""An anon-off kube-apiserver that ends on its own is not the story's restart: once the
cluster is made and the kubelet's startup probe has had 401s, its process is sent SIGTERM
twice inside the node (the first starts its graceful shutdown, the second makes it exit 1 at
once, as k8s.io/apiserver's signal handler does). It exits 1 between 401 probes, as a crash
would, and the restart cell fails with the cause `exit`."""

from __future__ import annotations

import json
import re

import pytest

from authprobe.harness.access import NodeAccess
from authprobe.harness.probes import parse_failures
from authprobe.harness.readiness import epoch
from authprobe.wait import until

from .conftest import VERSION, outcomes_of

pytestmark = pytest.mark.e2e

# kube-apiserver's log lines once a SIGTERM has started its graceful shutdown.
SHUTTING_DOWN = ("ShutdownInitiated", "Stopped listening on")
REFUSED = 3  # startup probes answered 401 before the apiserver is ended
MADE = re.compile(r"creating cluster (authprobe-anon-off-\S+) \(anon-off, .*\): done in")


def end_the_apiserver(node: NodeAccess) -> str:
    """SIGTERM to the running kube-apiserver's process, and once its graceful shutdown has
    begun (a signal sent before would merge with the first), SIGTERM again; returns the
    container's id."""
    running = node.exec("crictl", "ps", "--name", "^kube-apiserver$", "--state", "running",
                        "-q").stdout.split()
    assert len(running) == 1, f"running kube-apiserver containers: {running}"
    inspected = json.loads(node.exec("crictl", "inspect", running[0]).stdout)
    pid = str(inspected["info"]["pid"])
    started = epoch(inspected["status"]["startedAt"])

    def refused() -> bool:
        journal = node.exec("journalctl", "-u", "kubelet", "--no-pager", "-o", "short-unix",
                            f"--since=@{int(started)}").stdout
        return len([f for f in parse_failures(journal, started)
                    if f.probe == "Startup" and f.status == 401 and f.t >= 0]) >= REFUSED

    until(refused, timeout=120, interval=2.0,
          what=f"{REFUSED} startup probes of kube-apiserver answered 401")
    signal = ("sh", "-c", 'kill -s TERM "$1"', "sh", pid)  # the shell's own kill
    node.exec(*signal)

    def shutting_down() -> bool:
        logs = node.exec("crictl", "logs", "--tail", "200", running[0], check=False)
        return any(mark in logs.stdout + logs.stderr for mark in SHUTTING_DOWN)

    until(shutting_down, timeout=60, interval=0.5,
          what="kube-apiserver to log the start of its graceful shutdown")
    node.exec(*signal)
    return running[0]


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
    assert (first["cause"], first["exit_code"], first["killed_by"]) == ("exit", 1, None)
    assert first["ended_at"] - first["started_at"] < observed["probe_budget"]
    refused = [f for f in restarts["evidence"]["kubelet_probe_failures"]
               if f["probe"] == "Startup" and f["status"] == 401
               and f["t"] <= first["ended_at"]]
    assert len(refused) >= REFUSED, restarts["evidence"]["kubelet_probe_failures"]
    assert "cause exit" in restarts["message"], restarts["message"]
    assert restarts["evidence"]["events_read"] is True  # no Killing event near its end
