"""`authprobe seen --write`: the patches a recorded real run confirmed go into the seen lists
of the rows that hold for them (a version takes the nearest row at or below it), and nothing
else in the file changes; every seen entry of the shipped rows is under the row holding it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from authprobe.cli import main
from authprobe.model.versions import KubeVersion, Ranged
from authprobe.paths import scenarios_dir

DATA = Path(__file__).resolve().parent / "data"
RUN = DATA / "outcomes-1.34.json"
SWEEP = DATA / "outcomes-sweep-1.19-1.37.json"


def shipped_copy(tmp_path: Path) -> Path:
    """The shipped expectation file with every row not yet seen."""
    path = tmp_path / "expectations.yaml"
    text = (scenarios_dir() / "expectations.yaml").read_text()
    path.write_text(re.sub(r"(?m)^(\s*)seen: \[.*\]$", r"\1seen: []", text))
    return path


def rows(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["scenarios"]


def test_confirmed_rows_record_the_patch_and_nothing_else_changes(tmp_path, capsys):
    path = shipped_copy(tmp_path)
    before = path.read_text()
    assert main(["seen", str(RUN), "--write", str(path)]) == 0
    out = capsys.readouterr().out
    assert "seen lists updated" in out
    after = rows(path)
    root = after["anonymous_get_root"]["anon-on"][0]
    assert root["since"] == "1.19" and "1.34.12" in root["seen"]
    # every other line is as it was
    old, new = before.splitlines(), path.read_text().splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed and all(b.strip().startswith("seen: [") for _, b in changed)


def test_a_row_the_run_did_not_reach_stays_unseen(tmp_path):
    path = shipped_copy(tmp_path)
    main(["seen", str(RUN), "--write", str(path)])
    probe_8080 = rows(path)["control_plane_comes_up"]["anon-off-probe-8080"]
    first = next(r for r in probe_8080 if r["since"] == "1.19")
    assert "1.34.12" not in first["seen"]


def test_writing_twice_changes_nothing_more(tmp_path, capsys):
    path = shipped_copy(tmp_path)
    main(["seen", str(RUN), "--write", str(path)])
    once = path.read_text()
    capsys.readouterr()
    main(["seen", str(RUN), "--write", str(path)])
    assert path.read_text() == once
    assert "0 seen lists updated" in capsys.readouterr().out


def misplaced(path: Path) -> list[str]:
    """Every patch a row's seen list holds that takes another row by the rows' own rule (a
    version takes the nearest row at or below it), or no row at all."""
    def bad(where: str, what: str) -> None:
        raise AssertionError(f"{where}: {what}")

    found = []
    for scenario, per_profile in rows(path).items():
        for profile, listed in per_profile.items():
            ranged = Ranged.parse(listed, f"{scenario}.{profile}", bad)
            for since, row in ranged.rows:
                for patch in row.get("seen") or ():
                    holding = ranged.at(KubeVersion.parse(patch))
                    if holding is None or holding[0] != since:
                        takes = f"the row since {holding[0]}" if holding else "no row"
                        found.append(f"{scenario}.{profile} row since {since}: seen {patch} "
                                     f"takes {takes}")
    return found


def test_every_seen_patch_of_the_shipped_rows_is_under_the_row_that_holds_for_it():
    assert misplaced(scenarios_dir() / "expectations.yaml") == []


def test_a_patch_under_a_row_that_does_not_hold_for_it_is_named(tmp_path):
    path = tmp_path / "expectations.yaml"
    path.write_text(yaml.safe_dump({"scenarios": {"apiserver_restarts": {"anon-off": [
        {"since": "1.19", "seen": ["1.19.16", "1.34.12"]},
        {"since": "1.24", "seen": ["1.24.1", "1.23.4"]}]}}}))
    assert misplaced(path) == [
        "apiserver_restarts.anon-off row since 1.19: seen 1.34.12 takes the row since 1.24",
        "apiserver_restarts.anon-off row since 1.24: seen 1.23.4 takes the row since 1.19"]


def test_seen_write_on_the_recorded_sweep_leaves_every_patch_under_the_row_holding_it(
        tmp_path, capsys):
    path = shipped_copy(tmp_path)
    assert main(["seen", str(SWEEP), "--write", str(path)]) == 0
    assert "seen lists updated" in capsys.readouterr().out
    assert misplaced(path) == []
    # and the sweep's patches are where they belong: never-up from 1.24 on, not the 1.20 row
    probe_8080 = rows(path)["apiserver_restarts"]["anon-off-probe-8080"]
    by_since = {row["since"]: set(row["seen"]) for row in probe_8080}
    sweep = {"1.30.14", "1.31.4", "1.32.9", "1.33.13", "1.34.12", "1.35.8", "1.36.5", "1.37.2"}
    assert sweep <= by_since["1.24"] and not sweep & by_since["1.20"]
    assert "1.19.16" in by_since["1.19"]


def test_a_report_judged_by_a_row_that_no_longer_holds_confirms_nothing(tmp_path, capsys):
    # The 1.34 run was judged by the 1.20 row of anon-off-probe-8080's restarts (the 1.24 row
    # came later): 1.34.12 goes to neither row, and is listed to be run again.
    path = shipped_copy(tmp_path)
    main(["seen", str(RUN), "--write", str(path)])
    out = capsys.readouterr().out
    probe_8080 = rows(path)["apiserver_restarts"]["anon-off-probe-8080"]
    assert all(row["seen"] == [] for row in probe_8080)
    assert ("RUN AGAIN apiserver_restarts.anon-off-probe-8080 1.34.12: judged by the row since "
            "1.20 as it read then; the row since 1.24 that holds for it") in out
    assert "predicts otherwise (exit_code, killed_by, log_message)" in out


def test_an_expectation_file_it_cannot_read_is_one_line(tmp_path, capsys):
    assert main(["seen", str(RUN), "--write", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("authprobe: error: cannot read expectation file") and "\n" not in err
    (tmp_path / "list.yaml").write_text("- since: '1.19'\n")
    assert main(["seen", str(RUN), "--write", str(tmp_path / "list.yaml")]) == 2
    assert "has no 'scenarios' mapping" in capsys.readouterr().err


def test_a_row_of_a_minors_changes_is_confirmed_by_what_the_rows_up_to_it_compose(tmp_path,
                                                                                  capsys):
    """default_roles_served's rows name what each minor adds and removes; the upgrade run
    was judged by what they compose, so its cells confirm the rows of 1.33 and 1.34."""
    path = shipped_copy(tmp_path)
    assert main(["seen", str(DATA / "default-roles-upgrade-1.33-1.34.json"),
                 "--write", str(path)]) == 0
    assert "RUN AGAIN" not in capsys.readouterr().out
    served = {str(r["since"]): r["seen"] for r in rows(path)["default_roles_served"]["anon-on"]}
    assert (served["1.33"], served["1.34"], served["1.27"]) == (["1.33.13"], ["1.34.12"], [])
