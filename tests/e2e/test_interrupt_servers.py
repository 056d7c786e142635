"""An interrupt of a run whose cluster has servers (authz-webhook: the JWT issuer and the
webhook authorizer), met at four points: while the servers run and the node is not made
yet, while `kind create cluster` makes the node, during a scenario, and while `kubeadm
upgrade apply` upgrades the node in place (the servers run on through an upgrade). Each time
nothing of the run is left: no cluster, no process naming it, the servers' ports closed.

A team's lifecycle step right after ``servers`` notes where the servers listen (and, for the
first point, waits there); a team's scenario waits for the third. The signal is SIGINT, as
Ctrl-C sends it (tests/e2e/test_step_failure.py meets a team's step the same way), and
SIGTERM during the upgrade, as a CI job that is cancelled or times out sends it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time

import pytest

from authprobe.model.versions import resolve
from authprobe.wait import until

from .conftest import VERSION, created, leftovers, outcomes_of, processes

pytestmark = pytest.mark.e2e

TEAM_STEP = '''
import json
from pathlib import Path

from authprobe.harness.phases import BRING_UP, Step
from authprobe.progress import say
from authprobe.wait import until

HERE = Path(__file__).parent
GO_ON = HERE / "go-on"
PAUSE = {pause}


def note_servers(env, run):
    servers = [s for s in (run.servers.issuer, run.servers.authorizer) if s is not None]
    (HERE / "servers.json").write_text(json.dumps(
        {{"cluster": run.name, "listening": [[s.host, s.port] for s in servers]}}))
    say(f"{{run.name}}: step note-servers: the servers listen")
    if PAUSE:
        until(lambda: GO_ON.exists() or env.aborting(), timeout=900, interval=0.5,
              what=f"{{GO_ON}} to exist")
    return "noted"


def pytest_authprobe_lifecycle_steps(config):
    return [Step("note-servers", note_servers, BRING_UP, after="servers")]
'''

TEAM_SCENARIO = '''
from pathlib import Path

from authprobe.progress import say
from authprobe.wait import until

GO_ON = Path(__file__).parent / "go-on"


def test_team_pause(cluster):
    say(f"{cluster.name}: the team's scenario waits for {GO_ON}")
    until(GO_ON.exists, timeout=900, interval=0.5, what=f"{GO_ON} to exist")
'''

# Where the interrupt meets the run: the line that says it is there, and the signal sent.
POINTS = {
    "servers": (r"(authprobe-authz-webhook-\S+): step note-servers: the servers listen",
                signal.SIGINT),
    "create": (r"creating cluster (authprobe-authz-webhook-\S+) ", signal.SIGINT),
    "scenario": (r"(authprobe-authz-webhook-\S+): the team's scenario waits", signal.SIGINT),
    "upgrade": (r"(authprobe-authz-webhook-\S+): kubeadm upgrade apply to ", signal.SIGTERM),
}
UPGRADE_TO = resolve(VERSION).upgrade_to


def closed(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


def applying(name: str) -> bool:
    """Whether the harness's ``docker exec`` of ``kubeadm upgrade apply`` into the node of
    cluster ``name`` runs on this machine."""
    return any(f"{name}-control-plane kubeadm upgrade apply" in line for line in processes())


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupt_leaves_no_server_and_no_cluster(tmp_path, run_child, point):
    (tmp_path / "conftest.py").write_text(TEAM_STEP.format(pause=point == "servers"))
    (tmp_path / "test_team_pause.py").write_text(TEAM_SCENARIO)
    if point == "upgrade":
        if UPGRADE_TO is None:
            pytest.skip(f"Kubernetes {VERSION} upgrades to no supported minor")
        # Only a scenario of the upgraded cluster: the upgrade starts once the node is up.
        chosen = ("--upgrade-to", UPGRADE_TO, "-k", "profile_kept_after_upgrade")
    else:
        chosen = ("-k", "team_pause")
    child = run_child("--pyargs", "authprobe.scenarios", str(tmp_path), "--k8s-version",
                      VERSION, "--profile", "authz-webhook", *chosen, wait=False)
    pattern, sig = POINTS[point]
    there = re.compile(pattern)
    met = until(lambda: next((m for _, text in child.lines for m in [there.search(text)] if m),
                             None),
                timeout=1500, interval=0.5, what=f"the run to reach the point '{point}'")
    name = met.group(1)
    if point == "upgrade":
        until(lambda: applying(name) or child.proc.poll() is not None, timeout=60,
              interval=0.2, what=f"kubeadm upgrade apply to run in {name}'s node",
              state=lambda: child.tail(1500))
    assert child.proc.poll() is None, child.tail()
    noted = json.loads((tmp_path / "servers.json").read_text())
    assert noted["cluster"] == name, (noted, met.group(0))
    assert len(noted["listening"]) == 2 and not any(closed(*a) for a in noted["listening"])
    signalled = time.monotonic()
    child.proc.send_signal(sig)
    code = child.wait(timeout=600)
    print(f"{sig.name} at '{point}': exit {code}, {time.monotonic() - signalled:.0f}s after "
          f"the signal, cluster {name}, servers {noted['listening']}")
    # pytest's "interrupted" for Ctrl-C; 128 + 15 for SIGTERM, as a shell reports it
    assert code == (2 if sig == signal.SIGINT else 143), child.tail()
    assert "INTERNALERROR" not in child.output, child.tail()
    said = [text for _, text in child.lines if f"{sig.name} received" in text]
    assert len(said) == 1, child.tail()
    if point == "upgrade":
        # kubeadm's `docker exec` exits 0 on SIGTERM: the upgrade it stopped must not read
        # as done, in the progress lines or in the report's phase.
        assert not [text for _, text in child.lines
                    if "kubeadm upgrade apply to" in text and ": done in" in text], child.tail()
        upgrade = [p for p in outcomes_of(tmp_path)["phases"] if p["phase"] == "upgrade"]
        assert [(p["outcome"], "the run is being interrupted" in p["message"])
                for p in upgrade] == [("failed", True)], upgrade
    assert created(child) == ([] if point == "servers" else [name]), child.tail()
    assert all(closed(host, port) for host, port in noted["listening"]), noted
    left = leftovers([name])
    assert not any(left.values()), left
