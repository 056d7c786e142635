"""``authprobe diff OLD NEW``: every cell whose outcome or observations changed between two
runs, classed, in Markdown for a pull-request comment.

Cells are matched by profile and scenario; a version present in both runs is compared with
itself, a version only in NEW with the nearest lower version of OLD (an upgrade from 1.34 to
1.36 compares the 1.34 cells with the 1.36 cells). Every declared observation
(``scenarios/observations.yaml``) is compared, as its declaration says (exactly, as a set, or
within a tolerance). Each changed field is judged against the expectation rows:

- *explained*: the two versions' rows differ in the expectation field that predicts it, and
  the newer row predicts the new value;
- *allowed*: the newer row predicts the new value, but the rows do not single the change out
  (the same version, or the same row on both sides);
- *unpredicted*: no row predicts the new value (or no expectation field predicts the field).

A set whose rows give it as each minor's changes (``match: changes``, such as the rules of
the default roles) is explained only when the items added and removed between the two cells
are exactly those the rows between their versions add and remove; any other change of it,
and any change on the same version, is unpredicted. The diff names the items added and
removed of every set it compares as a set (``compare: set``).

A field that comes or goes with its cell's outcome (a cell n/a on one side, such as every
cell of a profile on its first supported minor) goes with the outcome's verdict, but where
the row of the cell that recorded it predicts it, a value that row does not predict is
unpredicted, as beside any other pass.

The classes:

- ``regression``: the new cell fails or errors; or it is skipped (it could not run); or a
  field changed that no row predicts (a pass that became n/a on the same version is one).
- ``still failing``: it failed or errored before and after. ``removed``: only in OLD. Both
  make the diff fail, like a regression.
- ``expected``: every change is explained (a 403 that became a 401, a cell that is n/a on
  the newer version, a probe that kills where the newer row says it does).
- ``fixed``: it failed, errored or was skipped, and now passes.
- ``switched``: it passes in both runs under rows that list alternative outcomes (a set
  of fields that hold together, such as the probe that kills and its time range), took a
  different alternative in each, and every change is one the new alternative predicts.
- ``changed``: it passes in both runs, and every change is allowed by its row.
- ``added``: only in NEW, passing.
- ``not judged``: NEW has no expectation row for it (a scenario newer than a team's rows);
  it does not make the diff fail. A cell judged by a row recorded from a run (``authprobe
  rows record``) rather than written from facts is marked so in the table.

A cell's row with alternatives is read as the alternative the cell took (recorded by the run,
or, in a report of an older authprobe, the first whose fields hold for what it observed).

Exit status: 1 when there is a regression, a still-failing or a removed cell (and, with
``fail_on_switch``, a switched one); 0 when there is none; 2 on bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import AuthprobeError
from ..model import setchanges
from ..model.expectations import is_expected_failure, recorded_from, taken, with_alternative
from ..model.observations import Declarations, Observation
from ..model.outcome import (
    ERROR,
    EXPECTED_FAILURE,
    FAIL,
    NA,
    NOT_JUDGED,
    PASS,
    SKIPPED,
    CellRecord,
)
from ..model.predictions import NOT_PREDICTED, disagreement, prediction
from ..model.summary import one_line
from ..model.versions import KubeVersion, version_key, version_table
from .document import Outcomes

REGRESSION = "regression"
EXPECTED = "expected"
FIXED = "fixed"
CHANGED = "changed"
SWITCHED = "switched"
STILL_FAILING = "still failing"
ADDED = "added"
REMOVED = "removed"
UNJUDGED = "not judged"
CLASSES = (REGRESSION, STILL_FAILING, REMOVED, SWITCHED, EXPECTED, FIXED, CHANGED, ADDED,
           UNJUDGED)
# The classes that make the diff fail.
FAILS = (REGRESSION, STILL_FAILING, REMOVED)
FAILING = (FAIL, ERROR)
EXPLAINED = "explained"
ALLOWED = "allowed"
UNPREDICTED = "unpredicted"
OUTCOME = "outcome"


@dataclass
class Change:
    profile: str
    scenario: str
    old: CellRecord | None
    new: CellRecord | None
    fields: list[str] = field(default_factory=list)
    kind: str = ""
    judged: dict[str, str] = field(default_factory=dict)  # field -> explained, allowed, ...
    # the row alternative each side took (None: its row lists none, or none held)
    alternatives: tuple[str | None, str | None] = (None, None)
    # each changed field compared as a set: (items added, items removed)
    items: dict[str, tuple[list, list]] = field(default_factory=dict)

    @property
    def switched(self) -> bool:
        """Whether the cell took one of its rows' alternatives on each side, not the same."""
        before, after = self.alternatives
        return before is not None and after is not None and before != after

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


@dataclass(frozen=True)
class Context:
    """What a comparison needs besides the two cells: the declared observations, and the
    fields each run recorded at all (a field one run never recorded is not compared)."""

    declarations: Declarations
    comparable: frozenset[str]
    not_compared: tuple[str, ...] = ()


def context(old: Outcomes, new: Outcomes) -> Context:
    declarations = new.declarations
    for item in old.declarations:
        if item.name not in declarations:
            declarations.by_name[item.name] = item
    both, either = old.recorded & new.recorded, old.recorded | new.recorded
    declared = {name for name in both if name in declarations}
    return Context(declarations, frozenset(declared), tuple(sorted(either - declared)))


def changed_fields(old: CellRecord, new: CellRecord, ctx: Context) -> list[str]:
    fields = [OUTCOME] if old.outcome != new.outcome else []
    for declared in ctx.declarations:
        if declared.name in ctx.comparable and declared.differs(
                old.observed.get(declared.name), new.observed.get(declared.name)):
            fields.append(declared.name)
    return fields


def alternative_of(cell: CellRecord, ctx: Context) -> str | None:
    """The alternative of its row the cell took: as its run recorded it, or for a report
    that did not record it (an older authprobe), the first that holds for what it saw."""
    if cell.alternative is not None:
        return cell.alternative
    return taken(cell.expected, cell.observed, ctx.declarations)


def row_of(cell: CellRecord, ctx: Context) -> dict:
    """The cell's row as it reads with the alternative the cell took."""
    return with_alternative(cell.expected, alternative_of(cell, ctx))


def predicted_kind(row: dict) -> str:
    """The outcome a row predicts for a cell that behaves as it says."""
    if row.get("na"):
        return NA
    return EXPECTED_FAILURE if is_expected_failure(row) else PASS


def judge(name: str, old: CellRecord, new: CellRecord, ctx: Context) -> str:
    """Whether the rows explain, allow, or do not predict the change of one field."""
    other_version = old.version != new.version
    gone_with_outcome = old.outcome != new.outcome and name not in new.observed
    if name == OUTCOME or NA in (old.outcome, new.outcome) or gone_with_outcome:
        # A scenario that applies on one side only, or a field the new outcome does not
        # record (no probes to audit when the apiserver never comes up): its observations
        # go with its outcome.
        rows_differ = predicted_kind(old.expected) != predicted_kind(new.expected)
        if new.outcome != predicted_kind(new.expected) or not rows_differ:
            return UNPREDICTED
        if name != OUTCOME and not as_rows_predict(name, (old, new), ctx):
            return UNPREDICTED
        return EXPLAINED if other_version else ALLOWED
    declared = ctx.declarations.get(name)
    if declared is not None and declared.follows and other_version:
        return EXPLAINED if _moved_by_fact(declared.follows, old, new, name) else UNPREDICTED
    if declared is not None and declared.match == setchanges.MATCH:
        return _judge_set(declared, old, new, ctx)
    row = (NOT_PREDICTED if declared is None
           else prediction(declared, row_of(new, ctx)))
    if row is NOT_PREDICTED or not declared.predicts(row, new.observed.get(name)):
        return UNPREDICTED
    # the older row read with the newer cell's alternative: a switch between the alternatives
    # of one row is allowed by it, not explained by a change of rows
    before = prediction(declared, with_alternative(old.expected, alternative_of(new, ctx)))
    return EXPLAINED if other_version and before != row else ALLOWED


def _judge_set(declared: Observation, old: CellRecord, new: CellRecord, ctx: Context) -> str:
    """A set the rows give as each minor's changes: explained when it changed by exactly
    what the rows between the two versions add and remove."""
    rows = [prediction(declared, row_of(cell, ctx)) for cell in (old, new)]
    before, after = (None if row is NOT_PREDICTED else row for row in rows)
    values = (old.observed.get(declared.name), new.observed.get(declared.name))
    added, removed = setchanges.predicted_change(before, after)
    if not (added or removed) or not setchanges.change_predicted(before, after, *values):
        return UNPREDICTED
    return EXPLAINED if old.version != new.version else ALLOWED


def as_rows_predict(name: str, cells: tuple[CellRecord, ...], ctx: Context) -> bool:
    """Whether each cell that recorded a field which comes or goes with its outcome (a cell
    n/a on one side: a profile's first supported minor) recorded what its own row predicts
    of it, as any other field is judged; a field its row predicts nothing of goes with the
    outcome."""
    declared = ctx.declarations.get(name)
    if declared is None:
        return True
    return not any(disagreement(declared, row_of(cell, ctx), cell.observed[name])
                   for cell in cells if name in cell.observed)


def _moved_by_fact(fact: str, old: CellRecord, new: CellRecord, name: str) -> bool:
    """Whether a value moved between two versions by exactly the difference of the version
    fact the harness adds to it (and the fact differs)."""
    before, after = old.observed.get(name), new.observed.get(name)
    if not all(isinstance(v, (int, float)) for v in (before, after)):
        return False
    try:
        table = version_table()
        shift = (float(getattr(table.facts_for(KubeVersion.parse(new.version)), fact))
                 - float(getattr(table.facts_for(KubeVersion.parse(old.version)), fact)))
    except (AuthprobeError, ValueError, TypeError):
        return False
    return shift != 0 and abs(before + shift - after) < 1e-6


def classify(old: CellRecord, new: CellRecord, judged: dict[str, str],
             switched: bool = False) -> str:
    before, after = old.outcome, new.outcome
    if after == NOT_JUDGED:
        return UNJUDGED
    if after in FAILING:
        return STILL_FAILING if before in FAILING else REGRESSION
    if after == SKIPPED:
        return CHANGED if before == SKIPPED else REGRESSION
    if after == NA and not new.expected.get("na"):
        return REGRESSION  # n/a that its own row does not give
    if before in (*FAILING, SKIPPED) and after in (PASS, EXPECTED_FAILURE):
        return FIXED
    verdicts = set(judged.values())
    if UNPREDICTED in verdicts:
        return REGRESSION
    if switched:
        return SWITCHED
    return EXPECTED if verdicts == {EXPLAINED} else CHANGED


def compare(old: Outcomes, new: Outcomes) -> tuple[list[Change], dict[str, str | None], int]:
    """(changes, version pairs, number of cells compared)."""
    ctx = context(old, new)
    pairs = pair_versions(old.versions, new.versions)
    old_cells = {c.key: c for c in old.cells}
    used: set[tuple[str, str, str]] = set()
    changes, compared = [], 0
    order = sorted(new.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version)))
    for cell in order:
        base = pairs.get(cell.version)
        before = old_cells.get((cell.profile, cell.scenario, base)) if base else None
        if before is None:
            kind = (REGRESSION if cell.outcome in (*FAILING, SKIPPED)
                    else UNJUDGED if cell.outcome == NOT_JUDGED else ADDED)
            changes.append(Change(cell.profile, cell.scenario, None, cell, ["cell"], kind))
            continue
        compared += 1
        used.add(before.key)
        fields = changed_fields(before, cell, ctx)
        taken_by = (alternative_of(before, ctx), alternative_of(cell, ctx))
        switched = None not in taken_by and taken_by[0] != taken_by[1]
        # a cell failing in both runs is listed too, and so is a switch of alternatives
        if fields or cell.outcome in FAILING or switched:
            judged = {name: judge(name, before, cell, ctx) for name in fields}
            changes.append(Change(cell.profile, cell.scenario, before, cell, fields,
                                  classify(before, cell, judged, switched), judged, taken_by,
                                  set_items(before, cell, fields, ctx)))
    for cell in sorted(old.cells, key=lambda c: (c.profile, c.scenario, version_key(c.version))):
        if cell.key not in used:
            changes.append(Change(cell.profile, cell.scenario, cell, None, ["cell"], REMOVED))
    return changes, pairs, compared


def set_items(old: CellRecord, new: CellRecord, fields: list[str],
              ctx: Context) -> dict[str, tuple[list, list]]:
    """(items added, items removed) of each changed field compared as a set whose values
    are lists on both sides, items in order."""
    found = {}
    for name in fields:
        declared = ctx.declarations.get(name)
        before, after = old.observed.get(name), new.observed.get(name)
        if (declared is not None and declared.compare == "set"
                and isinstance(before, list) and isinstance(after, list)):
            found[name] = (sorted((v for v in after if v not in before), key=json.dumps),
                           sorted((v for v in before if v not in after), key=json.dumps))
    return found


def not_compared(old: Outcomes, new: Outcomes) -> tuple[str, ...]:
    """Observed fields only one of the runs recorded at all (an older authprobe's, or a
    scenario that ran on one side only), or that are no longer declared: named under the
    diff, never counted as changes."""
    return context(old, new).not_compared


def counts(changes: list[Change]) -> dict[str, int]:
    return {kind: sum(1 for c in changes if c.kind == kind) for kind in CLASSES}


def failed(changes: list[Change], fail_on_switch: bool = False) -> bool:
    """Whether the diff fails: a regression, a still-failing or a removed cell; with
    ``fail_on_switch``, also a cell that switched between its rows' alternatives."""
    return any(c.kind in FAILS or (fail_on_switch and c.kind == SWITCHED) for c in changes)


def summary_line(changes: list[Change], compared: int, fail_on_switch: bool = False) -> str:
    found = counts(changes)
    regressions = sum(found[k] for k in FAILS)
    head = (f"**{regressions} regression{'s' if regressions != 1 else ''}**" if regressions
            else "No regression")
    switches = switch_words(changes)
    if switches:
        head += (f", **{switches}** (fails with --fail-on-switch)" if fail_on_switch
                 else f", {switches}")
    changed = sum(1 for c in changes if c.old and c.new and (c.fields or c.switched))
    rest = ", ".join(f"{found[k]} {k}" for k in CLASSES if found[k])
    recorded = sum(1 for c in changes if c.new and recorded_from(c.new.expected))
    return (f"{head}: {changed} of {compared} compared cells changed"
            + (f" ({rest})" if rest else "")
            + (f"; {recorded} of the listed cells judged by recorded rows" if recorded else "")
            + ".")


def switch_words(changes: list[Change]) -> str:
    """The switches between alternatives, each named: "1 switch of alternatives (anon-off
    apiserver_restarts: liveness-kill → startup-kill)"; empty when there is none."""
    found = [c for c in changes if c.switched]
    if not found:
        return ""
    named = "; ".join(f"{c.profile} {c.scenario}: {c.alternatives[0]} → {c.alternatives[1]}"
                      for c in found)
    return f"{len(found)} switch{'es' if len(found) != 1 else ''} of alternatives ({named})"


def _md(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return one_line(text, 90).replace("|", "\\|")


def _describe(cell: CellRecord | None, alternative: str | None = None) -> str:
    if cell is None:
        return "—"
    took = f" (alternative `{alternative}`)" if alternative else ""
    mark = recorded_from(cell.expected)
    by = f" (recorded row: run `{mark['run']}`, {mark['version']})" if mark else ""
    return f"**{cell.outcome}** {_md(cell.message)}".strip() + took + by


# How a changed field's verdict reads beside it (an explained change needs no word).
VERDICT_WORDS = {UNPREDICTED: "no row predicts it", ALLOWED: "its row allows it"}
# The pseudo-field a switch between a row's alternatives reads as, and its words.
ALTERNATIVE = "alternative"
SWITCH_WORDS = "a switch between the row's alternatives"
ABSENT = object()


def verdict_words(change: Change, name: str) -> str:
    """What the diff says of one changed field beyond the change itself."""
    words = VERDICT_WORDS.get(change.judged.get(name), "")
    return "" if name == OUTCOME and words == VERDICT_WORDS[ALLOWED] else words


def field_changes(change: Change) -> list[tuple[str, object, object, str]]:
    """(field, before, after, verdict words) of every changed field of a cell in both runs;
    the outcome's values are outcome kinds, a field a cell did not record is ``ABSENT``."""
    if change.old is None or change.new is None:
        return []
    found = []
    if change.switched:
        found.append((ALTERNATIVE, *change.alternatives, SWITCH_WORDS))
    for name in change.fields:
        if name == OUTCOME:
            before, after = change.old.outcome, change.new.outcome
        else:
            before, after = (c.observed.get(name, ABSENT) for c in (change.old, change.new))
        found.append((name, before, after, verdict_words(change, name)))
    return found


def set_words(added: list, removed: list) -> str:
    """The items a set changed by, each named: "added `a`, `b`; removed `c`"."""
    parts = [f"{word} " + ", ".join(f"`{_item(v)}`" for v in items)
             for word, items in (("added", added), ("removed", removed)) if items]
    return "; ".join(parts) or "the same items"


def _item(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return " ".join(text.split()).replace("|", "\\|").replace("`", "'")


def _what(change: Change) -> str:
    if change.old is None or change.new is None:
        return "only in " + ("NEW" if change.old is None else "OLD")
    if not change.fields and not change.switched:
        return "fails in both runs"
    parts = []
    for name, before, after, words in field_changes(change):
        if name in change.items:
            parts.append(f"{name}: {set_words(*change.items[name])}"
                         + (f" ({words})" if words else ""))
            continue
        shown = [str(v) if name == OUTCOME else "(none)" if v is ABSENT else f"`{_md(v)}`"
                 for v in (before, after)]
        parts.append(f"{name} {shown[0]} → {shown[1]}" + (f" ({words})" if words else ""))
    return "; ".join(parts)


def render(old: Outcomes, new: Outcomes, changes: list[Change], pairs: dict[str, str | None],
           compared: int, fail_on_switch: bool = False) -> str:
    old_id = old.run.get("id") or str(old.path.parent)
    new_id = new.run.get("id") or str(new.path.parent)
    mapping = ", ".join(f"{b} → {v}" if b != v else v for v, b in sorted(
        pairs.items(), key=lambda kv: version_key(kv[0])) if b)
    out = [f"### authprobe diff: `{old_id}` → `{new_id}`", "",
           summary_line(changes, compared, fail_on_switch), ""]
    if mapping:
        out += [f"Kubernetes versions compared: {mapping}", ""]
    skipped = not_compared(old, new)
    footer = ([f"Not compared (recorded by one run only, or no longer declared): "
               f"{', '.join(skipped)}.", ""]
              if skipped else [])
    if not changes:
        out.append("Every cell has the same outcome and observations in both runs.")
        return "\n".join(out + ([""] + footer if footer else [])).rstrip("\n") + "\n"
    out += ["| class | profile | scenario | Kubernetes | before | after | what changed |",
            "|---|---|---|---|---|---|---|"]
    for change in sorted(changes, key=lambda c: (CLASSES.index(c.kind), c.profile, c.scenario)):
        failing = change.kind in FAILS or (fail_on_switch and change.kind == SWITCHED)
        kind = f"**{change.kind}**" if failing else change.kind
        out.append(f"| {kind} | {change.profile} | {change.scenario} | {change.versions} | "
                   f"{_describe(change.old, change.alternatives[0])} | "
                   f"{_describe(change.new, change.alternatives[1])} | {_what(change)} |")
    return "\n".join(out + ([""] + footer if footer else [])).rstrip("\n") + "\n"

