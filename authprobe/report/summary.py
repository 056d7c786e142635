"""The matrix in a few console lines, printed at the end of a run.

One line per profile with one mark per scenario for each Kubernetes version, then the
cells that failed or errored with their message, the counts and the report's path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from .matrix import LABELS, counts_line, grid
from .outcomes import ERROR, EXPECTED_FAILURE, FAIL, NA, PASS, SKIPPED, Cell, one_line

MARKS = {PASS: ".", EXPECTED_FAILURE: "x", FAIL: "F", ERROR: "E", NA: "-", SKIPPED: "s"}
NOT_RUN = " "
MAX_LISTED = 15
MAX_PHASES = 5


def lines(document: dict, run_dir: Path) -> list[str]:
    cells = [Cell.from_dict(c) for c in document.get("cells", [])]
    rows, versions, lookup = grid(cells)
    profiles = list(dict.fromkeys(p for p, _ in rows))
    scenarios = list(dict.fromkeys(s for _, s in rows))
    out = []
    if rows:
        out.append("marks: " + "  ".join(f"{MARKS[k]} {LABELS[k]}" for k in MARKS))
        out.extend(textwrap.wrap("one mark per scenario, in this order: "
                                 + ", ".join(scenarios), width=100,
                                 subsequent_indent="  "))
        first = max(len(p) for p in profiles) + 2
        width = max(len(scenarios), *(len(v) for v in versions))
        out.append(" " * first + "  ".join(v.ljust(width) for v in versions).rstrip())
        for profile in profiles:
            marks = []
            for version in versions:
                row = "".join(
                    MARKS[cell.outcome] if (cell := lookup.get((profile, s, version)))
                    else NOT_RUN for s in scenarios)
                marks.append(row.ljust(width))
            out.append(profile.ljust(first) + "  ".join(marks).rstrip())
    bad = [c for c in cells if c.outcome in (FAIL, ERROR)]
    for cell in bad[:MAX_LISTED]:
        out.append(f"{LABELS[cell.outcome]}: {cell.profile} {cell.scenario} {cell.version}: "
                   f"{one_line(cell.message, 110)}")
    if len(bad) > MAX_LISTED:
        out.append(f"... and {len(bad) - MAX_LISTED} more failed or errored cells")
    out.append(f"outcomes: {counts_line(cells)}")
    failed = [p for p in document.get("phases", []) if p.get("outcome") == "failed"]
    for phase in failed[:MAX_PHASES]:
        out.append(f"cluster {phase['cluster']}: {phase['phase']} failed: "
                   f"{one_line(phase.get('message', ''), 110)}".rstrip(": "))
    if len(failed) > MAX_PHASES:
        out.append(f"... and {len(failed) - MAX_PHASES} more failed cluster phases")
    out.append(f"report: {run_dir / 'matrix.html'}")
    return out
