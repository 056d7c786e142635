"""``restarts.csv``: every kube-apiserver restart sample of the run, one row each, for a
spreadsheet or a plotting tool of one's own."""

from __future__ import annotations

import csv
import io
from pathlib import Path

FILENAME = "restarts.csv"
COLUMNS = ("cluster", "profile", "version", "t", "restarts", "ready", "last_reason", "source")


def _row(entry: dict, sample: dict) -> list:
    return [entry.get("cluster", ""), entry.get("profile") or "", entry.get("version") or "",
            f"{float(sample['t']):.1f}", int(sample["restarts"]),
            "true" if sample.get("ready") else "false", sample.get("last_reason") or "",
            sample.get("source", "")]


def render(document: dict) -> str:
    """The CSV text of every sample of every restart series of an outcomes document."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in document.get("restart_series", []):
        writer.writerows(_row(entry, sample) for sample in entry.get("samples", []))
    return buffer.getvalue()


def write(document: dict, run_dir: Path) -> Path:
    """Write ``restarts.csv`` into ``run_dir``."""
    path = run_dir / FILENAME
    path.write_text(render(document))
    return path
