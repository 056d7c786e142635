"""Which rows judged a run's cells: the cells no row judged (shown first, with the command
that records their rows), and those judged by rows recorded from an earlier run rather than
written from facts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..model.expectations import recorded_from
from ..model.outcome import NOT_JUDGED, CellRecord


def not_judged(cells: list[CellRecord]) -> list[CellRecord]:
    return [c for c in cells if c.outcome == NOT_JUDGED]


def by_recorded_rows(cells: list[CellRecord]) -> list[CellRecord]:
    return [c for c in cells if recorded_from(c.expected)]


def record_command(run_dir: Path | str) -> str:
    return f"authprobe rows record {run_dir} --into <your recorded.yaml>"


def recorded_line(cells: list[CellRecord]) -> str | None:
    """"12 cells judged by recorded rows (from run R on 1.33.13)"; None when none was."""
    found = by_recorded_rows(cells)
    if not found:
        return None
    sources = Counter(f"{m['run']} on {m['version']}"
                      for m in (recorded_from(c.expected) for c in found))
    return (f"{len(found)} cells judged by recorded rows (from run "
            + ", ".join(sorted(sources)) + ")")


def console_lines(cells: list[CellRecord], run_dir: Path) -> list[str]:
    """The run summary's lines about rows: the cells not judged, how to record their rows,
    and how many cells recorded rows judged."""
    out = []
    missing = not_judged(cells)
    if missing:
        profiles = sorted({c.profile for c in missing})
        out.append(f"not judged: {len(missing)} cells have no expectation row "
                   f"({', '.join(profiles)}); record their rows: {record_command(run_dir)}")
    line = recorded_line(cells)
    if line:
        out.append(line)
    return out
