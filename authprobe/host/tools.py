"""Pinned command-line tools: the Go toolchain, and kind (built with ``go install``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..errors import AuthprobeError
from ..model.timeouts import calls
from ..paths import cache_dir, tools_dir
from ..progress import step

KIND_MODULE = "sigs.k8s.io/kind"


def kind_release() -> str:
    """The kind release authprobe runs and reads node image files from (versions.yaml)."""
    from ..model.versions import version_table

    return version_table().kind


def go_binary() -> str:
    """The Go toolchain, or one line saying how to get it."""
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if found is None:
        raise AuthprobeError(
            "Go is not installed (needed to build kind and the offline node image): install Go "
            "1.26 or newer and put `go` on PATH")
    return found


def go_version() -> str:
    """The Go toolchain's version (e.g. go1.26.8): part of every built image's inputs."""
    result = subprocess.run([go_binary(), "env", "GOVERSION"], capture_output=True, text=True,
                            timeout=calls().host_command,
                            env=dict(os.environ, GOTOOLCHAIN="local"))
    if result.returncode:
        raise AuthprobeError(f"`go env GOVERSION` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def kind_version_of(path: str | Path) -> str | None:
    """The version a kind binary reports (e.g. v0.32.0), or None if it does not run."""
    try:
        out = subprocess.run([str(path), "version"], capture_output=True, text=True,
                             timeout=calls().host_query).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"kind (v\d+\.\d+\.\d+\S*)", out)
    return match.group(1) if match else None


def check_kind(path: Path) -> str:
    """The version of the kind binary at ``path``, or one line saying what is wrong."""
    if not path.exists():
        raise AuthprobeError(f"kind binary {path} does not exist: fix --kind-bin (or "
                             "AUTHPROBE_KIND_BIN), or leave it unset to use the pinned kind")
    version = kind_version_of(path)
    if version is None:
        raise AuthprobeError(f"{path} does not run as kind (`{path} version` failed)")
    return version


def ensure_kind() -> Path:
    """kind at the pinned release: on PATH if it matches, else built into the tools folder."""
    release = kind_release()
    on_path = shutil.which("kind")
    if on_path and kind_version_of(on_path) == release:
        return Path(on_path)
    local = tools_dir() / release / "kind"
    if kind_version_of(local) == release:
        return local
    go = go_binary()
    log = cache_dir() / "logs" / f"go-install-kind-{release}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    local.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(local.parent), CGO_ENABLED="0", GOFLAGS="-buildvcs=false")
    with step(f"building kind {release} with go install (no kind {release} on PATH)",
              expect=60), log.open("w") as out:
        result = subprocess.run([go, "install", f"{KIND_MODULE}@{release}"], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd="/")
    if result.returncode or kind_version_of(local) != release:
        raise AuthprobeError(f"building kind {release} failed", log_path=str(log))
    return local


@lru_cache(maxsize=2)
def kind_module_dir(release: str | None = None) -> Path:
    """The downloaded sigs.k8s.io/kind module (kind's base-image files are read from it)."""
    release = release or kind_release()
    result = subprocess.run([go_binary(), "mod", "download", "-json", f"{KIND_MODULE}@{release}"],
                            capture_output=True, text=True, timeout=calls().image_build_short,
                            cwd="/")
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode or not info.get("Dir"):
        raise AuthprobeError(
            f"cannot download {KIND_MODULE}@{release} from the Go module proxy: "
            f"{(info.get('Error') or result.stderr).strip()}")
    return Path(info["Dir"])
