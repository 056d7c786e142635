"""The grid every report page lays cells on: rows profile x scenario in the story's order,
columns Kubernetes versions; and how a cell kind is drawn (CSS class, symbol, mark).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from .. import paths
from ..errors import AuthprobeError
from ..model import expectations
from ..model.outcome import (
    ERROR,
    EXPECTED_FAILURE,
    FAIL,
    LABELS,
    MEANING,
    NA,
    NOT_JUDGED,
    OUTCOMES,
    PASS,
    SKIPPED,
    CellRecord,
)
from ..model.versions import version_key

HTML_FILENAME = "matrix.html"
NOT_RUN = "not run"

CLASSES = {PASS: "o-pass", EXPECTED_FAILURE: "o-expected-failure", FAIL: "o-fail",
           ERROR: "o-error", SKIPPED: "o-skipped", NA: "o-na", NOT_JUDGED: "o-not-judged"}
SYMBOLS = {PASS: "✅", EXPECTED_FAILURE: "☑️", FAIL: "❌", ERROR: "⚠️", SKIPPED: "⏭️",
           NA: "➖", NOT_JUDGED: "❔"}
# One character per kind, as the console summary draws it (the HTML draws ✓ for a pass).
MARKS = {PASS: ".", EXPECTED_FAILURE: "x", FAIL: "F", ERROR: "E", SKIPPED: "s", NA: "-",
         NOT_JUDGED: "?"}
HTML_MARKS = {**MARKS, PASS: "✓", NA: "–"}

Rows = list[tuple[str, str]]
Lookup = dict[tuple[str, str, str], CellRecord]


@functools.lru_cache(maxsize=1)
def story_order() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Profiles and scenarios in the order the shipped expectation file tells the story;
    empty when the file cannot be read (the matrix then keeps the run's order)."""
    try:
        table = expectations.load_files([paths.scenarios_dir() / "expectations.yaml"])
    except (AuthprobeError, RuntimeError):
        return (), ()
    pairs = table.pairs()
    return (tuple(dict.fromkeys(p for _, p, _ in pairs)),
            tuple(dict.fromkeys(s for s, _, _ in pairs)))


def ordered(known: Sequence[str], seen: Sequence[str]) -> list[str]:
    """``seen`` without repeats: the names ``known`` lists first, in its order."""
    present = set(seen)
    return list(dict.fromkeys([*(name for name in known if name in present), *seen]))


def grid(cells: Sequence[CellRecord]) -> tuple[Rows, list[str], Lookup]:
    """(rows, versions, lookup): rows are (profile, scenario) grouped by profile in the
    story's order, versions the columns, ``lookup[(profile, scenario, version)]`` a cell."""
    profiles = profiles_in([c.profile for c in cells])
    scenarios = scenarios_in([c.scenario for c in cells])
    rows = sorted({(c.profile, c.scenario) for c in cells},
                  key=lambda r: (profiles.index(r[0]), scenarios.index(r[1])))
    versions = sorted({c.version for c in cells}, key=version_key)
    return rows, versions, {c.key: c for c in cells}


def profiles_in(names: Sequence[str]) -> list[str]:
    """The profiles ``names`` (without repeats) in the story's order."""
    return ordered(story_order()[0], names)


def scenarios_in(names: Sequence[str]) -> list[str]:
    """The scenarios ``names`` (without repeats) in the story's order."""
    return ordered(story_order()[1], names)


def scenario_order(rows: Rows) -> list[str]:
    """The scenarios of ``rows`` in the story's order (for one mark column per scenario)."""
    return scenarios_in([s for _, s in rows])


def anchor(prefix: str, *parts: str) -> str:
    """An HTML id made of ``prefix`` and ``parts``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join([prefix, *map(str, parts)]))


def cell_anchor(cell: CellRecord) -> str:
    return anchor("cell", cell.profile, cell.scenario, cell.version)


def row_anchor(profile: str, scenario: str) -> str:
    return anchor("row", profile, scenario)


def cells_of(document: dict) -> list[CellRecord]:
    """The cell records of an outcomes document."""
    return [CellRecord.from_dict(c) for c in document.get("cells", [])]


def counts(cells: Sequence[CellRecord]) -> dict[str, int]:
    """Cells per outcome kind, every kind present."""
    found = Counter(c.outcome for c in cells)
    return {kind: found.get(kind, 0) for kind in OUTCOMES}


def counts_line(cells: Sequence[CellRecord]) -> str:
    """"3 pass, 1 fail": the kinds that occur, in the order of OUTCOMES."""
    parts = [f"{n} {LABELS[kind]}" for kind, n in counts(cells).items() if n]
    return ", ".join(parts) if parts else "no cells"


def legend() -> list[dict]:
    """Every outcome kind with its label, meaning, CSS class, Markdown symbol and mark."""
    return [{"kind": kind, "label": LABELS[kind], "meaning": MEANING[kind],
             "css": CLASSES[kind], "symbol": SYMBOLS[kind], "mark": HTML_MARKS[kind]}
            for kind in OUTCOMES]


def shown_message(cell: CellRecord) -> str:
    """The message next to the kind's label (which already says n/a)."""
    return cell.message.removeprefix("n/a: ") if cell.outcome == NA else cell.message


def size(count: int) -> str:
    """A byte count for people: bytes, KiB or MiB."""
    if count < 1024:
        return f"{count} bytes"
    return f"{count / 1024:.1f} KiB" if count < 1024 * 1024 else f"{count / 1048576:.1f} MiB"


def seconds(value: float | None) -> str:
    """Whole seconds with a unit, empty when unknown."""
    return "" if value is None else f"{float(value):.0f}s"


def short_versions(versions: Sequence[str]) -> dict[str, str]:
    """Each version as a column heading: its minor where no other column has that minor."""
    minors = Counter(".".join(v.split(".")[:2]) for v in versions)
    return {v: (minor if minors[minor] == 1 else v)
            for v in versions for minor in [".".join(v.split(".")[:2])]}


def span(versions: Sequence[str], names: dict[str, str]) -> str:
    """"1.19–1.30" for a run of adjacent columns (one name when it is one column)."""
    first, last = names[versions[0]], names[versions[-1]]
    return first if first == last else f"{first}–{last}"
