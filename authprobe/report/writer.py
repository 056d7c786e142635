"""Every report file of one outcomes document, written into a report folder."""

from __future__ import annotations

from pathlib import Path

from . import csvout, junit, matrix, outcomes, plot


def write_all(document: dict, folder: Path) -> None:
    outcomes.write(document, folder)
    junit.write(document, folder)
    matrix.write(document, folder)
    csvout.write(document, folder)
    plot.write(document, folder)
