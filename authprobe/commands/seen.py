"""``authprobe seen REPORT...``: which expectation rows live runs confirmed, on which patch.

For every (scenario, profile, row) whose cells passed (or failed as predicted) in the given
reports, prints the patches they ran on, in the form of the rows' ``seen`` field, so the
expectation file can record what was seen live. Rows that a report contradicts are listed
too, with the cell's message: those need understanding, not a new ``seen``.

``--write FILE`` also records the confirmed patches in the ``seen`` lists of that expectation
file, in place (each row's other lines and the file's comments stay as they are; a row
shared by YAML aliases collects the patches of every scenario that uses it).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import yaml

from ..errors import AuthprobeError
from ..model.outcome import EXPECTED_FAILURE, FAIL, PASS
from ..model.versions import version_key
from ..report.document import load

HELP = "list the expectation rows the given reports confirmed, with the patches they ran on"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="report folders (or outcomes.json files)")
    parser.add_argument("--write", type=Path, metavar="FILE", default=None,
                        help="record the confirmed patches in this expectation file's seen "
                             "lists (scenarios/expectations.yaml for the shipped rows)")


Key = tuple[str, str, str]  # scenario, profile, since


def _get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _seen_lines(text: str, keys: set[Key]) -> dict[Key, int]:
    """The line (0-based) of the ``seen:`` key of each row in ``keys`` that the file holds."""
    found: dict[Key, int] = {}
    scenarios = _get(yaml.compose(text), "scenarios")
    for scenario, profile, since in keys:
        profiles = _get(scenarios[1], scenario) if scenarios else None
        rows = _get(profiles[1], profile) if profiles else None
        if not rows or not isinstance(rows[1], yaml.SequenceNode):
            continue
        for row in rows[1].value:
            row_since, seen = _get(row, "since"), _get(row, "seen")
            if row_since and seen and row_since[1].value == since:
                found[(scenario, profile, since)] = seen[0].start_mark.line
    return found


def write_seen(path: Path, confirmed: dict[Key, set[str]]) -> tuple[int, int]:
    """Add the confirmed patches to the rows' one-line ``seen`` lists; (rows changed, rows of
    the reports the file does not hold)."""
    try:
        text = path.read_text()
        lines = text.splitlines(keepends=True)
        where = _seen_lines(text, set(confirmed))
    except (OSError, yaml.YAMLError) as err:
        raise AuthprobeError(f"cannot read expectation file {path}: {err}") from None
    patches: dict[int, set[str]] = defaultdict(set)
    for key, line in where.items():
        patches[line] |= confirmed[key]
    changed = 0
    for line, found in patches.items():
        head, _, value = lines[line].partition("seen:")
        old = yaml.safe_load(value) or []
        if not isinstance(old, list) or "\n" in value.rstrip("\n"):
            raise AuthprobeError(f"{path}:{line + 1}: seen must be a one-line list")
        new = sorted(set(map(str, old)) | found, key=version_key)
        if new != old:
            lines[line] = head + "seen: [" + ", ".join(f'"{v}"' for v in new) + "]\n"
            changed += 1
    path.write_text("".join(lines))
    return changed, len(set(confirmed) - set(where))


def run(args: argparse.Namespace) -> int:
    confirmed: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    contradicted: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for where in args.reports:
        for cell in load(where).cells:
            since = str(cell.expected.get("since", "?"))
            key = (cell.scenario, cell.profile, since)
            if cell.outcome in (PASS, EXPECTED_FAILURE):
                confirmed[key].add(cell.version)
            elif cell.outcome == FAIL:
                contradicted[key].append(f"{cell.version}: {cell.message}")
    for key in sorted(confirmed):
        scenario, profile, since = key
        patches = ", ".join(f'"{v}"' for v in sorted(confirmed[key], key=version_key))
        print(f"{scenario}.{profile} since {since}: seen: [{patches}]")
    for key in sorted(contradicted):
        scenario, profile, since = key
        for line in contradicted[key]:
            print(f"CONTRADICTED {scenario}.{profile} since {since}: {line}")
    if args.write:
        changed, elsewhere = write_seen(args.write, confirmed)
        print(f"{args.write}: {changed} seen lists updated"
              + (f"; {elsewhere} confirmed rows are not in this file" if elsewhere else ""))
    return 1 if contradicted else 0
