"""What differs between adjacent Kubernetes versions of one report, classed and worded the
way ``authprobe diff --adjacent`` classes and words it (``report.diff``).

Each pair of adjacent versions gets the diff's summary line and its changes, grouped where
several scenarios of one profile changed the same way (a profile that stops coming up turns
ten passes into n/a at once); every change links to its two cells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..model.outcome import LABELS, CellRecord
from ..model.summary import one_line
from . import diff
from .by_version import of_version
from .document import FILENAME, Outcomes
from .grid import (
    CLASSES,
    HTML_MARKS,
    anchor,
    cell_anchor,
    cells_of,
    profiles_in,
    row_anchor,
    scenarios_in,
    shown_message,
)

VALUE_CHARS = 100
NONE = "(none)"


@dataclass
class Side:
    """One of a change's two cells, as a link."""

    anchor: str
    version: str
    kind: str
    label: str
    css: str
    mark: str
    message: str

    @classmethod
    def of(cls, cell: CellRecord) -> Side:
        return cls(cell_anchor(cell), cell.version, cell.outcome, LABELS[cell.outcome],
                   CLASSES[cell.outcome], HTML_MARKS[cell.outcome], shown_message(cell))


@dataclass
class Item:
    """One change: a scenario of a profile, its cells before and after, what changed."""

    kind: str
    profile: str
    scenario: str
    id: str
    row: str
    old: Side | None
    new: Side | None
    what: list[tuple[str, str, str, str]]  # (field, before, after, the rows' verdict); empty:
    # only on one side, or failing on both
    only: str = ""  # "only in the newer version" / "only in the older version"


@dataclass
class Group:
    """Changes of one class and profile whose outcomes went the same way."""

    kind: str
    profile: str
    items: list[Item]

    @property
    def old(self) -> Side | None:
        return self.items[0].old

    @property
    def new(self) -> Side | None:
        return self.items[0].new

    @property
    def message(self) -> str:
        """The newer cells' message when they all say the same, else empty."""
        found = {item.new.message if item.new else "" for item in self.items}
        return found.pop() if len(found) == 1 else ""


@dataclass
class Pair:
    """Two adjacent versions: the diff's summary line, and the changes grouped."""

    old: str
    new: str
    id: str
    summary: str  # Markdown: the regressions in **bold**
    compared: int
    groups: list[Group] = field(default_factory=list)
    not_compared: tuple[str, ...] = ()  # fields one side never recorded, or undeclared

    @property
    def changed(self) -> int:
        return sum(len(g.items) for g in self.groups)


def shown(value: object) -> str:
    """An observed value as the diff shows it: strings as they are, the rest as JSON."""
    if value is diff.ABSENT:
        return NONE
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return one_line(text, VALUE_CHARS)


def items_shown(word: str, items: list) -> str:
    """The items a set lost or gained, counted and named as far as they fit."""
    if not items:
        return NONE
    named = ", ".join(v if isinstance(v, str) else json.dumps(v, sort_keys=True)
                      for v in items)
    return one_line(f"{word} {len(items)}: {named}", VALUE_CHARS)


def what_changed(change: diff.Change) -> list[tuple[str, str, str, str]]:
    """(field, before, after, verdict) for every field the diff found changed, worded as
    the diff words it; a set reads as the items it lost and those it gained."""
    return [(name, str(before), str(after), words) if name == diff.OUTCOME else
            (name, items_shown("removed", change.items[name][1]),
             items_shown("added", change.items[name][0]), words) if name in change.items else
            (name, shown(before), shown(after), words)
            for name, before, after, words in diff.field_changes(change)]


def change_anchor(change: diff.Change) -> str:
    cell = change.new or change.old
    side = "" if change.new else "removed"
    return anchor("change", cell.version, side, change.profile, change.scenario)


def item(change: diff.Change) -> Item:
    only = ("only in the newer version" if change.old is None else
            "only in the older version" if change.new is None else "")
    return Item(change.kind, change.profile, change.scenario, change_anchor(change),
                row_anchor(change.profile, change.scenario),
                Side.of(change.old) if change.old else None,
                Side.of(change.new) if change.new else None, what_changed(change), only)


def group(changes: list[diff.Change]) -> list[Group]:
    """Changes grouped by class, profile and outcomes before and after, in the diff's class
    order, then the story's order of profiles and scenarios."""
    profiles = profiles_in([c.profile for c in changes])
    scenarios = scenarios_in([c.scenario for c in changes])
    order = sorted(changes, key=lambda c: (diff.CLASSES.index(c.kind), profiles.index(c.profile),
                                           scenarios.index(c.scenario)))
    groups: dict[tuple, Group] = {}
    for change in order:
        key = (change.kind, change.profile, change.old.outcome if change.old else None,
               change.new.outcome if change.new else None)
        groups.setdefault(key, Group(change.kind, change.profile, [])).items.append(item(change))
    return list(groups.values())


def outcomes(document: dict) -> Outcomes:
    """The document as the diff reads a loaded outcomes file."""
    return Outcomes(Path(FILENAME), document, cells_of(document))


def adjacent(document: dict) -> list[Pair]:
    """Every pair of adjacent versions of the document, older first; none for one version."""
    run = outcomes(document)
    versions = run.versions
    pairs = []
    for old, new in zip(versions, versions[1:], strict=False):
        before, after = of_version(run, old), of_version(run, new)
        changes, _, compared = diff.compare(before, after)
        pairs.append(Pair(old, new, anchor("pair", old, new),
                          diff.summary_line(changes, compared), compared, group(changes),
                          diff.not_compared(before, after)))
    return pairs


def not_compared(pairs: list[Pair]) -> list[tuple[str, tuple[str, ...]]]:
    """The fields the diff did not compare, with the pairs they hold for ("every pair"
    when they are the same for all)."""
    found: dict[tuple[str, ...], list[Pair]] = {}
    for pair in pairs:
        if pair.not_compared:
            found.setdefault(pair.not_compared, []).append(pair)
    if len(found) == 1 and len(next(iter(found.values()))) == len(pairs) > 1:
        return [("every pair", next(iter(found)))]
    return [(", ".join(f"{p.old} → {p.new}" for p in members), names)
            for names, members in found.items()]


def marked(pairs: list[Pair]) -> dict[tuple[str, str, str], Item]:
    """The newer cell of every change (profile, scenario, version) -> its change."""
    return {(i.profile, i.scenario, i.new.version): i
            for p in pairs for g in p.groups for i in g.items if i.new}


def bold_parts(markdown: str) -> list[tuple[str, bool]]:
    """A line with ``**bold**`` spans as (text, bold) parts, for a page that escapes text."""
    return [(part, index % 2 == 1) for index, part in enumerate(markdown.split("**")) if part]
