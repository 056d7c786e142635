"""The report folder of a run: named by time and versions, created once, ``latest`` link."""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
from pathlib import Path

from ..model.versions import version_key

LATEST = "latest"
_lock = threading.Lock()


def run_id(started: _dt.datetime, minors: list[str]) -> str:
    """UTC date-time plus the Kubernetes minors, e.g. ``20261127T071500Z-k8s1.34-1.36``."""
    stamp = started.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    minors = [re.sub(r"[^A-Za-z0-9.]+", "_", m) for m in sorted(set(minors), key=version_key)]
    return f"{stamp}-k8s{'-'.join(minors)}" if minors else stamp


def create(root: Path, base: str) -> Path:
    """A new folder ``root/base`` (``base-2``, ... when taken); safe from several threads."""
    with _lock:
        root.mkdir(parents=True, exist_ok=True)
        path, counter = root / base, 1
        while True:
            try:
                path.mkdir()
                return path
            except FileExistsError:
                counter += 1
                path = root / f"{base}-{counter}"


def update_latest(folder: Path) -> Path:
    """Point ``<root>/latest`` at ``folder`` (a relative symlink, replaced atomically)."""
    link = folder.parent / LATEST
    tmp = folder.parent / f".{LATEST}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(folder.name, tmp)
    os.replace(tmp, link)
    return link
