"""``authprobe diff OLD NEW``: what changed between two runs, in Markdown for a PR comment.

Cells are matched by profile and scenario; versions present in both runs are compared
with themselves, a version only in NEW with the nearest lower version of OLD (an upgrade
from 1.34 to 1.36 compares the 1.34 cells with the 1.36 cells). A change is ``expected``
when the expectations recorded in the two outcome files say that field changes between
the two versions, ``fixed`` when a failing cell now passes (a skip is no fix),
``still failing`` when it failed before and after, and a ``regression`` otherwise.
Exit status: 1 when there is a regression, 0 when not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from .outcomes import (
    ERROR,
    FAIL,
    NA,
    PASSING,
    Cell,
    Outcomes,
    is_expected_failure,
    load,
    one_line,
    version_key,
)

EXPECTED = "expected"
REGRESSION = "regression"
FIXED = "fixed"
STILL_FAILING = "still failing"
ADDED = "added"
REMOVED = "removed"

FAILING = (FAIL, ERROR)
# observed field -> the expectation field that governs it
COMPARED = {
    "status": "status",
    "message": "message",
    "status_after": "status_after",
    "www_authenticate": "www_authenticate",
    "restart_shape": "restart_shape",
    "ever_ready": "ever_ready",
    "up": "comes_up",
    "comes_up": "comes_up",
    "exit_code": "exit_code",
}


@dataclass
class Change:
    profile: str
    scenario: str
    old: Cell | None
    new: Cell | None
    fields: list[str] = field(default_factory=list)
    kind: str = ""

    @property
    def versions(self) -> str:
        old = self.old.version if self.old else None
        new = self.new.version if self.new else None
        if old and new and old != new:
            return f"{old} → {new}"
        return str(new or old)


def pair_versions(old: list[str], new: list[str]) -> dict[str, str | None]:
    """NEW version -> the OLD version it is compared with (None when OLD has none)."""
    old_sorted = sorted(old, key=version_key)
    pairs: dict[str, str | None] = {}
    for version in new:
        if version in old:
            pairs[version] = version
            continue
        lower = [v for v in old_sorted if version_key(v) < version_key(version)]
        if lower:
            pairs[version] = lower[-1]
        else:
            higher = [v for v in old_sorted if v not in new]
            pairs[version] = higher[0] if higher else None
    return pairs


def changed_fields(old: Cell, new: Cell) -> list[str]:
    fields = []
    if old.outcome != new.outcome:
        fields.append("outcome")
    for name in COMPARED:
        if old.observed.get(name) != new.observed.get(name):
            fields.append(name)
    return fields


def _not_applicable(cell: Cell) -> bool:
    """n/a by its expectation row, or skipped as n/a because its profile must not come up."""
    return bool(cell.expected.get("na")) or cell.outcome == NA


def _explained(name: str, old: Cell, new: Cell) -> bool:
    """Whether the recorded expectations say this field changes between the two cells."""
    if _not_applicable(old) != _not_applicable(new):
        return True  # the scenario applies on one version only: everything may change
    if name == "outcome":
        return is_expected_failure(old.expected) != is_expected_failure(new.expected)
    governing = COMPARED[name]
    return old.expected.get(governing) != new.expected.get(governing)


def classify(old: Cell, new: Cell, fields: list[str]) -> str:
    if new.outcome in FAILING:
        return STILL_FAILING if old.outcome in FAILING else REGRESSION
    if old.outcome in FAILING and new.outcome in PASSING:
        return FIXED
    if all(_explained(name, old, new) for name in fields):
        return EXPECTED
    return REGRESSION


def compare(old: Outcomes, new: Outcomes) -> tuple[list[Change], dict[str, str | None]]:
    pairs = pair_versions(old.versions, new.versions)
    old_cells = {c.key: c for c in old.cells}
    used: set[tuple[str, str, str]] = set()
    changes = []
    for cell in sorted(new.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version))):
        base = pairs.get(cell.version)
        before = old_cells.get((cell.profile, cell.scenario, base)) if base else None
        if before is None:
            kind = REGRESSION if cell.outcome in FAILING else ADDED
            changes.append(Change(cell.profile, cell.scenario, None, cell, ["cell"], kind))
            continue
        used.add(before.key)
        fields = changed_fields(before, cell)
        if fields:
            changes.append(Change(cell.profile, cell.scenario, before, cell, fields,
                                  classify(before, cell, fields)))
    for cell in sorted(old.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version))):
        if cell.key not in used:
            changes.append(Change(cell.profile, cell.scenario, cell, None, ["cell"], REMOVED))
    return changes, pairs


def _md(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return one_line(text, 90).replace("|", "\\|")


def _field(cell: Cell, name: str) -> str:
    return f"`{_md(cell.observed[name])}`" if name in cell.observed else "(none)"


def _describe(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    return f"**{cell.outcome}** {_md(cell.message)}".strip()


def _what(change: Change) -> str:
    if change.old is None or change.new is None:
        return "only in " + ("NEW" if change.old is None else "OLD")
    parts = []
    for name in change.fields:
        if name == "outcome":
            parts.append(f"outcome {change.old.outcome} → {change.new.outcome}")
        else:
            before, after = (_field(cell, name) for cell in (change.old, change.new))
            parts.append(f"{name} {before} → {after}")
    return "; ".join(parts)


def summary_line(changes: list[Change], compared: int) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
    regressions = counts.get(REGRESSION, 0)
    head = (f"**{regressions} regression{'s' if regressions != 1 else ''}**" if regressions
            else "No regression")
    rest = [f"{counts[k]} {k}" for k in (EXPECTED, FIXED, STILL_FAILING, ADDED, REMOVED)
            if counts.get(k)]
    changed = sum(1 for c in changes if c.old and c.new)
    text = f"{head}: {changed} of {compared} compared cells changed"
    return text + (f" ({', '.join(rest)})" if rest else "") + "."


def render(old: Outcomes, new: Outcomes, changes: list[Change],
           pairs: dict[str, str | None]) -> str:
    old_id = old.run.get("id") or str(old.path.parent)
    new_id = new.run.get("id") or str(new.path.parent)
    compared = sum(1 for c in new.cells if pairs.get(c.version) and
                   (c.profile, c.scenario, pairs[c.version]) in {x.key for x in old.cells})
    mapping = ", ".join(f"{b} → {v}" if b != v else v for v, b in sorted(
        pairs.items(), key=lambda kv: version_key(kv[0])) if b)
    out = [f"### authprobe diff: `{old_id}` → `{new_id}`", "",
           summary_line(changes, compared), ""]
    if mapping:
        out += [f"Kubernetes versions compared: {mapping}", ""]
    if not changes:
        out.append("Every cell has the same outcome, status and message in both runs.")
        return "\n".join(out) + "\n"
    out += ["| class | profile | scenario | Kubernetes | before | after | what changed |",
            "|---|---|---|---|---|---|---|"]
    order = {REGRESSION: 0, STILL_FAILING: 1, FIXED: 2, EXPECTED: 3, ADDED: 4, REMOVED: 5}
    for change in sorted(changes, key=lambda c: (order[c.kind], c.profile, c.scenario)):
        kind = f"**{change.kind}**" if change.kind == REGRESSION else change.kind
        out.append(f"| {kind} | {change.profile} | {change.scenario} | {change.versions} | "
                   f"{_describe(change.old)} | {_describe(change.new)} | {_what(change)} |")
    return "\n".join(out) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD",
                        help="report folder of the earlier run (or its outcomes.json)")
    parser.add_argument("new", metavar="NEW",
                        help="report folder of the later run, e.g. reports/latest")


def run(args: argparse.Namespace) -> int:
    old = load(args.old)
    new = load(args.new)
    changes, pairs = compare(old, new)
    print(render(old, new, changes, pairs), end="")
    return 1 if any(c.kind == REGRESSION for c in changes) else 0
