"""Go toolchain helpers: module metadata from the proxy, throwaway main modules, logged builds."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import AuthprobeError
from ..tools import go_binary  # noqa: F401 (re-exported)

_REPLACE_LINE = re.compile(r"^\s*(\S+)(?:\s+\S+)?\s+=>\s+(\S+)(?:\s+(\S+))?\s*$")


@dataclass(frozen=True)
class ModuleInfo:
    path: str
    version: str
    time: str
    dir: Path | None
    gomod: Path


def go_env() -> dict[str, str]:
    """Environment for every go command: local toolchain only, default caches."""
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod -buildvcs=false", CGO_ENABLED="0")
    env.pop("GOBIN", None)
    return env


def download(module: str, version: str, log: Path) -> ModuleInfo:
    """Fetch ``module@version`` into the module cache and describe it."""
    cmd = [go_binary(), "mod", "download", "-json"]
    result = subprocess.run(
        cmd + [f"{module}@{version}"], capture_output=True, text=True, env=go_env(), timeout=1800,
        cwd="/",
    )
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)} {module}@{version}\n{result.stdout}{result.stderr}\n")
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode or info.get("Error") or not info.get("GoMod"):
        reason = (info.get("Error") or result.stderr.strip() or "no module info").splitlines()[-1]
        raise AuthprobeError(
            f"{module}@{version} is not available from the Go module proxy: {reason}",
            log_path=str(log),
        )
    return ModuleInfo(
        path=module, version=info["Version"], time=info.get("Time", ""),
        dir=Path(info["Dir"]) if info.get("Dir") else None, gomod=Path(info["GoMod"]),
    )


def parse_gomod(text: str) -> dict:
    """The parts of a go.mod a wrapper module copies: go, godebug, replace and exclude lines."""
    go_line = None
    godebug: list[str] = []
    replaces: list[tuple[str, str, str | None]] = []
    excludes: list[str] = []
    block = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = None
                continue
            statement = f"{block} {line}"
        else:
            statement = line
            match = re.match(r"^(replace|exclude|godebug|require|retract|tool|ignore)\s*\($", line)
            if match:
                block = match.group(1)
                continue
        keyword, _, rest = statement.partition(" ")
        rest = rest.strip()
        if keyword == "go":
            go_line = rest
        elif keyword == "godebug":
            godebug.append(rest)
        elif keyword == "exclude":
            excludes.append(rest)
        elif keyword == "replace":
            match = _REPLACE_LINE.match(rest)
            if match:
                replaces.append((match.group(1), match.group(2), match.group(3)))
    return {"go": go_line, "godebug": godebug, "replace": replaces, "exclude": excludes}


def render_wrapper_gomod(
    name: str,
    go_version: str | None,
    godebug: list[str],
    requires: list[tuple[str, str]],
    replaces: list[tuple[str, str]],
    excludes: list[str],
) -> str:
    """A go.mod for a throwaway main module that builds commands from its requirements."""
    lines = [f"module {name}", ""]
    if go_version:
        lines += [f"go {go_version}", ""]
    for setting in godebug:
        lines.append(f"godebug {setting}")
    if godebug:
        lines.append("")
    lines.append("require (")
    lines += [f"\t{path} {version}" for path, version in requires]
    lines += [")", ""]
    if replaces:
        lines.append("replace (")
        lines += [f"\t{path} => {target}" for path, target in replaces]
        lines += [")", ""]
    if excludes:
        lines.append("exclude (")
        lines += [f"\t{entry}" for entry in excludes]
        lines += [")", ""]
    return "\n".join(lines)


def run_logged(cmd: list[str], log: Path, what: str, cwd: Path | None = None,
               env: dict[str, str] | None = None, timeout: float = 7200) -> None:
    """Run ``cmd`` with output appended to ``log``; fail with one line naming ``what``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            result = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env or go_env(),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as err:
            raise AuthprobeError(
                f"{what} timed out after {int(timeout)}s", log_path=str(log)
            ) from err
    if result.returncode:
        raise AuthprobeError(f"{what} failed (exit {result.returncode})", log_path=str(log))
