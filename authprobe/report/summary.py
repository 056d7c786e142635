"""The matrix in a few console lines, printed at the end of a run.

One line per profile with one mark per scenario for each Kubernetes version, then the
cells no row judged (with the command that records their rows) and the count of those
recorded rows judged, the cells that failed or errored with their message, the run's
problems, the cluster phases that failed, the count per outcome kind and the report's path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..model.outcome import ERROR, FAIL, LABELS, CellRecord
from ..model.summary import one_line
from .grid import HTML_FILENAME, MARKS, Lookup, cells_of, counts_line, grid, scenario_order
from .judged import console_lines

NOT_RUN = " "
MAX_LISTED = 15
MAX_PHASES = 5
WIDTH = 100


def legend_line() -> str:
    return "marks: " + "  ".join(f"{MARKS[kind]} {LABELS[kind]}" for kind in MARKS)


def mark_lines(cells: list[CellRecord]) -> list[str]:
    """The legend, the scenario order, a header of versions and one line per profile."""
    rows, versions, lookup = grid(cells)
    if not rows:
        return []
    profiles = list(dict.fromkeys(p for p, _ in rows))
    scenarios = scenario_order(rows)
    out = [legend_line(), *textwrap.wrap("one mark per scenario, in this order: "
                                         + ", ".join(scenarios), width=WIDTH,
                                         subsequent_indent="  ")]
    first = max(len(p) for p in profiles) + 2
    width = max(len(scenarios), *(len(v) for v in versions))
    out.append(" " * first + "  ".join(v.ljust(width) for v in versions).rstrip())
    for profile in profiles:
        marks = [_marks(lookup, profile, scenarios, version).ljust(width) for version in versions]
        out.append(profile.ljust(first) + "  ".join(marks).rstrip())
    return out


def _marks(lookup: Lookup, profile: str, scenarios: list[str], version: str) -> str:
    cells = (lookup.get((profile, scenario, version)) for scenario in scenarios)
    return "".join(MARKS[cell.outcome] if cell else NOT_RUN for cell in cells)


def _capped(lines: list[str], cap: int, what: str) -> list[str]:
    more = [f"... and {len(lines) - cap} more {what}"] if len(lines) > cap else []
    return lines[:cap] + more


def failure_lines(cells: list[CellRecord], problems: list[str]) -> list[str]:
    """Failed and errored cells with their message; the cells a run problem stopped (their
    message is that problem) are counted on one line, not listed one by one."""
    bad = [c for c in cells if c.outcome in (FAIL, ERROR)]
    stopped = [c for c in bad if c.message in problems or any(
        c.message == one_line(p) for p in problems)]
    listed = [c for c in bad if c not in stopped]
    out = _capped([f"{LABELS[c.outcome]}: {c.profile} {c.scenario} {c.version}: "
                   f"{one_line(c.message, 110)}" for c in listed], MAX_LISTED,
                  "failed or errored cells")
    if stopped:
        out.append(f"error: {len(stopped)} cells not run, for the problems below")
    return out


def phase_lines(phases: list[dict]) -> list[str]:
    failed = [p for p in phases if p.get("outcome") == "failed"]
    return _capped([f"cluster {p['cluster']}: {p['phase']} failed"
                    + (f": {one_line(p['message'], 110)}" if p.get("message") else "")
                    for p in failed], MAX_PHASES, "failed cluster phases")


def lines(document: dict, run_dir: Path) -> list[str]:
    """The console lines of a run's outcome document."""
    cells = cells_of(document)
    found = document.get("run", {}).get("problems", [])
    problems = [f"problem: {one_line(line, 140)}" for line in found]
    return [*mark_lines(cells), *console_lines(cells, run_dir), *failure_lines(cells, found),
            *problems,
            *phase_lines(document.get("phases", [])), f"outcomes: {counts_line(cells)}",
            f"report: {run_dir / HTML_FILENAME}"]
