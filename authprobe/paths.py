"""Where authprobe keeps things: its shipped data, local tools, caches and reports.

The shipped data lives in the repository's top-level ``clusters/`` and ``scenarios/``
folders; an installed authprobe carries them as the packages ``authprobe.clusters`` and
``authprobe.scenarios`` (``pyproject.toml`` maps the folders), so they are found the
same way from a checkout and from site-packages.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path


@cache
def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"authprobe is installed without its data package {name}: reinstall "
                           "it with `pip install .` from a checkout")
    return Path(next(iter(spec.submodule_search_locations)))


def clusters_dir() -> Path:
    """The shipped ``clusters/`` folder: profiles, versions.yaml, the Dashboard manifest."""
    return _package_dir("authprobe.clusters")


def scenarios_dir() -> Path:
    """The shipped ``scenarios/`` folder: the story's scenarios and expectations.yaml."""
    return _package_dir("authprobe.scenarios")


def tools_dir() -> Path:
    """Binaries authprobe builds for itself (kind), shared by every checkout of this user."""
    return Path(os.environ.get("AUTHPROBE_TOOLS_DIR", cache_dir() / "tools"))


def cache_dir() -> Path:
    """Build caches shared across checkouts and runs (node image inputs, cluster files)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "authprobe"
    return Path(os.environ.get("AUTHPROBE_CACHE_DIR", default))


def write_private(path: Path, text: str) -> None:
    """Write a credential-bearing file with mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
