"""``authprobe diff OLD NEW``: every cell whose outcome or observations changed between two
runs, classed, in Markdown for a pull-request comment.

Cells are matched by profile and scenario; a version present in both runs is compared with
itself, a version only in NEW with the nearest lower version of OLD (an upgrade from 1.34 to
1.36 compares the 1.34 cells with the 1.36 cells). The classes:

- ``regression``: the new cell fails or errors; or it is skipped (it could not run); or it
  changed in a way the expectation rows do not predict, such as a pass that became n/a on
  the same version.
- ``expected``: between two versions whose expectation rows differ in exactly what changed
  (a 403 that became a 401, a cell that is n/a on the newer version).
- ``fixed``: it failed, errored or was skipped, and now passes.
- ``changed``: it passes in both runs, as its row allows, but observed something else.
- ``still failing``: it failed before and after, with other observations.
- ``added`` / ``removed``: only in NEW / only in OLD.

Exit status: 1 when there is a regression, 0 when there is none, 2 on bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..model.expectations import is_expected_failure
from ..model.outcome import ERROR, EXPECTED_FAILURE, FAIL, NA, PASS, SKIPPED, CellRecord
from ..model.summary import one_line
from ..model.versions import version_key
from .document import Outcomes

REGRESSION = "regression"
EXPECTED = "expected"
FIXED = "fixed"
CHANGED = "changed"
STILL_FAILING = "still failing"
ADDED = "added"
REMOVED = "removed"
CLASSES = (REGRESSION, EXPECTED, FIXED, CHANGED, STILL_FAILING, ADDED, REMOVED)
FAILING = (FAIL, ERROR)
# observed field -> the expectation field that predicts it
COMPARED = {
    "status": "status", "message": "message", "status_after": "status_after",
    "www_authenticate": "www_authenticate", "audit_user": "audit_user",
    "restart_shape": "restart_shape", "ever_ready": "ever_ready",
    "restart_cause": "restart_cause", "probe_status": "probe_status", "up": "comes_up",
    "exit_code": "exit_code",
}


@dataclass
class Change:
    profile: str
    scenario: str
    old: CellRecord | None
    new: CellRecord | None
    fields: list[str] = field(default_factory=list)
    kind: str = ""

    @property
    def versions(self) -> str:
        old = self.old.version if self.old else None
        new = self.new.version if self.new else None
        return f"{old} → {new}" if old and new and old != new else str(new or old)


def pair_versions(old: list[str], new: list[str]) -> dict[str, str | None]:
    """NEW version -> the OLD version it is compared with (None when OLD has none)."""
    old_sorted = sorted(old, key=version_key)
    pairs: dict[str, str | None] = {}
    for version in new:
        if version in old:
            pairs[version] = version
            continue
        lower = [v for v in old_sorted if version_key(v) < version_key(version)]
        higher = [v for v in old_sorted if v not in new]
        pairs[version] = lower[-1] if lower else (higher[0] if higher else None)
    return pairs


def changed_fields(old: CellRecord, new: CellRecord) -> list[str]:
    fields = ["outcome"] if old.outcome != new.outcome else []
    return fields + [name for name in COMPARED if old.observed.get(name) !=
                     new.observed.get(name)]


def predicted_kind(row: dict) -> str:
    """The outcome a row predicts for a cell that behaves as it says."""
    if row.get("na"):
        return NA
    return EXPECTED_FAILURE if is_expected_failure(row) else PASS


def _explained(name: str, old: CellRecord, new: CellRecord) -> bool:
    """Whether the two cells' rows say this field changes between them."""
    if name == "outcome":
        return (predicted_kind(old.expected) != predicted_kind(new.expected)
                and new.outcome == predicted_kind(new.expected))
    if NA in (old.outcome, new.outcome):
        return True  # the scenario applies on one side only: its observations go with it
    governing = COMPARED[name]
    return old.expected.get(governing) != new.expected.get(governing)


def classify(old: CellRecord, new: CellRecord, fields: list[str]) -> str:
    before, after = old.outcome, new.outcome
    if after in FAILING:
        return STILL_FAILING if before in FAILING else REGRESSION
    if after == SKIPPED:
        return CHANGED if before == SKIPPED else REGRESSION
    if after == NA and not new.expected.get("na"):
        return REGRESSION  # n/a that its own row does not give
    if before in (*FAILING, SKIPPED) and after in (PASS, EXPECTED_FAILURE):
        return FIXED
    explained = old.version != new.version and all(_explained(f, old, new) for f in fields)
    if explained:
        return EXPECTED
    if before != after:
        # n/a that now runs and passes on the same version: the rows were edited, nothing broke
        return CHANGED if before == NA and after in (PASS, EXPECTED_FAILURE) else REGRESSION
    return CHANGED


def compare(old: Outcomes, new: Outcomes) -> tuple[list[Change], dict[str, str | None], int]:
    """(changes, version pairs, number of cells compared)."""
    pairs = pair_versions(old.versions, new.versions)
    old_cells = {c.key: c for c in old.cells}
    used: set[tuple[str, str, str]] = set()
    changes, compared = [], 0
    order = sorted(new.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version)))
    for cell in order:
        base = pairs.get(cell.version)
        before = old_cells.get((cell.profile, cell.scenario, base)) if base else None
        if before is None:
            kind = REGRESSION if cell.outcome in (*FAILING, SKIPPED) else ADDED
            changes.append(Change(cell.profile, cell.scenario, None, cell, ["cell"], kind))
            continue
        compared += 1
        used.add(before.key)
        fields = changed_fields(before, cell)
        if fields:
            changes.append(Change(cell.profile, cell.scenario, before, cell, fields,
                                  classify(before, cell, fields)))
    for cell in sorted(old.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version))):
        if cell.key not in used:
            changes.append(Change(cell.profile, cell.scenario, cell, None, ["cell"], REMOVED))
    return changes, pairs, compared


def counts(changes: list[Change]) -> dict[str, int]:
    return {kind: sum(1 for c in changes if c.kind == kind) for kind in CLASSES}


def summary_line(changes: list[Change], compared: int) -> str:
    found = counts(changes)
    regressions = found[REGRESSION]
    head = (f"**{regressions} regression{'s' if regressions != 1 else ''}**" if regressions
            else "No regression")
    changed = sum(1 for c in changes if c.old and c.new)
    rest = ", ".join(f"{found[k]} {k}" for k in CLASSES if found[k])
    return (f"{head}: {changed} of {compared} compared cells changed"
            + (f" ({rest})" if rest else "") + ".")


def _md(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return one_line(text, 90).replace("|", "\\|")


def _describe(cell: CellRecord | None) -> str:
    return "—" if cell is None else f"**{cell.outcome}** {_md(cell.message)}".strip()


def _what(change: Change) -> str:
    if change.old is None or change.new is None:
        return "only in " + ("NEW" if change.old is None else "OLD")
    parts = []
    for name in change.fields:
        if name == "outcome":
            parts.append(f"outcome {change.old.outcome} → {change.new.outcome}")
            continue
        before, after = (f"`{_md(c.observed[name])}`" if name in c.observed else "(none)"
                         for c in (change.old, change.new))
        parts.append(f"{name} {before} → {after}")
    return "; ".join(parts)


def render(old: Outcomes, new: Outcomes, changes: list[Change], pairs: dict[str, str | None],
           compared: int) -> str:
    old_id = old.run.get("id") or str(old.path.parent)
    new_id = new.run.get("id") or str(new.path.parent)
    mapping = ", ".join(f"{b} → {v}" if b != v else v for v, b in sorted(
        pairs.items(), key=lambda kv: version_key(kv[0])) if b)
    out = [f"### authprobe diff: `{old_id}` → `{new_id}`", "", summary_line(changes, compared),
           ""]
    if mapping:
        out += [f"Kubernetes versions compared: {mapping}", ""]
    if not changes:
        out.append("Every cell has the same outcome and observations in both runs.")
        return "\n".join(out) + "\n"
    out += ["| class | profile | scenario | Kubernetes | before | after | what changed |",
            "|---|---|---|---|---|---|---|"]
    for change in sorted(changes, key=lambda c: (CLASSES.index(c.kind), c.profile, c.scenario)):
        kind = f"**{change.kind}**" if change.kind == REGRESSION else change.kind
        out.append(f"| {kind} | {change.profile} | {change.scenario} | {change.versions} | "
                   f"{_describe(change.old)} | {_describe(change.new)} | {_what(change)} |")
    return "\n".join(out) + "\n"

