"""The diff on edited copies of the recorded sweep, judged by the shipped rows: a cell that
took another of its row's alternatives is a switch, named and counted (exit 0, or 1 with
--fail-on-switch); a timing that moved by more than its relative tolerance is listed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from authprobe.cli import main
from authprobe.commands.diff import of_version, with_rows
from authprobe.report import changes as adjacent_changes
from authprobe.report import diff
from authprobe.report.document import load

SWEEP = Path(__file__).resolve().parent / "data" / "outcomes-sweep-1.19-1.37.json"
ROWS = ["scenarios/expectations.yaml"]
PAIRS = [("1.19.16", "1.30.14"), ("1.30.14", "1.31.4"), ("1.31.4", "1.32.9"),
         ("1.32.9", "1.33.13"), ("1.33.13", "1.34.12"), ("1.34.12", "1.35.8"),
         ("1.35.8", "1.36.5"), ("1.36.5", "1.37.2")]
# Changed cells per adjacent pair of the recorded sweep, every one expected (before and
# after rows could list alternatives), but for admin_dashboard_after_binding of jwt-authn and
# authz-webhook, n/a on 1.19.16 and skipped on 1.30.14: the run that recorded their cells
# had node images without a Dashboard source (a regression: the skip hides what it checks).
CHANGED = [95, 26, 17, 23, 10, 8, 28, 0]
NO_DASHBOARD = {("1.19.16", "1.30.14"): {("jwt-authn", "admin_dashboard_after_binding"),
                                         ("authz-webhook", "admin_dashboard_after_binding")}}


def sweep() -> dict:
    return json.loads(SWEEP.read_text())


def restart_cell(data: dict, version: str) -> dict:
    (cell,) = [c for c in data["cells"] if c["profile"] == "anon-off"
               and c["scenario"] == "apiserver_restarts" and c["version"] == version]
    return cell


def compared(data: dict, old: str, new: str):
    """The diff of two versions of a sweep document, judged by the shipped rows."""
    run = with_rows(adjacent_changes.outcomes(data), ROWS)
    return diff.compare(of_version(run, old), of_version(run, new))


def anon_off(changes: list[diff.Change]) -> diff.Change:
    (change,) = [c for c in changes if c.profile == "anon-off"
                 and c.scenario == "apiserver_restarts"]
    return change


def startup_kill_on_1_37() -> dict:
    """The sweep with anon-off on 1.37.2 killed by the startup probe, restart seen at 300 s
    (a patch release carrying kubernetes#141342's backports), 1.36.5 still liveness."""
    data = sweep()
    cell = restart_cell(data, "1.37.2")
    cell["observed"].update(killed_by="startup", first_restart_at=300.0)
    return data


def test_the_unedited_sweep_changes_only_as_its_rows_say():
    data = sweep()
    found = []
    cells = {(c["profile"], c["scenario"]) for c in data["cells"]}
    for old, new in PAIRS:
        changes, _, count = compared(data, old, new)
        assert count == len(cells)
        assert {(c.profile, c.scenario) for c in changes
                if c.kind != diff.EXPECTED} == NO_DASHBOARD.get((old, new), set())
        assert all(c.kind == diff.REGRESSION and c.new.outcome == "skipped" for c in changes
                   if (c.profile, c.scenario) in NO_DASHBOARD.get((old, new), set()))
        assert not any(c.switched for c in changes)
        found.append(len(changes))
    assert found == CHANGED
    one = anon_off(compared(data, "1.34.12", "1.35.8")[0])
    assert one.alternatives == (None, "liveness-kill")  # no alternatives on 1.34: no switch
    assert one.kind == diff.EXPECTED


def test_a_switch_to_the_startup_kill_is_named_and_counted():
    data = startup_kill_on_1_37()
    changes, _, count = compared(data, "1.36.5", "1.37.2")
    change = anon_off(changes)
    assert change.kind == diff.SWITCHED
    assert change.alternatives == ("liveness-kill", "startup-kill")
    assert set(change.fields) == {"killed_by", "first_restart_at"}
    assert set(change.judged.values()) == {diff.ALLOWED}  # each field predicted by its row
    assert [c for c in changes if c is not change] == []
    assert not diff.failed(changes)
    assert diff.failed(changes, fail_on_switch=True)
    assert diff.summary_line(changes, count) == (
        "No regression, 1 switch of alternatives (anon-off apiserver_restarts: liveness-kill "
        f"→ startup-kill): 1 of {count} compared cells changed (1 switched).")
    assert diff.field_changes(change)[0] == (
        "alternative", "liveness-kill", "startup-kill", diff.SWITCH_WORDS)


def last_pair(data: dict) -> dict:
    """The sweep's 1.36.5 and 1.37.2 only, without the pair whose Dashboard cells could not
    run (NO_DASHBOARD), so the exit status is that of the switch alone."""
    data["cells"] = [c for c in data["cells"] if c["version"] in PAIRS[-1]]
    return data


def test_a_switch_exits_0_and_1_with_fail_on_switch(tmp_path, capsys):
    path = tmp_path / "outcomes.json"
    path.write_text(json.dumps(last_pair(startup_kill_on_1_37())))
    args = ["diff", "--adjacent", "--rows", *ROWS, str(path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("| switched |") == 1
    line = next(x for x in out.splitlines() if x.startswith("| switched |"))
    assert line.startswith("| switched | anon-off | apiserver_restarts | 1.36.5 → 1.37.2 |")
    assert "(alternative `liveness-kill`) |" in line and "(alternative `startup-kill`) |" in line
    assert ("alternative `liveness-kill` → `startup-kill` (a switch between the row's "
            "alternatives)") in line
    assert "killed_by `liveness` → `startup` (its row allows it)" in line
    assert "No regression, 1 switch of alternatives" in out
    assert main([*args, "--fail-on-switch"]) == 1
    out = capsys.readouterr().out
    assert "| **switched** | anon-off | apiserver_restarts |" in out
    assert "**1 switch of alternatives (anon-off" in out
    assert "(fails with --fail-on-switch)" in out


def test_a_switch_in_two_runs_of_one_version_is_named_too(tmp_path, capsys):
    """A nightly: last night's 1.37.2 was killed by the liveness probe, tonight's by the
    startup probe; the rows the runs recorded are read (no --rows)."""
    old, new = sweep(), startup_kill_on_1_37()
    rows = with_rows(adjacent_changes.outcomes(sweep()), ROWS)
    for data in (old, new):
        restart_cell(data, "1.37.2")["expected"] = next(
            c.expected for c in rows.cells if c.profile == "anon-off"
            and c.scenario == "apiserver_restarts" and c.version == "1.37.2")
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "outcomes.json").write_text(json.dumps(old))
    (tmp_path / "new" / "outcomes.json").write_text(json.dumps(new))
    args = ["diff", str(tmp_path / "old"), str(tmp_path / "new")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| switched | anon-off | apiserver_restarts | 1.37.2 |" in out
    assert main([*args, "--fail-on-switch"]) == 1


def test_a_liveness_kill_moved_from_141_to_199_s_is_listed():
    data = sweep()
    assert restart_cell(data, "1.37.2")["observed"]["first_restart_at"] == 141.1
    restart_cell(data, "1.37.2")["observed"]["first_restart_at"] = 199.0
    changes, _, _ = compared(data, "1.36.5", "1.37.2")
    change = anon_off(changes)
    assert change.fields == ["first_restart_at"]
    # past the liveness kill's range (80-175 s) and not the startup kill's: no row predicts it
    assert change.alternatives == ("liveness-kill", None)
    assert change.judged == {"first_restart_at": diff.UNPREDICTED}
    assert change.kind == diff.REGRESSION
    assert diff.failed(changes)


def test_a_liveness_kill_moved_within_its_range_is_listed_as_changed():
    """The same move between two runs whose rows allow it (a team's wider range): the
    relative tolerance lists it, as a change its row allows."""
    data = sweep()
    run = with_rows(adjacent_changes.outcomes(data), ROWS)
    wider = []
    for cell in run.cells:
        if cell.profile == "anon-off" and cell.scenario == "apiserver_restarts":
            cell = copy.deepcopy(cell)
            for alternative in cell.expected.get("alternatives") or ():
                if alternative["name"] == "liveness-kill":
                    alternative["first_restart_at"] = [80, 240]
            if cell.version == "1.37.2":
                cell.observed["first_restart_at"] = 199.0
        wider.append(cell)
    run.cells[:] = wider
    changes, _, _ = diff.compare(of_version(run, "1.36.5"), of_version(run, "1.37.2"))
    change = anon_off(changes)
    assert change.fields == ["first_restart_at"]
    assert change.alternatives == ("liveness-kill", "liveness-kill")
    assert change.kind == diff.CHANGED


@pytest.mark.parametrize("recorded", [True, False])
def test_the_alternative_recorded_by_the_run_is_the_one_read(recorded):
    """A run records the alternative each cell took; a report without it (an older
    authprobe's) is read by which alternative's fields hold."""
    data = startup_kill_on_1_37()
    run = with_rows(adjacent_changes.outcomes(data), ROWS)
    cells = []
    for cell in run.cells:
        if recorded and cell.profile == "anon-off" and cell.scenario == "apiserver_restarts":
            cell = copy.copy(cell)
            cell.alternative = {"1.36.5": "liveness-kill", "1.37.2": "startup-kill"}.get(
                cell.version)
        cells.append(cell)
    run.cells[:] = cells
    changes, _, _ = diff.compare(of_version(run, "1.36.5"), of_version(run, "1.37.2"))
    assert anon_off(changes).alternatives == ("liveness-kill", "startup-kill")


def test_the_report_page_names_a_switch_in_its_pair():
    pairs = adjacent_changes.adjacent(json.loads(json.dumps(
        {**startup_kill_on_1_37(), "cells": [c.to_dict() for c in with_rows(
            adjacent_changes.outcomes(startup_kill_on_1_37()), ROWS).cells]})))
    last = pairs[-1]
    assert (last.old, last.new) == ("1.36.5", "1.37.2")
    assert "1 switch of alternatives" in last.summary
    (item,) = [i for g in last.groups for i in g.items]
    assert item.kind == diff.SWITCHED
    assert item.what[0] == ("alternative", "liveness-kill", "startup-kill", diff.SWITCH_WORDS)


def test_a_report_without_alternatives_loads_as_before():
    run = load(SWEEP)
    assert all(c.alternative is None for c in run.cells)
