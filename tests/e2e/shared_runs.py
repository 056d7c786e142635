"""The real-cluster runs several e2e modules share, each made once per session, as a team's
run would be: one set of clusters answers every module that tests the same bring-up.

- :func:`main_job`: every shipped profile on one minor, as ``tox -e scenarios`` runs it, with
  a team's folder of its own scenarios beside the shipped ones (the harness's clients, the
  restart sampler, an expected start failure handed over). The main job's report, the
  harness's checks and the progress check read it.
- :func:`failure_run`: the profiles that fail on purpose, in one run: ``no-etcd`` (a control
  plane predicted to come up that does not), ``probe-403`` (a crash loop with another cause
  than the story's) and ``anon-off``, whose kube-apiserver is made to end on its own between
  401 probes once the cluster is made.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from authprobe.harness.access import NodeAccess
from authprobe.harness.probes import parse_failures
from authprobe.harness.readiness import epoch
from authprobe.wait import until

# The team's own scenarios in the main job. Each records what it saw into HARNESS_OUT; they
# look at the clusters the harness's checks are about and leave the others to the shipped
# scenarios (a skip, said as such).
TEAM_SCENARIOS = '''
import json, os

import pytest

OUT = os.environ["HARNESS_OUT"]
CHECKED = {"anon-on"}  # the harness's clients and sampler, on a cluster that stays up


def record(**fields):
    with open(OUT, "a") as out:
        out.write(json.dumps(fields) + "\\n")


def only_checked(cluster):
    if cluster.profile.id not in CHECKED:
        pytest.skip(f"the harness's checks look at {sorted(CHECKED)}")


def test_http_clients(cluster):
    only_checked(cluster)
    livez = cluster.anonymous.get("/livez")
    root = cluster.anonymous.get("/")
    readyz = cluster.admin.get("/readyz")
    record(test="http", cluster=cluster.name, livez=livez.status_code, root=root.status_code,
           readyz=readyz.status_code, server=cluster.server,
           audit_user=cluster.audit.record_of(root).user)


def test_cluster_admin_and_node(cluster):
    only_checked(cluster)
    import kubernetes
    version = kubernetes.client.VersionApi(cluster.api).get_code().git_version
    crictl = cluster.node.exec("crictl", "ps", "--name", "kube-apiserver", "-q")
    record(test="api", cluster=cluster.name, version=version, up=cluster.up,
           crictl=bool(crictl.stdout.strip()), ca_mode=oct(os.stat(cluster.ca_path).st_mode),
           window=cluster.window, budget=cluster.probe_budget)


def test_restart_sampler(cluster):
    only_checked(cluster)
    series = cluster.restarts.wait_for_window(20)
    record(test="sampler", cluster=cluster.name, samples=len(series),
           sources=sorted({s.source for s in series}), restarts=series[-1].restarts)


@pytest.mark.control_plane_any
def test_start_failure(cluster):
    if cluster.up:
        pytest.skip("the control plane is up: no start failure to hand over")
    failure = cluster.start_failure
    record(test="failure", cluster=cluster.name, profile=cluster.profile.id, up=cluster.up,
           exit_code=failure.exit_code if failure else None,
           log=failure.log_tail[-5:] if failure else [])
'''
TEAM_SCENARIO_NAMES = {"http_clients", "cluster_admin_and_node", "restart_sampler",
                       "start_failure"}

# kube-apiserver's log lines once a SIGTERM has started its graceful shutdown.
SHUTTING_DOWN = ("ShutdownInitiated", "Stopped listening on")
REFUSED = 3  # startup probes answered 401 before anon-off's kube-apiserver is ended
ANON_OFF_MADE = re.compile(r"creating cluster (authprobe-anon-off-\S+) \(anon-off, .*\): done in")
FAILURE_PROFILES = ("anon-off", "probe-403", "no-etcd")
FAILURE_SCENARIOS = "control_plane_comes_up or apiserver_restarts or anonymous_get_root"


@dataclass
class SharedRun:
    """A finished child run: its output lines, exit status, report and how long it took."""

    folder: Path
    child: object  # conftest.Child
    seconds: float
    outcomes: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # what the fixture did to the run's clusters

    @property
    def code(self) -> int:
        return self.child.proc.returncode

    def cell(self, profile: str, scenario: str) -> dict:
        found = [c for c in self.outcomes["cells"]
                 if c["profile"] == profile and c["scenario"] == scenario]
        assert len(found) == 1, f"{profile}/{scenario}: {len(found)} cells"
        return found[0]

    def cells_of(self, profile: str) -> dict[str, dict]:
        return {c["scenario"]: c for c in self.outcomes["cells"] if c["profile"] == profile}

    def records(self) -> list[dict]:
        from .conftest import records

        return records(self.folder)


def end_the_apiserver(node: NodeAccess) -> str:
    """SIGTERM to the running kube-apiserver's process once the kubelet's startup probe has
    had REFUSED 401s, and once its graceful shutdown has begun (a signal sent before would
    merge with the first), SIGTERM again: it exits 1 at once, as k8s.io/apiserver's signal
    handler does, between 401 probes, as a crash would. Returns the container's id."""
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


def anon_off_made(child) -> str | None:
    """The name of the run's anon-off cluster once `kind create` made it; the run must not
    have ended before."""
    assert child.proc.poll() is None, f"the run ended early:\n{child.tail()}"
    found = [ANON_OFF_MADE.search(line) for _, line in child.lines]
    return next((m.group(1) for m in found if m), None)


def timed(start: float) -> float:
    return round(time.monotonic() - start, 1)
