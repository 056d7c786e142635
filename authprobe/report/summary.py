"""The matrix in a few console lines, printed at the end of a run."""

from __future__ import annotations

from pathlib import Path

from .matrix import LABELS, counts_line, grid
from .outcomes import Cell


def lines(document: dict, run_dir: Path) -> list[str]:
    cells = [Cell.from_dict(c) for c in document.get("cells", [])]
    rows, versions, lookup = grid(cells)
    out = []
    if rows:
        first = max(len(f"{p} {s}") for p, s in rows)
        width = max([len(LABELS[c.outcome]) for c in cells] + [len(v) for v in versions])
        out.append(" " * (first + 2) + "  ".join(v.ljust(width) for v in versions).rstrip())
        for profile, scenario in rows:
            marks = []
            for version in versions:
                cell = lookup.get((profile, scenario, version))
                marks.append((LABELS[cell.outcome] if cell else "-").ljust(width))
            out.append(f"{profile} {scenario}".ljust(first + 2) + "  ".join(marks).rstrip())
    out.append(f"outcomes: {counts_line(cells)}")
    for phase in document.get("phases", []):
        if phase.get("outcome") == "failed":
            out.append(f"cluster {phase['cluster']}: {phase['phase']} failed: "
                       f"{phase.get('message', '')}".rstrip(": "))
    out.append(f"report: {run_dir / 'matrix.html'}")
    return out
