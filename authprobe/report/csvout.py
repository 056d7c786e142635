"""``restarts.csv``: every restart sample of the run, one row each."""

from __future__ import annotations

import csv
import io
from pathlib import Path

FILENAME = "restarts.csv"
COLUMNS = ("cluster", "profile", "version", "t", "restarts", "ready", "last_reason", "source")


def render(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in document.get("restart_series", []):
        for sample in entry.get("samples", []):
            writer.writerow([
                entry.get("cluster", ""),
                entry.get("profile") or "",
                entry.get("version") or "",
                f"{float(sample['t']):.1f}",
                int(sample["restarts"]),
                "true" if sample.get("ready") else "false",
                sample.get("last_reason") or "",
                sample.get("source", ""),
            ])
    return buffer.getvalue()


def write(document: dict, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(render(document))
    return path
