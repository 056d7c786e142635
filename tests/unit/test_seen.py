"""`authprobe seen --write`: the patches a recorded real run confirmed go into the rows'
seen lists, and nothing else in the file changes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from authprobe.cli import main
from authprobe.paths import scenarios_dir

RUN = Path(__file__).resolve().parent / "data" / "outcomes-1.34.json"


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
