"""Restart causes decided again from what real runs recorded: the kubelet's Killing events,
its journal, the runtime's record of each container and the restart series of a cell.

- `restart-causes-1.34.json`: anon-off, anon-on and anon-off-probe-8080 (never up) on
  1.34.12, as they run.
- `restart-exit-1.34.json`: anon-off on 1.34.12 whose kube-apiserver was sent two
  SIGTERMs inside the node once the cluster was made (tests/e2e/test_restart_exit.py): it
  exited 1 between 401 probes, with no kill by the kubelet.
- `outcomes-sweep-1.19-1.37.json`: the sweep; on 1.30.14 and 1.31.4 the kubelet posted no
  Killing event for anon-off's kills (client-go up to v0.31 counts an object's Warning and
  Normal events against one budget, kubernetes/kubernetes#124747), so its journal is the
  record of each kill.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from authprobe.model.restarts import (
    ContainerRun,
    Evidence,
    Failure,
    KillEvent,
    KillLine,
    killed_by,
    restarts_in,
    window_cause,
)
from authprobe.model.series import Sample

DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def restart_cell(document: dict, profile: str, version: str | None = None) -> dict:
    (cell,) = [c for c in document["cells"]
               if c["profile"] == profile and c["scenario"] == "apiserver_restarts"
               and version in (None, c["version"])]
    return cell


def recorded_evidence(document: dict, cell: dict) -> Evidence:
    """The model's input, rebuilt from the cell's evidence and its cluster's records."""
    ev = cell["evidence"]
    (cluster,) = [c for c in document["clusters"] if c["name"] == cell["cluster"]]
    (series,) = [s for s in document["restart_series"] if s["cluster"] == cell["cluster"]]
    return Evidence(
        window=cell["observed"]["window"],
        series=[Sample.from_dict(s) for s in series["samples"]],
        containers=[ContainerRun(r["container"], r["attempt"], r["started_at"], r["ended_at"],
                                 r["exit_code"], r["reason"], r["last_line"])
                    for r in ev["restarts"] if r["container"]],
        events=[KillEvent(**e) for e in ev["kill_events"]], events_read=ev["events_read"],
        kill_lines=[KillLine(**k) for k in ev["kubelet_unhealthy"]],
        failures=[Failure(f["t"], f["probe"].lower(), f["status"])
                  for f in ev["kubelet_probe_failures"]],
        spec=cluster["probes"])


def test_a_container_that_exits_1_between_401_probes_is_an_exit_not_probe_401():
    document = load("restart-exit-1.34.json")
    cell = restart_cell(document, "anon-off")
    evidence = recorded_evidence(document, cell)
    restarts = restarts_in(evidence)
    first = restarts[0]
    assert (first.cause, first.container.exit_code, first.killed_by) == ("exit", 1, None)
    assert window_cause(restarts) == "exit" and killed_by(restarts) is None
    # Every probe of it got 401, as in the story: the statuses alone would say probe-401.
    before = [f.status for f in evidence.failures
              if f.probe == "startup" and f.t <= first.container.finished]
    assert before and Counter(before).most_common(1)[0][0] == 401
    assert evidence.events_read and not [e for e in evidence.events
                                         if e.first is not None
                                         and e.first <= first.container.finished + 5]
    assert cell["outcome"] == "fail" and cell["observed"]["restart_cause"] == "exit"


def test_the_storys_restart_is_the_startup_probes_kill_answered_401():
    document = load("restart-causes-1.34.json")
    cell = restart_cell(document, "anon-off")
    restarts = restarts_in(recorded_evidence(document, cell))
    first = restarts[0]
    assert (first.cause, first.killed_by, first.answer) == ("probe-401", "startup", 401)
    assert first.kill_at - first.container.started >= 240
    assert first.kill_at <= first.container.finished <= first.kill_at + 35
    assert [r.to_dict() for r in restarts] == cell["evidence"]["restarts"]
    assert cell["observed"]["killed_by"] == "startup"


@pytest.mark.parametrize("profile", ["anon-on"])
def test_a_flat_series_has_no_restart(profile):
    document = load("restart-causes-1.34.json")
    cell = restart_cell(document, profile)
    assert restarts_in(recorded_evidence(document, cell)) == []
    assert cell["observed"]["restart_cause"] == "none"


def test_a_control_plane_that_never_comes_up_exits_with_no_kill_to_read():
    # No API ever answered, so no event: its containers lived under a second, far too short
    # for any probe to have failed enough to kill.
    document = load("restart-causes-1.34.json")
    cell = restart_cell(document, "anon-off-probe-8080")
    (cluster,) = [c for c in document["clusters"] if c["name"] == cell["cluster"]]
    runs = [ContainerRun(r["container"], r["attempt"], r["started_at"], r["ended_at"],
                         r["exit_code"], r["reason"], r["last_line"])
            for r in cell["evidence"]["restarts"]]
    restarts = restarts_in(Evidence(window=float("inf"), series=[], containers=runs,
                                    events=[], events_read=False, kill_lines=[], failures=[],
                                    spec=cluster["probes"]))
    assert runs and [r.cause for r in restarts] == ["exit"] * len(runs)
    assert {r.container.exit_code for r in restarts} == {1}
    assert "unknown flag: --insecure" in restarts[-1].container.last_line
    assert cell["observed"]["restart_cause"] == "exit"


@pytest.mark.parametrize("version", ["1.30.14", "1.31.4"])
def test_a_kill_the_kubelet_posted_no_event_for_is_read_from_its_journal(version):
    document = load("outcomes-sweep-1.19-1.37.json")
    cell = restart_cell(document, "anon-off", version)
    evidence = recorded_evidence(document, cell)
    first = restarts_in(evidence)[0]
    assert (first.cause, first.killed_by, first.answer) == ("probe-401", "startup", 401)
    assert "no Killing event was read" in first.why
    assert evidence.events_read and not [e for e in evidence.events if e.probe == "startup"]
    assert [k for k in evidence.kill_lines if k.probe == "startup" and k.t == first.kill_at]
    assert first.kill_at <= first.container.finished <= first.kill_at + 35
    assert cell["outcome"] == "expected-failure"
    assert cell["observed"]["restart_cause"] == "probe-401"


RECORDED = [(name, cell["profile"], cell["version"])
            for name in ("restart-causes-1.34.json", "restart-exit-1.34.json",
                         "outcomes-sweep-1.19-1.37.json")
            for cell in load(name)["cells"]
            if cell["scenario"] == "apiserver_restarts" and "window" in cell["observed"]
            and any(r["container"] for r in cell["evidence"].get("restarts", ()))]


@pytest.mark.parametrize(("name", "profile", "version"), RECORDED)
def test_every_recorded_restart_reads_with_the_cause_it_was_given(name, profile, version):
    # Every restart recorded in a window: each kill (the sweep's, the story's) came after
    # failures all answered 401, so the cause a kill is named by (one outcome making nine
    # tenths of its failures) keeps each one's class and words; an exit stays an exit.
    document = load(name)
    cell = restart_cell(document, profile, version)
    recorded = [r for r in cell["evidence"]["restarts"] if r["container"]]
    restarts = restarts_in(recorded_evidence(document, cell))
    assert [(r.cause, r.why) for r in restarts] == [(r["cause"], r["why"]) for r in recorded]
    for restart in restarts:
        if restart.killed_by:
            assert {f.status for f in restart.failures} == {restart.answer}
