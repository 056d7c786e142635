"""Reading the YAML files a team writes (access tables, RBAC manifests, recorded rows): a
file that cannot be read or parsed is one line naming what the file is and where it breaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError


def error_at(err: yaml.YAMLError) -> str:
    """`` at line N`` for a YAML error that knows where it is, else nothing."""
    mark = getattr(err, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def read_yaml(path: Path, what: str, *, documents: bool = False) -> Any:
    """The YAML of ``path`` (a list of its documents with ``documents``); ``what`` names the
    file in the one line of an error ("access table", "RBAC manifest")."""
    try:
        text = path.read_text()
    except OSError as err:
        raise AuthprobeError(f"{what} {path} cannot be read: {err.strerror}") from None
    try:
        return list(yaml.safe_load_all(text)) if documents else yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise AuthprobeError(f"{what} {path} is not valid YAML{error_at(err)}") from None
