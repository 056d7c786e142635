"""An interrupt of a run whose cluster has servers (authz-webhook: the JWT issuer and the
webhook authorizer), met at three points: while the servers run and the node is not made
yet, while `kind create cluster` makes the node, and during a scenario. Each time nothing of
the run is left: no cluster, no process naming it, the servers' ports closed.

A team's lifecycle step right after ``servers`` notes where the servers listen (and, for the
first point, waits there); a team's scenario waits for the third. The signal is SIGINT, as
Ctrl-C sends it (tests/e2e/test_step_failure.py meets a team's step the same way).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time

import pytest

from authprobe.wait import until

from .conftest import VERSION, created, leftovers

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

# Where the interrupt meets the run: the line that says it is there.
POINTS = {
    "servers": r"(authprobe-authz-webhook-\S+): step note-servers: the servers listen",
    "create": r"creating cluster (authprobe-authz-webhook-\S+) ",
    "scenario": r"(authprobe-authz-webhook-\S+): the team's scenario waits",
}


def closed(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupt_leaves_no_server_and_no_cluster(tmp_path, run_child, point):
    (tmp_path / "conftest.py").write_text(TEAM_STEP.format(pause=point == "servers"))
    (tmp_path / "test_team_pause.py").write_text(TEAM_SCENARIO)
    child = run_child("--pyargs", "authprobe.scenarios", str(tmp_path), "--k8s-version",
                      VERSION, "--profile", "authz-webhook", "-k", "team_pause", wait=False)
    there = re.compile(POINTS[point])
    met = until(lambda: next((m for _, text in child.lines for m in [there.search(text)] if m),
                             None),
                timeout=1500, interval=0.5, what=f"the run to reach the point '{point}'")
    assert child.proc.poll() is None, child.tail()
    noted = json.loads((tmp_path / "servers.json").read_text())
    name = met.group(1)
    assert noted["cluster"] == name, (noted, met.group(0))
    assert len(noted["listening"]) == 2 and not any(closed(*a) for a in noted["listening"])
    signalled = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    code = child.wait(timeout=600)
    print(f"SIGINT at '{point}': exit {code}, {time.monotonic() - signalled:.0f}s after the "
          f"signal, cluster {name}, servers {noted['listening']}")
    assert code != 0, child.tail()
    assert "INTERNALERROR" not in child.output, child.tail()
    said = [text for _, text in child.lines if "SIGINT received" in text]
    assert len(said) == 1, child.tail()
    assert created(child) == ([] if point == "servers" else [name]), child.tail()
    assert all(closed(host, port) for host, port in noted["listening"]), noted
    left = leftovers([name])
    assert not any(left.values()), left
