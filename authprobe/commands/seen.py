"""``authprobe seen REPORT...``: which expectation rows live runs confirmed, on which patch.

Each cell of the given reports belongs to the row that holds for its version by the rows'
own rule (a version takes the nearest row at or below it), read from the expectation file
(``--write FILE``, else the shipped ``scenarios/expectations.yaml``), never from the row a
report recorded: a report written before a row was added names the row that held then. A
row is confirmed on a patch when its cell passed (or failed as predicted) judged by what the
row predicts now (a set written as each minor's changes, composed with the rows before it);
a cell judged by other predictions (the row changed since the run) confirms nothing and is
listed to be run again. Prints the confirmed patches of every row, in the form of the rows'
``seen`` field, and the rows a report contradicts, with the cell's message: those need
understanding, not a new ``seen``.

``--write FILE`` also records the confirmed patches in the ``seen`` lists of that expectation
file, in place (each row's other lines and the file's comments stay as they are; a row
shared by YAML aliases collects the patches of every scenario that uses it).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import AuthprobeError
from ..model import observations, setchanges
from ..model.outcome import FAIL, JUDGED
from ..model.versions import KubeVersion, Ranged, version_key
from ..paths import scenarios_dir
from ..report.document import load

HELP = "list the expectation rows the given reports confirmed, with the patches they ran on"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="report folders (or outcomes.json files)")
    parser.add_argument("--write", type=Path, metavar="FILE", default=None,
                        help="record the confirmed patches in this expectation file's seen "
                             "lists (scenarios/expectations.yaml for the shipped rows); its "
                             "rows are the ones each version is mapped to")


Row = tuple[str, str, int]  # scenario, profile, index of the row in the profile's list
# A row's fields that predict nothing: they may change without changing what a cell is
# judged by. The report's own bookkeeping of a cell's row is left out too.
UNJUDGED = {"note", "seen", "since", "profile", "scenario"}


def _get(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


@dataclass(frozen=True)
class RowFile:
    """The rows of one expectation file, each found by the versions it holds for."""

    path: Path
    text: str
    ranged: dict[tuple[str, str], Ranged]
    set_fields: tuple[str, ...] = ()  # row fields written as each minor's changes

    @classmethod
    def read(cls, path: Path) -> RowFile:
        def bad(where: str, what: str) -> None:
            raise AuthprobeError(f"expectation file {path} at {where}: {what}")

        try:
            text = path.read_text()
            data = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as err:
            raise AuthprobeError(f"cannot read expectation file {path}: {err}") from None
        scenarios = data.get("scenarios") if isinstance(data, dict) else None
        if not isinstance(scenarios, dict):
            raise AuthprobeError(f"expectation file {path} has no 'scenarios' mapping: pass an "
                                 "expectation file such as scenarios/expectations.yaml")
        ranged = {}
        for scenario, per_profile in scenarios.items():
            if not isinstance(per_profile, dict):
                bad(f"scenarios.{scenario}", "must map profile names to lists of rows")
            for profile, rows in per_profile.items():
                where = f"scenarios.{scenario}.{profile}"
                ranged[(str(scenario), str(profile))] = Ranged.parse(rows, where, bad)
        declarations = observations.Declarations(observations.shipped())
        if data.get("observations"):
            declarations.add(data["observations"], str(path))
        return cls(path, text, ranged, tuple(setchanges.fields(declarations)))

    def holding(self, scenario: str, profile: str, version: str) -> Row | None:
        """The row that holds for ``version`` (a version takes the nearest row at or below
        it), or None when the file has none for it."""
        ranged = self.ranged.get((scenario, profile))
        if ranged is None:
            return None
        found = ranged.at(KubeVersion.parse(version))
        return None if found is None else (scenario, profile, ranged.rows.index(found))

    def since(self, row: Row) -> str:
        scenario, profile, index = row
        return str(self.ranged[(scenario, profile)].rows[index][0])

    def predictions(self, row: Row) -> dict:
        scenario, profile, index = row
        rows = self.ranged[(scenario, profile)].rows
        values = setchanges.with_composed(
            rows[index][1], (earlier for _, earlier in rows[:index + 1]), self.set_fields)
        return {k: v for k, v in values.items() if k not in UNJUDGED}

    def seen_lines(self) -> dict[Row, int]:
        """The line (0-based) of the ``seen:`` key of every row that has one."""
        found: dict[Row, int] = {}
        scenarios = _get(yaml.compose(self.text), "scenarios")
        for scenario, profile in self.ranged:
            profiles = _get(scenarios[1], scenario) if scenarios else None
            rows = _get(profiles[1], profile) if profiles else None
            if not rows or not isinstance(rows[1], yaml.SequenceNode):
                continue
            for index, row in enumerate(rows[1].value):
                seen = _get(row, "seen")
                if seen:
                    found[(scenario, profile, index)] = seen[0].start_mark.line
        return found


def write_seen(rows: RowFile, confirmed: dict[Row, set[str]]) -> tuple[int, int]:
    """Add the confirmed patches to the rows' one-line ``seen`` lists; (rows changed, rows
    confirmed that have no ``seen`` line to add them to)."""
    path = rows.path
    lines = rows.text.splitlines(keepends=True)
    where = rows.seen_lines()
    patches: dict[int, set[str]] = defaultdict(set)
    for key, found in confirmed.items():
        if key in where:
            patches[where[key]] |= found
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
    try:
        path.write_text("".join(lines))
    except OSError as err:
        raise AuthprobeError(f"cannot write expectation file {path}: {err.strerror}") from None
    return changed, len(set(confirmed) - set(where))


def _judged(expected: dict) -> dict:
    return {k: v for k, v in expected.items() if k not in UNJUDGED}


def _differing(judged: dict, predicted: dict) -> list[str]:
    """The fields a cell was judged by that the row predicts otherwise now (or not at all)."""
    return sorted(k for k in set(judged) | set(predicted)
                  if k not in judged or k not in predicted or judged[k] != predicted[k])


def run(args: argparse.Namespace) -> int:
    rows = RowFile.read(args.write or scenarios_dir() / "expectations.yaml")
    confirmed: dict[Row, set[str]] = defaultdict(set)
    contradicted: dict[Row, list[str]] = defaultdict(list)
    rejudge: list[str] = []
    unheld: set[str] = set()
    for where in args.reports:
        for cell in load(where).cells:
            if cell.outcome not in JUDGED:
                continue
            row = rows.holding(cell.scenario, cell.profile, cell.version)
            if row is None:
                unheld.add(f"{cell.scenario}.{cell.profile} {cell.version}")
            elif differ := _differing(_judged(cell.expected), rows.predictions(row)):
                rejudge.append(f"RUN AGAIN {cell.scenario}.{cell.profile} {cell.version}: "
                               f"judged by the row since {cell.expected.get('since', '?')} as "
                               f"it read then; the row since {rows.since(row)} that holds for "
                               f"it in {rows.path} predicts otherwise ({', '.join(differ)})")
            elif cell.outcome == FAIL:
                contradicted[row].append(f"{cell.version}: {cell.message}")
            else:
                confirmed[row].add(cell.version)
    for row in sorted(confirmed):
        scenario, profile, _ = row
        patches = ", ".join(f'"{v}"' for v in sorted(confirmed[row], key=version_key))
        print(f"{scenario}.{profile} since {rows.since(row)}: seen: [{patches}]")
    for row in sorted(contradicted):
        scenario, profile, _ = row
        for line in contradicted[row]:
            print(f"CONTRADICTED {scenario}.{profile} since {rows.since(row)}: {line}")
    for line in sorted(set(rejudge)):
        print(line)
    if unheld:
        print(f"{len(unheld)} cells have no row in {rows.path} that holds for their version")
    if args.write:
        changed, elsewhere = write_seen(rows, confirmed)
        print(f"{args.write}: {changed} seen lists updated"
              + (f"; {elsewhere} confirmed rows have no seen list" if elsewhere else ""))
    return 1 if contradicted else 0
