"""``authprobe diff`` on recorded outcome files and on edited copies of them."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pytest

from authprobe.cli import main
from authprobe.report import diff, outcomes

DATA = Path(__file__).parent / "data"
OLD = DATA / "outcomes-1.34.json"
NEW = DATA / "outcomes-1.36.json"


def write(tmp_path: Path, name: str, data: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "outcomes.json").write_text(json.dumps(data))
    return folder


def run_diff(old, new, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    diff.add_arguments(parser)
    status = diff.run(parser.parse_args([str(old), str(new)]))
    return status, capsys.readouterr().out


def first_cell(data: dict, outcome: str, with_field: str) -> dict:
    return next(c for c in data["cells"]
                if c["outcome"] == outcome and with_field in c["observed"])


def test_a_run_against_itself_changes_nothing(capsys):
    status, out = run_diff(NEW, NEW, capsys)
    assert status == 0
    assert "No regression: 0 of" in out
    assert "| class |" not in out


def test_upgrade_pairs_each_version_with_the_nearest_lower():
    assert diff.pair_versions(["1.34.12"], ["1.36.4"]) == {"1.36.4": "1.34.12"}
    assert diff.pair_versions(["1.34.12", "1.36.4"], ["1.34.12", "1.36.4"]) == {
        "1.34.12": "1.34.12", "1.36.4": "1.36.4"}
    assert diff.pair_versions(["1.33.1", "1.34.12"], ["1.36.4"]) == {"1.36.4": "1.34.12"}
    assert diff.pair_versions(["1.36.4"], ["1.34.12"]) == {"1.34.12": "1.36.4"}
    assert diff.pair_versions([], ["1.34.12"]) == {"1.34.12": None}


def test_recorded_upgrade_lists_only_real_changes(capsys):
    old, new = outcomes.load(OLD), outcomes.load(NEW)
    changes, pairs = diff.compare(old, new)
    status, out = run_diff(OLD, NEW, capsys)
    assert status == (1 if any(c.kind == diff.REGRESSION for c in changes) else 0)
    assert "Kubernetes versions compared: " in out
    for new_version, old_version in pairs.items():
        assert old_version is not None
        assert outcomes.version_key(old_version) <= outcomes.version_key(new_version)
    for change in changes:
        if change.old and change.new:
            assert diff.changed_fields(change.old, change.new) == change.fields


def test_a_changed_status_with_the_same_expectation_is_a_regression(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    changed = copy.deepcopy(data)
    cell = first_cell(changed, "pass", "status")
    cell["observed"]["status"] = 418
    status, out = run_diff(write(tmp_path, "old", data), write(tmp_path, "new", changed), capsys)
    assert status == 1
    assert "**1 regression**" in out
    row = next(line for line in out.splitlines() if line.startswith("| **regression**"))
    assert f"| {cell['profile']} | {cell['scenario']} |" in row
    assert "→ `418`" in row


def test_a_change_the_expectations_announce_is_expected(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    changed = copy.deepcopy(data)
    cell = first_cell(changed, "pass", "status")
    cell["observed"]["status"] = 404
    cell["expected"]["status"] = 404
    status, out = run_diff(write(tmp_path, "old", data), write(tmp_path, "new", changed), capsys)
    assert status == 0
    assert "No regression: 1 of" in out and "1 expected" in out
    assert any(line.startswith("| expected |") for line in out.splitlines())


def test_a_scenario_becoming_not_applicable_is_expected(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    changed = copy.deepcopy(data)
    cell = first_cell(changed, "pass", "status")
    cell.update(outcome="n/a", observed={}, message="n/a: gone")
    cell["expected"] = {**cell["expected"], "na": "gone"}
    status, out = run_diff(write(tmp_path, "old", data), write(tmp_path, "new", changed), capsys)
    assert status == 0 and "1 expected" in out


def test_a_failure_is_a_regression_and_its_fix_is_not(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    broken = copy.deepcopy(data)
    cell = first_cell(broken, "pass", "status")
    cell.update(outcome="fail", message="AssertionError: got 500")
    old, new = write(tmp_path, "good", data), write(tmp_path, "broken", broken)
    status, out = run_diff(old, new, capsys)
    assert status == 1 and "outcome pass → fail" in out
    status, out = run_diff(new, old, capsys)
    assert status == 0 and "1 fixed" in out


def test_cells_in_one_run_only_are_listed(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    fewer = copy.deepcopy(data)
    gone = fewer["cells"].pop(0)
    status, out = run_diff(write(tmp_path, "all", data), write(tmp_path, "fewer", fewer), capsys)
    assert status == 0
    assert f"| removed | {gone['profile']} | {gone['scenario']} |" in out
    status, out = run_diff(write(tmp_path, "fewer2", fewer), write(tmp_path, "all2", data),
                           capsys)
    kind = "**regression**" if gone["outcome"] in ("fail", "error") else "added"
    assert f"| {kind} | {gone['profile']} | {gone['scenario']} |" in out


def test_markdown_table_cells_escape_pipes(tmp_path, capsys):
    data = json.loads(NEW.read_text())
    changed = copy.deepcopy(data)
    cell = first_cell(changed, "pass", "message")
    cell["observed"]["message"] = "a|b"
    status, out = run_diff(write(tmp_path, "o", data), write(tmp_path, "n", changed), capsys)
    row = next(line for line in out.splitlines() if line.startswith("| **regression**"))
    assert "a\\|b" in row
    assert row.count(" | ") == 6


@pytest.mark.parametrize("make_bad", ["missing", "malformed"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make_bad):
    bad = tmp_path / "bad"
    if make_bad == "malformed":
        bad.mkdir()
        (bad / "outcomes.json").write_text("[1, 2")
    status = main(["diff", str(bad), str(NEW)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("authprobe: error: ") and err.count("\n") == 1
