"""Reports of a run: ``reports/<run-id>/`` with JUnit, outcomes, matrix, restart series.

``run_dir(config)`` is the run's report folder, created on first use; the cluster harness
exports cluster logs into ``<run_dir>/logs/<cluster>/``. ``register_secret(value)`` makes
sure a credential never appears in any report file.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
from pathlib import Path

import pytest

from .. import paths
from .outcomes import minor_of, version_key
from .scrub import register_secret

__all__ = ["run_dir", "run_id", "reports_root", "register_secret", "update_latest"]

RUN_DIR_KEY = pytest.StashKey[Path]()
VERSIONS_KEY = pytest.StashKey[list]()
STARTED_KEY = pytest.StashKey[_dt.datetime]()
LATEST = "latest"
_RUN_DIR_LOCK = threading.Lock()


def reports_root(config: pytest.Config) -> Path:
    given = config.getoption("reports_dir", default=None)
    root = Path(given) if given else paths.reports_dir()
    return root if root.is_absolute() else Path(config.invocation_params.dir) / root


def run_id(started: _dt.datetime, versions: list[str]) -> str:
    """UTC date-time plus the Kubernetes minors, e.g. ``20261127T071500Z-k8s1.34-1.36``."""
    stamp = started.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    minors = sorted({minor_of(v) for v in versions}, key=version_key)
    minors = [re.sub(r"[^A-Za-z0-9.]+", "_", m) for m in minors]
    return f"{stamp}-k8s{'-'.join(minors)}" if minors else stamp


def asked_versions(config: pytest.Config) -> list[str]:
    """The Kubernetes versions the run was asked for (option or environment), if any."""
    for name in ("k8s_versions", "k8s_version"):
        value = config.getoption(name, default=None)
        if value:
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            return [str(v).strip() for v in items if str(v).strip()]
    env = os.environ.get("AUTHPROBE_K8S_VERSION", "")
    return [v.strip() for v in env.split(",") if v.strip()]


def run_dir(config: pytest.Config) -> Path:
    """This run's report folder, created on first use (safe to call from any thread)."""
    with _RUN_DIR_LOCK:
        return _run_dir(config)


def _run_dir(config: pytest.Config) -> Path:
    if RUN_DIR_KEY in config.stash:
        return config.stash[RUN_DIR_KEY]
    started = config.stash.get(STARTED_KEY, None) or _dt.datetime.now(_dt.timezone.utc)
    versions = config.stash.get(VERSIONS_KEY, []) or asked_versions(config)
    root = reports_root(config)
    root.mkdir(parents=True, exist_ok=True)
    base = run_id(started, versions)
    path = root / base
    counter = 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            counter += 1
            path = root / f"{base}-{counter}"
    config.stash[RUN_DIR_KEY] = path
    return path


def has_run_dir(config: pytest.Config) -> bool:
    return RUN_DIR_KEY in config.stash


def update_latest(folder: Path) -> Path:
    """Point ``<reports root>/latest`` at ``folder`` (a relative symlink, replaced atomically)."""
    link = folder.parent / LATEST
    tmp = folder.parent / f".{LATEST}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(folder.name, tmp)
    os.replace(tmp, link)
    return link
