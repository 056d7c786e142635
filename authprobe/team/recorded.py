"""Expectation rows recorded from a run: what each cell saw, as a row that predicts it, kept
in a file of their own (top-level ``recorded:``), apart from the rows written from facts.

Each row is marked with the run and patch it was recorded from (``recorded: {run, version}``)
and starts at the minor of that patch. A field is recorded from every observation the cell
made that its declaration lets a row predict (``scenarios/observations.yaml``): the value
itself (``equal``), the text seen (``fragment``: a list's last line), the first of the values
seen (``member``), whether there was one (``present``), or, for a timing (``within``), the
value give or take the difference the diff counts as no change. A recorded row predicts what
its cell saw, or it is not written.

``record`` gives the team's profiles rows where they have none (and, with ``update``, records
a minor's row again); ``accept`` adds a row for a later minor from the cells of a later run
that the rows recorded before did not predict. Nothing is ever replaced without being named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError
from ..model import predictions
from ..model.expectations import RECORDED, ExpectationTable, fields_of, recorded_from
from ..model.observations import Declarations, Observation
from ..model.outcome import FAIL, JUDGED, NA, NOT_JUDGED, SKIPPED, CellRecord
from ..model.versions import KubeVersion, version_key
from ..model.yamlfile import read_yaml
from ..report.document import Outcomes

HEADER = """\
# Expectation rows recorded from runs (authprobe rows record, authprobe rows accept): each
# row is what the run it names saw, not a prediction from facts. Give this file to the runs
# as an expectation file (--expectations, or the ini key authprobe_expectations). Record a
# row again rather than edit it: a row edited into another shape stops the run.
"""

Key = tuple[str, str]  # scenario, profile


def _row_value(declared: Observation, observed: Any) -> Any:
    """The row value that predicts one observed value, as the declaration matches them."""
    if declared.match == "fragment":
        lines = [v for v in observed if v] if isinstance(observed, list) else [observed]
        return str(lines[-1]) if lines else ""
    if declared.match == "member":
        return observed[0] if isinstance(observed, list) and observed else None
    if declared.match == "present":
        return observed not in (None, "")
    if declared.match == "within":
        spread = declared.allowed_difference(observed, observed)
        return [round(observed - spread, 1), round(observed + spread, 1)]
    return observed


def row_fields(cell: CellRecord, declarations: Declarations) -> dict:
    """The prediction fields of a row that predicts every observation of ``cell``; one line
    when no row can."""
    candidates: dict[str, list[Any]] = {}
    for declared in declarations:
        if not declared.expect or declared.name not in cell.observed:
            continue
        observed = cell.observed[declared.name]
        if declared.match == "within" and not isinstance(observed, (int, float)):
            continue
        value = _row_value(declared, observed)
        found = candidates.setdefault(declared.expect, [])
        if value not in found:
            found.append(value)
    row: dict[str, Any] = {}
    for name, values in candidates.items():
        readers = [d for d in declarations.predicting(name) if d.name in cell.observed]
        fits = [v for v in values
                if all(d.predicts(v, cell.observed[d.name]) for d in readers)]
        row[name] = fits[0] if fits else values
    for declared in declarations:  # a field its rule implies as seen need not be written
        implied = declared.implied_by
        if (implied is not None and declared.expect in row and implied.field in row
                and implied.first(row[implied.field]) == row[declared.expect]):
            del row[declared.expect]
    where = f"{cell.scenario} of {cell.profile} on {cell.version}"
    wrong = (predictions.disagreements(declarations, row, cell.observed)
             + predictions.contradictions(declarations, row))
    if wrong:
        raise AuthprobeError(f"no row can be recorded for {where}: {wrong[0]}")
    return row


@dataclass
class RowFile:
    """The recorded rows of one file, by scenario and profile, each list in ``since`` order."""

    path: Path
    rows: dict[Key, list[dict]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, declarations: Declarations) -> RowFile:
        """The file's rows, held to the rules the run holds them to (one line otherwise); an
        absent file has none."""
        if not path.exists():
            return cls(path)
        data = read_yaml(path, "the file of recorded rows")
        if not isinstance(data, dict) or RECORDED not in data:
            raise AuthprobeError(f"{path} is not a file of recorded rows (no top-level "
                                 "'recorded:'): give the file authprobe rows record writes")
        table = ExpectationTable()
        table.observations = declarations
        table.fields = fields_of(declarations)
        table.add(data, str(path))
        rows = {}
        for scenario, per_profile in table.scenarios.items():
            for profile, ranged in per_profile.items():
                rows[(scenario, profile)] = [{"since": str(since), **values}
                                             for since, values in ranged.rows]
        return cls(path, rows)

    def holding(self, key: Key, version: str) -> dict | None:
        """The row that holds for ``version`` (the nearest at or below it)."""
        wanted = version_key(version)
        found = None
        for row in self.rows.get(key, []):
            if version_key(row["since"]) <= wanted:
                found = row
        return found

    def put(self, key: Key, row: dict) -> None:
        kept = [r for r in self.rows.get(key, []) if r["since"] != row["since"]]
        self.rows[key] = sorted([*kept, row], key=lambda r: version_key(r["since"]))

    def text(self) -> str:
        body: dict = {}
        for (scenario, profile) in sorted(self.rows):
            body.setdefault(scenario, {})[profile] = self.rows[(scenario, profile)]
        return HEADER + yaml.safe_dump({RECORDED: body}, sort_keys=False, width=96,
                                       default_flow_style=None)

    def write(self) -> None:
        staged = self.path.with_name(f".{self.path.name}.new")
        try:
            staged.write_text(self.text())
            staged.replace(self.path)
        except OSError as err:
            raise AuthprobeError(f"cannot write {self.path}: {err.strerror}") from None


@dataclass
class Entry:
    """One row to write, or one cell that gives none, with what the command says of it."""

    key: Key
    version: str
    kind: str  # new, same, changed, accepted, kept (left out, with why)
    row: dict | None = None
    old: dict | None = None
    why: str = ""

    def line(self) -> str:
        name = f"{self.key[0]}.{self.key[1]} {self.version}"
        if self.kind in ("new", "accepted"):
            return f"{self.kind}: {name}: since {self.row['since']}: {_fields(self.row)}"
        if self.kind in ("changed", "updated"):
            return (f"{'CHANGED' if self.kind == 'changed' else 'updated'} {name}: the row "
                    f"since {self.old['since']}: {difference(self.old, self.row)}")
        return f"{self.kind}: {name}: {self.why}"


def _fields(row: dict) -> str:
    shown = {k: v for k, v in row.items() if k not in ("since", RECORDED)}
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in shown.items()) or "no field"


def predictions_of(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("since", RECORDED)}


def difference(old: dict, new: dict) -> str:
    """``status 403 → 401, message ...``: the fields that differ between two rows."""
    before, after = predictions_of(old), predictions_of(new)
    parts = [f"{name} {json.dumps(before.get(name))} → {json.dumps(after.get(name))}"
             for name in sorted(set(before) | set(after), key=lambda n: (n not in after, n))
             if before.get(name) != after.get(name)]
    return ", ".join(parts) or "no field differs"


def new_row(cell: CellRecord, outcomes: Outcomes, declarations: Declarations) -> dict:
    minor = KubeVersion.parse(cell.version).minor_str
    run = str(outcomes.run.get("id") or outcomes.path.parent.name)
    return {"since": minor, RECORDED: {"run": run, "version": cell.version},
            **row_fields(cell, declarations)}


def _kept(cell: CellRecord) -> str | None:
    """Why a cell gives no row to record (None: it gives one)."""
    if cell.outcome == NA:
        return "n/a"
    if cell.outcome == NOT_JUDGED:
        return None
    if cell.outcome == SKIPPED:
        return f"skipped, so no row: {cell.message.removeprefix('skipped: ')}"
    if cell.outcome not in JUDGED:
        return f"{cell.outcome}: nothing was seen to record; run it again"
    if not recorded_from(cell.expected):
        return "judged by a row from facts"
    return None


def record(outcomes: Outcomes, rows: RowFile, profiles: set[str],
           update: bool = False) -> list[Entry]:
    """The rows a run gives the profiles: a new row for every cell no row judged (of a
    cluster not upgraded, or of a scenario that runs only after an upgrade); a cell a
    recorded row judged on the same minor is recorded again (``changed`` unless ``update``
    lets it replace the row); a cell a row of an earlier minor judged is left to accept."""
    declarations = outcomes.declarations
    entries: list[Entry] = []
    # scenarios that ran on a cluster not upgraded: an upgraded cluster's cell of one of
    # them is left to accept; the others run only after an upgrade, so it is theirs
    fresh = {(cell.scenario, cell.profile) for cell in _cells(outcomes, profiles)
             if cell.upgraded_from is None and cell.outcome != NA}
    for cell in _cells(outcomes, profiles):
        key = (cell.scenario, cell.profile)
        if cell.upgraded_from is not None and key in fresh:
            entries.append(Entry(key, cell.version, "kept", why=(
                "a cell of an upgraded cluster: record a fresh run's cells; "
                "authprobe rows accept takes an upgrade's differences")))
            continue
        why = _kept(cell)
        if why is not None:
            entries.append(Entry(key, cell.version, "kept", why=why))
            continue
        row = new_row(cell, outcomes, declarations)
        held = rows.holding(key, cell.version)
        if held is None:
            entries.append(Entry(key, cell.version, "new", row))
        elif predictions_of(held) == predictions_of(row):
            entries.append(Entry(key, cell.version, "same", row, held,
                                 why=f"the row since {held['since']} predicts what it saw"))
        elif held["since"] != row["since"]:
            entries.append(Entry(key, cell.version, "kept", why=(
                f"the row since {held['since']} predicts otherwise: "
                f"{difference(held, row)}; authprobe rows accept adds a row for "
                f"{row['since']}")))
        else:
            entries.append(Entry(key, cell.version, "updated" if update else "changed",
                                 row, held))
    return _one_per_row(entries)


def accept(outcomes: Outcomes, rows: RowFile, profiles: set[str]) -> list[Entry]:
    """The rows for a later minor from the cells a recorded row of an earlier minor judged and
    did not predict (fresh or upgraded clusters alike)."""
    declarations = outcomes.declarations
    entries: list[Entry] = []
    for cell in _cells(outcomes, profiles):
        key = (cell.scenario, cell.profile)
        mark = recorded_from(cell.expected)
        if cell.outcome != FAIL or mark is None:
            continue
        row = new_row(cell, outcomes, declarations)
        held = rows.holding(key, cell.version)
        if held is None:
            entries.append(Entry(key, cell.version, "kept", why=(
                f"{rows.path} has no row that holds for it (the run was judged by another "
                "file)")))
        elif held["since"] == row["since"]:
            entries.append(Entry(key, cell.version, "kept", why=(
                f"a change on the minor its row was recorded on ({difference(held, row)}): "
                "authprobe rows record --update records it again")))
        elif predictions_of(held) == predictions_of(row):
            entries.append(Entry(key, cell.version, "kept", why=(
                f"its row predicts what it saw; it failed on the scenario's own check: "
                f"{cell.message}")))
        else:
            entries.append(Entry(key, cell.version, "accepted", row, held))
    return _one_per_row(entries)


def _cells(outcomes: Outcomes, profiles: set[str]) -> list[CellRecord]:
    return sorted((c for c in outcomes.cells if c.profile in profiles),
                  key=lambda c: (c.scenario, c.profile, version_key(c.version),
                                 c.upgraded_from is not None))


def _one_per_row(entries: list[Entry]) -> list[Entry]:
    """Two cells of one scenario, profile and minor (a fresh and an upgraded cluster) that
    would write different rows: one line naming both, nothing written."""
    writing: dict[tuple[str, str, str], Entry] = {}
    for entry in entries:
        if entry.row is None or entry.kind in ("same", "kept"):
            continue
        slot = (*entry.key, entry.row["since"])
        other = writing.get(slot)
        if other is not None and predictions_of(other.row) != predictions_of(entry.row):
            raise AuthprobeError(
                f"{entry.key[0]}.{entry.key[1]} on {entry.row['since']}: two cells of the run "
                f"saw different things ({other.version}: {_fields(other.row)}; "
                f"{entry.version}: {_fields(entry.row)}): run again, or record one report "
                "at a time")
        writing.setdefault(slot, entry)
    return entries


WRITES = ("new", "updated", "accepted")


def apply(rows: RowFile, entries: list[Entry]) -> int:
    """Put the rows the entries write into ``rows``; how many."""
    count = 0
    for entry in entries:
        if entry.kind in WRITES:
            rows.put(entry.key, entry.row)
            count += 1
    return count
