"""The compact matrix: per profile, one row per scenario with one mark per version, and the
row's messages each said once, for the run of adjacent versions that share it.

Messages that differ only in the version's own node image or patch (``node image
authprobe/node:v1.31.4-… has no Dashboard``) count as one; the mark of each version links to
its cell's whole message and evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..model.outcome import LABELS, CellRecord
from .changes import Item
from .grid import (
    CLASSES,
    HTML_MARKS,
    Lookup,
    Rows,
    cell_anchor,
    row_anchor,
    shown_message,
    span,
)

ELIDED = "…"


@dataclass
class Mark:
    """One version's cell in a row: its mark, and the change that leads to it, if any."""

    anchor: str
    kind: str
    css: str
    mark: str
    label: str
    title: str
    change: Item | None = None


@dataclass
class Run:
    """Adjacent versions of a row whose cells have the same kind and message."""

    versions: list[str]
    span: str
    kind: str
    css: str
    label: str
    message: str


@dataclass
class Row:
    profile: str
    scenario: str
    id: str
    marks: list[Mark | None]
    runs: list[Run]

    @property
    def uniform(self) -> bool:
        """Whether one kind and message holds on every version."""
        return len(self.runs) == 1 and None not in self.marks


@dataclass
class Block:
    """One profile's rows."""

    profile: str
    rows: list[Row] = field(default_factory=list)


def generic(cell: CellRecord) -> str:
    """The cell's message with its own node image and patch version left out."""
    text = shown_message(cell)
    for own in (cell.node_image, f"v{cell.version}"):
        if own:
            text = text.replace(own, ELIDED)
    return text


def same(first: str, second: str) -> bool:
    """Whether two messages say the same: equal, or both cut short (``…``) at points that
    differ only because what was left out differs in length."""
    if first == second:
        return True
    if not (first.endswith(ELIDED) and second.endswith(ELIDED)):
        return False
    first, second = first[:-1].rstrip(), second[:-1].rstrip()
    return first.startswith(second) or second.startswith(first)


def alike(cell: CellRecord, other: CellRecord) -> bool:
    """Same kind, and messages that say the same."""
    return cell.outcome == other.outcome and same(generic(cell), generic(other))


def runs(cells: Sequence[CellRecord | None], names: dict[str, str]) -> list[Run]:
    """The runs of adjacent versions with the same kind and message (cells not run have
    none)."""
    found: list[tuple[tuple[str, str], list[CellRecord]]] = []
    previous: CellRecord | None = None
    for cell in cells:
        if cell and previous and alike(cell, found[-1][1][0]):
            found[-1][1].append(cell)
        elif cell:
            found.append(((cell.outcome, generic(cell)), [cell]))
        previous = cell
    out = []
    for (kind, message), members in found:
        versions = [c.version for c in members]
        shown = shown_message(members[0]) if len(members) == 1 else message
        out.append(Run(versions, span(versions, names), kind, CLASSES[kind], LABELS[kind], shown))
    return out


def mark(cell: CellRecord, change: Item | None) -> Mark:
    title = f"{cell.version}: {LABELS[cell.outcome]}" + (
        f": {shown_message(cell)}" if cell.message else "")
    if change is not None:
        title += f" ({change.kind}, from {change.old.version})" if change.old else \
                 f" ({change.kind})"
    return Mark(cell_anchor(cell), cell.outcome, CLASSES[cell.outcome], HTML_MARKS[cell.outcome],
                LABELS[cell.outcome], title, change)


def blocks(rows: Rows, versions: list[str], lookup: Lookup, names: dict[str, str],
           changed: dict[tuple[str, str, str], Item]) -> list[Block]:
    """The matrix's rows grouped by profile, each with its marks and message runs."""
    out: list[Block] = []
    for profile, scenario in rows:
        if not out or out[-1].profile != profile:
            out.append(Block(profile))
        cells = [lookup.get((profile, scenario, v)) for v in versions]
        marks = [mark(c, changed.get(c.key)) if c else None for c in cells]
        out[-1].rows.append(Row(profile, scenario, row_anchor(profile, scenario), marks,
                                runs(cells, names)))
    return out
