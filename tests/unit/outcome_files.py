"""Outcome files for the report and diff tests: a document written as ``outcomes.json`` into
a folder of its own, as a run leaves its report folder."""

from __future__ import annotations

import json
from pathlib import Path


def run_folder(tmp_path: Path, name: str, doc: dict) -> Path:
    """The folder ``tmp_path / name``, made, holding ``doc`` as its ``outcomes.json``."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "outcomes.json").write_text(json.dumps(doc))
    return folder
