"""``authprobe rows record`` and ``authprobe rows accept``: a team's rows recorded from a real
run (tests/unit/data/outcomes-1.34.json, the profiles anon-off and anon-off-probe-8080 renamed
as a team's, their cells as a run with no rows for them records them), then a later minor's
changes accepted. Every row recorded predicts what its cell saw, as the plugin judges it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from outcome_files import run_folder

from authprobe.cli import main
from authprobe.model import predictions
from authprobe.model.expectations import load_files, recorded_from, with_alternative
from authprobe.model.observations import shipped
from authprobe.model.outcome import EXPECTED_FAILURE, FAIL, NA, NOT_JUDGED, PASS
from authprobe.model.versions import KubeVersion
from authprobe.paths import scenarios_dir

DATA = Path(__file__).parent / "data"
RUN = "20261201T233221Z-k8s1.34"
TEAM = {"anon-off": "team-off", "anon-off-probe-8080": "team-8080"}


def team_run(tmp_path: Path, name: str = "run", edit=None) -> Path:
    """The recorded 1.34.12 run with two profiles as a team's, none of their cells judged."""
    doc = json.loads((DATA / "outcomes-1.34.json").read_text())
    cells = []
    for cell in doc["cells"]:
        if cell["profile"] not in TEAM:
            continue
        cell["profile"] = TEAM[cell["profile"]]
        if cell["outcome"] in (PASS, EXPECTED_FAILURE):
            cell["outcome"], cell["expected"] = NOT_JUDGED, {}
        cells.append(cell)
    doc["cells"] = cells
    if edit:
        edit(doc)
    return run_folder(tmp_path, name, doc)


# anonymous requests let in and refused by RBAC where they were refused before
TO_403 = {"status": 403, "audit_code": 403, "audit_decision": "forbid"}


def rows_cli(*args) -> int:
    return main(["rows", *map(str, args)])


def recorded_rows(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["recorded"]


def test_every_seen_cell_gets_a_row_marked_with_its_run_that_predicts_what_it_saw(tmp_path,
                                                                                  capsys):
    report = team_run(tmp_path)
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", report, "--into", into) == 0
    out = capsys.readouterr().out
    cells = json.loads((report / "outcomes.json").read_text())["cells"]
    judged = [c for c in cells if c["outcome"] == NOT_JUDGED]
    assert len(judged) == 12
    rows = recorded_rows(into)
    table = load_files([scenarios_dir() / "expectations.yaml", into])
    declarations = shipped()
    for cell in judged:
        found = rows[cell["scenario"]][cell["profile"]]
        assert found[0]["since"] == "1.34"
        assert found[0]["recorded"] == {"run": RUN, "version": "1.34.12"}
        row = table.lookup(cell["profile"], cell["scenario"], KubeVersion.parse("1.34.12"))
        assert recorded_from(row.values) == {"run": RUN, "version": "1.34.12"}
        assert predictions.disagreements(declarations, row.values, cell["observed"]) == []
        assert predictions.unrecorded(declarations, row.values, cell["observed"]) == []
    restarts = rows["apiserver_restarts"]["team-off"][0]
    assert restarts["restart_shape"] == "climbs" and row_is_a_range(restarts)
    assert rows["control_plane_comes_up"]["team-8080"][0]["comes_up"] is False
    skipped = [c for c in cells if c["outcome"] == "skipped"]
    assert skipped and all(f"{c['scenario']}.{c['profile']} {c['version']}: skipped"
                           in out for c in skipped)
    assert "12 rows written" in out
    assert [c for c in cells if c["outcome"] == NA]  # n/a cells give no row
    assert all(c["profile"] not in rows.get(c["scenario"], {})
               for c in cells if c["outcome"] == NA)


def row_is_a_range(row: dict) -> bool:
    low, high = row["first_restart_at"]
    return low < high


def test_recording_again_writes_the_same_file(tmp_path):
    report = team_run(tmp_path)
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", report, "--into", into) == 0
    first = into.read_text()
    assert rows_cli("record", team_run(tmp_path, "again"), "--into", into) == 0
    assert into.read_text() == first


def judged_by(rows_file: Path, version: str, change: dict, outcome: str = FAIL):
    """An edit of the run: every team cell judged by the recorded rows, on ``version``; the
    anonymous_get_root cell of team-off saw ``change`` and fails."""
    rows = recorded_rows(rows_file)
    minor = version.rsplit(".", 1)[0]

    def edit(doc):
        for cell in doc["cells"]:
            if cell["outcome"] != NOT_JUDGED:
                continue
            row = rows[cell["scenario"]][cell["profile"]][0]
            cell["expected"] = {"profile": cell["profile"], "scenario": cell["scenario"], **row}
            cell["outcome"] = (EXPECTED_FAILURE if cell["scenario"] in (
                "apiserver_restarts", "control_plane_comes_up") else PASS)
            cell["version"], cell["minor"] = version, minor
            if cell["scenario"] == "anonymous_get_root" and cell["profile"] == "team-off":
                cell["observed"].update(change)
                cell["outcome"] = outcome
        for cell in doc["cells"]:
            cell["version"], cell["minor"] = version, minor
        doc["run"]["id"] = f"later-{minor}"
    return edit


def test_a_changed_row_on_the_same_minor_is_shown_and_written_only_with_update(tmp_path,
                                                                              capsys):
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", team_run(tmp_path), "--into", into) == 0
    before = into.read_text()
    capsys.readouterr()
    later = team_run(tmp_path, "later", judged_by(into, "1.34.12", TO_403))
    assert rows_cli("record", later, "--into", into) == 1
    out = capsys.readouterr().out
    assert "CHANGED anonymous_get_root.team-off 1.34.12: the row since 1.34: status 401 → 403" \
        in out
    assert "nothing written" in out and "--update" in out
    assert into.read_text() == before
    assert rows_cli("record", later, "--into", into, "--update") == 0
    row = recorded_rows(into)["anonymous_get_root"]["team-off"]
    assert len(row) == 1 and row[0]["status"] == 403
    assert row[0]["recorded"]["run"] == "later-1.34"


def test_accept_adds_a_row_for_the_later_minor_and_keeps_the_baseline(tmp_path, capsys):
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", team_run(tmp_path), "--into", into) == 0
    capsys.readouterr()
    later = team_run(tmp_path, "later", judged_by(into, "1.35.8", TO_403))
    # record leaves the later minor's change to accept, and writes nothing for it
    assert rows_cli("record", later, "--into", into) == 0
    assert "authprobe rows accept adds a row for 1.35" in capsys.readouterr().out
    assert rows_cli("accept", later, "--into", into) == 0
    out = capsys.readouterr().out
    assert "accepted: anonymous_get_root.team-off 1.35.8: since 1.35: status 403" in out
    rows = recorded_rows(into)["anonymous_get_root"]["team-off"]
    assert [r["since"] for r in rows] == ["1.34", "1.35"]
    assert rows[0]["status"] == 401 and rows[1]["status"] == 403
    assert rows[1]["recorded"] == {"run": "later-1.35", "version": "1.35.8"}
    table = load_files([scenarios_dir() / "expectations.yaml", into])
    assert table.lookup("team-off", "anonymous_get_root",
                        KubeVersion.parse("1.36.5")).values["status"] == 403
    # accepting the same report again finds nothing left to accept
    assert rows_cli("accept", later, "--into", into) == 0
    assert "0 rows written" in capsys.readouterr().out


def test_accept_refuses_a_change_on_the_minor_the_row_was_recorded_on(tmp_path, capsys):
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", team_run(tmp_path), "--into", into) == 0
    before = into.read_text()
    later = team_run(tmp_path, "later", judged_by(into, "1.34.12", TO_403))
    capsys.readouterr()
    assert rows_cli("accept", later, "--into", into) == 0
    assert "authprobe rows record --update records it again" in capsys.readouterr().out
    assert into.read_text() == before


def _first_row(rows: dict) -> dict:
    return rows["anonymous_get_root"]["team-off"][0]


@pytest.mark.parametrize("edit, line", [
    (lambda rows: _first_row(rows).pop("recorded"),
     "a recorded row needs recorded: {run: <run id>, version: <patch>}"),
    (lambda rows: _first_row(rows).update(stauts=401),
     "unknown field(s) stauts"),
    (lambda rows: _first_row(rows)["recorded"].update(version="1.34"),
     "recorded.version '1.34' must be a patch release"),
    (lambda rows: _first_row(rows).update(since="one"),
     "anonymous_get_root.team-off"),
    (lambda rows: _first_row(rows).update(since="1.33"),
     "a row recorded on 1.34.12 starts at 1.34, not 1.33"),
    (lambda rows: _first_row(rows)["recorded"].update(version="1.35.8"),
     "a row recorded on 1.35.8 starts at 1.35, not 1.34"),
    (lambda rows: rows["anonymous_get_root"]["team-off"].append(_first_row(rows)),
     "rows must be in increasing 'since' order without repeats"),
    (lambda rows: rows["anonymous_get_root"].update({"team-off": {"since": "1.34"}}),
     "recorded.anonymous_get_root.team-off: must be a non-empty list of rows"),
    (lambda rows: rows["anonymous_get_root"].update({"team-off": ["status: 401"]}),
     "each row is a mapping with a 'since' version"),
    (lambda rows: rows["apiserver_restarts"]["team-off"][0].update(first_restart_at="soon"),
     "first_restart_at must be a range [low, high] of seconds"),
])
def test_a_rows_file_edited_into_an_invalid_state_is_one_line_and_nothing_written(
        tmp_path, capsys, edit, line):
    into = tmp_path / "recorded.yaml"
    report = team_run(tmp_path)
    assert rows_cli("record", report, "--into", into) == 0
    data = yaml.safe_load(into.read_text())
    edit(data["recorded"])
    into.write_text(yaml.safe_dump(data))
    before = into.read_text()
    capsys.readouterr()
    for action in (["record", "--update"], ["accept"]):
        assert rows_cli(action[0], report, "--into", into, *action[1:]) == 2
        captured = capsys.readouterr()
        err = captured.err
        assert line in err and err.count("\n") == 1 and "Traceback" not in err
        assert captured.out == ""
        assert into.read_text() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["recorded.yaml", "run"]
    # the run's loader says the same
    with pytest.raises(Exception, match="malformed expectation file"):
        load_files([into])


@pytest.mark.parametrize("text, line", [
    ("recorded:\n  anonymous_get_root: [\n", "is not valid YAML at line 3"),
    ("recorded: []\n", "at recorded: must map scenario names to profiles"),
    ("recorded: {}\nscenarios: {}\n", "the top level must be a mapping"),
    ("", "is not a file of recorded rows (no top-level 'recorded:')"),
])
def test_a_rows_file_that_is_not_rows_is_one_line_and_nothing_written(tmp_path, capsys, text,
                                                                        line):
    into = tmp_path / "recorded.yaml"
    into.write_text(text)
    report = team_run(tmp_path)
    assert rows_cli("record", report, "--into", into) == 2
    err = capsys.readouterr().err
    assert line in err and err.count("\n") == 1 and "Traceback" not in err
    assert into.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recorded.yaml", "run"]


def test_a_row_from_facts_may_not_be_marked_recorded_nor_a_recorded_file_hold_scenarios(
        tmp_path):
    facts = tmp_path / "facts.yaml"
    facts.write_text("scenarios:\n  anonymous_get_root:\n    team-off:\n"
                     "      - since: '1.34'\n        status: 401\n"
                     "        recorded: {run: r, version: 1.34.12}\n")
    with pytest.raises(Exception, match="belongs in a file of recorded rows"):
        load_files([facts])


def test_bad_input_is_one_line(tmp_path, capsys):
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", tmp_path / "nope", "--into", into) == 2
    assert "no such report folder" in capsys.readouterr().err
    shipped_only = DATA / "outcomes-1.34.json"
    assert rows_cli("record", shipped_only, "--into", into) == 2
    assert "name the ones to record with --profile" in capsys.readouterr().err
    assert rows_cli("record", shipped_only, "--into", into, "--profile", "nope") == 2
    assert "profile 'nope' has no cell in the report" in capsys.readouterr().err
    into.write_text("scenarios: {}\n")
    assert rows_cli("record", team_run(tmp_path), "--into", into) == 2
    assert "is not a file of recorded rows" in capsys.readouterr().err
    assert not (tmp_path / "recorded.yaml").read_text().startswith("#")


def test_a_row_for_each_declared_match(tmp_path):
    from authprobe.model.outcome import CellRecord
    from authprobe.team.recorded import row_fields

    cell = CellRecord("team-off", "x", "1.34", "1.34.12", NOT_JUDGED, observed={
        "status": 403, "message": "forbidden: no", "audit_groups": ["a", "b"],
        "www_authenticate": None, "first_restart_at": 150.0, "path": "/"})
    row = row_fields(cell, shipped())
    assert row["status"] == 403 and row["message"] == "forbidden: no"
    assert row["audit_group"] == "a" and row["www_authenticate"] is False
    assert row["first_restart_at"] == [120.0, 180.0]  # 150 give or take a fifth
    assert "path" not in row  # no row field predicts it
    assert predictions.disagreements(shipped(), with_alternative(row, None),
                                     cell.observed) == []
    assert copy.deepcopy(row) == row


def test_the_diff_classes_a_cell_no_row_judged_and_names_the_recorded_rows(tmp_path, capsys):
    """Against the recorded run: a cell no row judges in NEW is `not judged` (the diff does not
    fail on it); a cell judged by a recorded row that changed says which row judged it."""
    old = json.loads((DATA / "outcomes-1.34.json").read_text())
    new = copy.deepcopy(old)
    mark = {"run": "baseline-1.34", "version": "1.34.12"}
    for cell in new["cells"]:
        if cell["profile"] == "anon-on" and cell["scenario"] == "anonymous_get_livez":
            cell.update(outcome=NOT_JUDGED, expected={}, message="not judged: no row")
        if cell["profile"] == "anon-on" and cell["scenario"] == "anonymous_get_root":
            cell["expected"]["recorded"] = mark
            cell["observed"]["status"] = 401
            cell.update(outcome=FAIL, message="not accepted: a change from the row recorded")
    paths = []
    for name, doc in (("old", old), ("new", new)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "outcomes.json").write_text(json.dumps(doc))
        paths.append(str(tmp_path / name))
    assert main(["diff", *paths]) == 1
    out = capsys.readouterr().out
    line = next(li for li in out.splitlines() if "anonymous_get_livez" in li)
    assert line.startswith("| not judged | anon-on |")
    root = next(li for li in out.splitlines() if "| anonymous_get_root |" in li)
    assert root.startswith("| **regression** |")
    assert "(recorded row: run `baseline-1.34`, 1.34.12)" in root
    assert "1 of the listed cells judged by recorded rows" in out
    assert "1 not judged" in out


def test_a_cell_a_row_from_facts_judged_is_left_to_that_row(tmp_path, capsys):
    """The real run of a team profile (team-sample) whose one scenario the team's own fact
    rows judged: recording writes nothing for it and says why."""
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", DATA / "team-run-1.34.json", "--into", into) == 0
    out = capsys.readouterr().out
    assert ("kept: anonymous_get_livez.team-sample 1.34.12: judged by a row from facts"
            in out)
    assert "0 rows written" in out and not into.exists()


def test_an_upgrade_run_records_the_scenarios_that_run_only_after_an_upgrade(tmp_path,
                                                                              capsys):
    """The cells of the real upgrade 1.33.13 -> 1.34.12 of a team's profile: a scenario
    that runs only on the upgraded cluster gets its row from it; one that also ran on a
    cluster not upgraded is left to accept."""
    doc = json.loads((DATA / "upgrade-1.33-1.34.json").read_text())
    cells = [cell for cell in doc["cells"] if cell["profile"] == "hand-flags"]
    for cell in cells:
        cell["outcome"], cell["expected"] = NOT_JUDGED, {}
    (reached,) = [cell for cell in cells if cell["scenario"] == "kubelet_reached_after_upgrade"]
    before = json.loads(json.dumps(reached))
    before.update(upgraded_from=None, version="1.33.13", minor="1.33")
    doc["cells"] = [*cells, before]
    folder = run_folder(tmp_path, "up", doc)
    into = tmp_path / "recorded.yaml"
    assert rows_cli("record", folder, "--into", into) == 0
    rows = recorded_rows(into)
    assert [row["since"] for row in rows["profile_kept_after_upgrade"]["hand-flags"]] == ["1.34"]
    assert [row["since"] for row in rows["apiserver_replaced_by_kubelet_restart"][
        "hand-flags"]] == ["1.34"]
    assert [row["since"] for row in rows["kubelet_reached_after_upgrade"]["hand-flags"]] == [
        "1.33"]
    out = capsys.readouterr().out
    assert ("kept: kubelet_reached_after_upgrade.hand-flags 1.34.12: a cell of an upgraded "
            "cluster") in out
