"""Every report file of one outcomes document, written into a report folder."""

from __future__ import annotations

from pathlib import Path

from . import csvout, junit, matrix, plot
from . import document as _document


def write_all(document: dict, folder: Path) -> list[Path]:
    """Write ``outcomes.json`` and every file rendered from it into ``folder``; the paths."""
    return [_document.write(document, folder), junit.write(document, folder),
            *matrix.write(document, folder), csvout.write(document, folder),
            plot.write(document, folder)]
