"""Pinned command-line tools authprobe builds for itself (kind)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import AuthprobeError
from .paths import cache_dir, tools_dir
from .progress import step

KIND_VERSION = "v0.32.0"
KIND_MODULE = "sigs.k8s.io/kind"


def go_binary() -> str:
    """The Go toolchain, or one line saying how to get it."""
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if found is None:
        raise AuthprobeError(
            "Go is not installed (needed to build kind and the node image): install Go 1.26 "
            "from https://go.dev/dl or put `go` on PATH"
        )
    return found


def kind_version_of(path: str | Path) -> str | None:
    """The version a kind binary reports (e.g. v0.32.0), or None if it does not run."""
    try:
        out = subprocess.run(
            [str(path), "version"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"kind (v\d+\.\d+\.\d+\S*)", out)
    return match.group(1) if match else None


def _matches(path: str | Path | None) -> bool:
    return path is not None and kind_version_of(path) == KIND_VERSION


def ensure_kind() -> Path:
    """A kind binary at KIND_VERSION: the one on PATH if it matches, else built into .tools/bin."""
    on_path = shutil.which("kind")
    if _matches(on_path):
        return Path(on_path)
    local = tools_dir() / "bin" / "kind"
    if _matches(local):
        return local
    go = go_binary()
    log = cache_dir() / "logs" / f"go-install-kind-{KIND_VERSION}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    local.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(local.parent), CGO_ENABLED="0")
    with step(f"building kind {KIND_VERSION} with go install", expect=60):
        with log.open("w") as out:
            result = subprocess.run(
                [go, "install", f"{KIND_MODULE}@{KIND_VERSION}"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )
    if result.returncode or not _matches(local):
        raise AuthprobeError(f"building kind {KIND_VERSION} failed", log_path=str(log))
    return local


def kind_module_dir() -> Path:
    """The downloaded sigs.k8s.io/kind module (kind's base-image files are read from here)."""
    go = go_binary()
    result = subprocess.run(
        [go, "mod", "download", "-json", f"{KIND_MODULE}@{KIND_VERSION}"],
        capture_output=True, text=True, timeout=600,
    )
    import json

    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    directory = info.get("Dir")
    if result.returncode or not directory:
        raise AuthprobeError(
            f"cannot download {KIND_MODULE}@{KIND_VERSION} from the Go module proxy: "
            f"{(info.get('Error') or result.stderr).strip()}"
        )
    return Path(directory)
