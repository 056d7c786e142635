"""Go toolchain helpers: module metadata from the proxy, throwaway main modules, logged builds.

go.mod files are read and written with ``go mod edit``, never parsed by hand: versioned
replacements keep their versions exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthprobeError
from ..host.tools import go_binary
from ..model.timeouts import calls
from ..paths import cache_dir


@dataclass(frozen=True)
class ModuleInfo:
    path: str
    version: str
    time: str
    dir: Path | None
    gomod: Path


@dataclass(frozen=True)
class Replace:
    """``old[@old_version] => new[@new_version]`` (new without a version: a local folder)."""

    old: str
    old_version: str | None
    new: str
    new_version: str | None

    @property
    def local(self) -> bool:
        return self.new_version is None

    def flag(self) -> str:
        old = f"{self.old}@{self.old_version}" if self.old_version else self.old
        new = f"{self.new}@{self.new_version}" if self.new_version else self.new
        return f"-replace={old}={new}"


def replace_entries(entries: tuple[str, ...] | list[str]) -> list[Replace]:
    """Replacements written "old=new@version" (versions.yaml ``go_replaces``)."""
    replace = []
    for entry in entries:
        old, _, new = entry.partition("=")
        new_path, _, new_version = new.partition("@")
        replace.append(Replace(old, None, new_path, new_version or None))
    return replace


def build_cache() -> Path:
    """The Go build cache of image builds, kept apart from the user's own: an image's binaries
    are cached as build steps, so it is emptied after each image (it grows by gigabytes per
    Kubernetes minor)."""
    return cache_dir() / "nodeimage" / "go-build"


def go_env() -> dict[str, str]:
    """Environment for every go command: local toolchain only, the default module cache, the
    builder's own build cache."""
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod -buildvcs=false",
               CGO_ENABLED="0", GOCACHE=str(build_cache()))
    env.pop("GOBIN", None)
    return env


def download(module: str, version: str, log: Path) -> ModuleInfo:
    """Fetch ``module@version`` into the module cache and describe it."""
    cmd = [go_binary(), "mod", "download", "-json", f"{module}@{version}"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=go_env(),
                            timeout=calls().image_build_step, cwd="/")
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n{result.stdout}{result.stderr}\n")
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode or info.get("Error") or not info.get("GoMod"):
        reason = (info.get("Error") or result.stderr.strip() or "no module info").splitlines()[-1]
        raise AuthprobeError(f"{module}@{version} is not available from the Go module proxy: "
                             f"{reason}", log_path=str(log))
    return ModuleInfo(path=module, version=info["Version"], time=info.get("Time", ""),
                      dir=Path(info["Dir"]) if info.get("Dir") else None,
                      gomod=Path(info["GoMod"]))


def read(gomod: Path) -> dict:
    """``go mod edit -json`` of a go.mod file."""
    result = subprocess.run([go_binary(), "mod", "edit", "-json", str(gomod)],
                            capture_output=True, text=True, env=go_env(),
                            timeout=calls().host_command, cwd="/")
    if result.returncode:
        raise AuthprobeError(f"`go mod edit -json {gomod}` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def replaces(gomod: dict) -> list[Replace]:
    return [Replace(r["Old"]["Path"], r["Old"].get("Version"), r["New"]["Path"],
                    r["New"].get("Version")) for r in gomod.get("Replace") or []]


def excludes(gomod: dict) -> list[str]:
    return [f"{e['Path']}@{e['Version']}" for e in gomod.get("Exclude") or []]


def godebug(gomod: dict) -> list[str]:
    return [f"{g['Key']}={g['Value']}" for g in gomod.get("GoDebug") or []]


def go_line(gomod: dict) -> str | None:
    return gomod.get("Go")


def write_wrapper(workdir: Path, name: str, go_version: str | None, requires: list[str],
                  replace: list[Replace], exclude: list[str], debug: list[str],
                  log: Path) -> None:
    """A throwaway main module in ``workdir`` that requires ``requires`` (path@version)."""
    workdir.mkdir(parents=True, exist_ok=True)
    gomod = workdir / "go.mod"
    gomod.write_text(f"module {name}\n" + (f"\ngo {go_version}\n" if go_version else ""))
    (workdir / "go.sum").touch()
    flags = [f"-require={r}" for r in requires] + [r.flag() for r in replace]
    flags += [f"-exclude={e}" for e in exclude] + [f"-godebug={d}" for d in debug]
    run_logged([go_binary(), "mod", "edit", *flags, str(gomod)], log,
               f"go mod edit of the {name} module", cwd=workdir)


def run_logged(cmd: list[str], log: Path, what: str, cwd: Path | None = None,
               env: dict[str, str] | None = None, timeout: float | None = None) -> None:
    """Run ``cmd`` with output appended to ``log``; fail with one line naming ``what``.
    ``timeout`` defaults to the named ``image_build_long``."""
    timeout = calls().image_build_long if timeout is None else timeout
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                    env=env or go_env(), timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise AuthprobeError(f"{what} timed out after {int(timeout)}s",
                                 log_path=str(log)) from err
    if result.returncode:
        raise AuthprobeError(f"{what} failed (exit {result.returncode})", log_path=str(log))


def output(cmd: list[str], log: Path, what: str, cwd: Path | None = None,
           timeout: float | None = None) -> str:
    """Run ``cmd`` and return its output; stderr goes to ``log``; fail with one line.
    ``timeout`` defaults to the named ``image_build_short``."""
    timeout = calls().image_build_short if timeout is None else timeout
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=out, text=True, cwd=cwd,
                                env=go_env(), timeout=timeout)
        out.write(result.stdout)
    if result.returncode:
        raise AuthprobeError(f"{what} failed (exit {result.returncode})", log_path=str(log))
    return result.stdout
