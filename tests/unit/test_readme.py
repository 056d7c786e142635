"""The README's tables of minors and profiles are generated from clusters/versions.yaml and
clusters/profiles/, and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from authprobe import readme
from authprobe.errors import AuthprobeError
from authprobe.model.profiles import load_profile
from authprobe.model.versions import version_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_tables_are_current():
    text = README.read_text()
    assert readme.regenerate(text) == text, (
        f"README.md's generated tables differ from clusters/: run {readme.COMMAND}")


def test_every_supported_minor_has_a_row():
    table = version_table()
    rows = readme.minors_table(table.minors, table.default, table.kind)
    assert rows[0] == f"| minor | offline build | published image (kind {table.kind}) |"
    assert len(rows) == 2 + len(table.minors)
    for minor, row in table.minors.items():
        name = f"{minor} (default)" if minor == table.default else minor
        image = f"v{row.published_patch}" if row.published else f"none: {row.published_note}"
        assert f"| {name} | v{row.patch} | {image} |" in rows


def test_a_profile_row_says_how_it_differs_by_version(tmp_path):
    path = tmp_path / "gated.yaml"
    path.write_text(
        "description: anonymous only for /livez\n"
        "apiserver:\n  extraArgs:\n    anonymous-auth: 'false'\n"
        "probes:\n  livenessProbe:\n    failureThreshold: 8\n"
        "versions:\n"
        "  - since: '1.19'\n    na: not before 1.31\n"
        "  - since: '1.31'\n    note: alpha\n"
        "    apiserver:\n      extraArgs:\n        feature-gates: Gate=true\n"
        "  - since: '1.34'\n")
    rows = readme.profiles_table({"gated": load_profile(path)}, ["1.19", "1.30", "1.31", "1.34"])
    assert rows[2] == ("| `gated` | anonymous only for /livez | `--anonymous-auth=false` | "
                       "liveness failureThreshold 8 | 1.19–1.30: n/a: not before 1.31; "
                       "1.31: `--feature-gates=Gate=true` (alpha) |")


def test_a_readme_without_a_block_is_refused_in_one_line():
    with pytest.raises(AuthprobeError, match="has no block 'minors'"):
        readme.regenerate("no tables here\n")


def test_the_command_checks_and_rewrites(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text("<!-- generated: minors -->\n| old |\n<!-- end generated: minors -->\n"
                     "<!-- generated: profiles -->\n<!-- end generated: profiles -->\n")
    assert readme.main([str(stale), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out and "| old |" in stale.read_text()
    assert readme.main([str(stale)]) == 0
    assert readme.main([str(stale), "--check"]) == 0
    assert "| old |" not in stale.read_text() and "| 1.19 |" in stale.read_text()
    assert readme.main([str(tmp_path / "missing.md")]) == 2
