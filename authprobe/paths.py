"""Where authprobe keeps things: project data, local tools, caches and reports."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLUSTERS_DIR = PROJECT_ROOT / "clusters"
PROFILES_DIR = CLUSTERS_DIR / "profiles"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


def tools_dir() -> Path:
    """Project-local binaries built by authprobe (kind, kubectl)."""
    return Path(os.environ.get("AUTHPROBE_TOOLS_DIR", PROJECT_ROOT / ".tools"))


def cache_dir() -> Path:
    """Build caches shared across checkouts and runs (node image inputs, logs)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "authprobe"
    return Path(os.environ.get("AUTHPROBE_CACHE_DIR", default))


def reports_dir() -> Path:
    return Path(os.environ.get("AUTHPROBE_REPORTS_DIR", PROJECT_ROOT / "reports"))
