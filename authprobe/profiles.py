"""Cluster profiles: kube-apiserver settings kept as data in ``clusters/profiles/<id>.yaml``.

A profile file holds a ``description``, the apiserver ``extraArgs``, optional ``probes``
changes for the kube-apiserver static pod, and optional ``authFiles`` (documents written
next to the static token file and mounted into the node). An extraArgs value may name an
auth file as ``{authFile:<name>}``; it becomes that file's path inside the node.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .errors import AuthprobeError
from .paths import PROFILES_DIR

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
AUTH_FILE_REF = re.compile(r"\{authFile:([A-Za-z0-9._-]+)\}")
PROBE_NAMES = ("livenessProbe", "readinessProbe", "startupProbe")
HTTP_GET_FIELDS = {"host", "port", "path", "scheme"}
TOP_LEVEL = {"description", "apiserver", "probes", "authFiles"}
# Flags the harness sets itself on every profile.
RESERVED_ARGS = {"token-auth-file"}


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    extra_args: MappingProxyType  # flag name (no dashes) -> string value
    probes: MappingProxyType  # probe name -> httpGet fields to set
    named_port: int | None  # containerPort for the port named probe-port (kubeadm 1.34+)
    auth_files: MappingProxyType  # file name -> document (dict)
    source: Path = field(compare=False)

    def data(self) -> dict[str, Any]:
        """Canonical plain-data form, used for hashing and reports."""
        return {
            "id": self.id,
            "description": self.description,
            "extraArgs": dict(self.extra_args),
            "probes": {name: dict(fields) for name, fields in self.probes.items()},
            "namedPort": self.named_port,
            "authFiles": dict(self.auth_files),
        }


def _fail(path: Path, message: str) -> AuthprobeError:
    return AuthprobeError(f"profile file {path}: {message}")


def _parse_args(path: Path, raw: Any, auth_files: dict) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, "apiserver.extraArgs must be a mapping of flag name to value")
    args = {}
    for name, value in raw.items():
        name = str(name)
        if name.startswith("-") or not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
            raise _fail(path, f"extraArgs key '{name}' must be a flag name without dashes")
        if name in RESERVED_ARGS:
            raise _fail(path, f"--{name} is set by authprobe for every profile; remove it")
        if isinstance(value, (dict, list)) or value is None:
            raise _fail(path, f"extraArgs '{name}' must have a scalar value")
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        for ref in AUTH_FILE_REF.findall(text):
            if ref not in auth_files:
                raise _fail(path, f"extraArgs '{name}' names auth file '{ref}', not in authFiles")
        args[name] = text
    if "anonymous-auth" in args and "authentication-config" in args:
        raise _fail(path, "--anonymous-auth cannot be combined with --authentication-config")
    return args


def _parse_probes(path: Path, raw: Any) -> tuple[dict[str, dict], int | None]:
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        raise _fail(path, "probes must be a mapping")
    probes: dict[str, dict] = {}
    named_port = None
    for name, value in raw.items():
        if name == "namedPort":
            if not isinstance(value, int) or not 0 < value < 65536:
                raise _fail(path, "probes.namedPort must be a port number")
            named_port = value
            continue
        if name not in PROBE_NAMES:
            raise _fail(path, f"probes.{name} is unknown: use {', '.join(PROBE_NAMES)}, namedPort")
        if not isinstance(value, dict) or not value:
            raise _fail(path, f"probes.{name} must map httpGet fields to values")
        unknown = set(value) - HTTP_GET_FIELDS
        if unknown:
            raise _fail(path, f"probes.{name} has unknown fields {sorted(unknown)}; "
                              f"use {sorted(HTTP_GET_FIELDS)}")
        if "scheme" in value and value["scheme"] not in ("HTTP", "HTTPS"):
            raise _fail(path, f"probes.{name}.scheme must be HTTP or HTTPS")
        probes[name] = dict(value)
    return probes, named_port


def _parse_auth_files(path: Path, raw: Any) -> dict[str, dict]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, "authFiles must map file names to documents")
    files = {}
    for name, doc in raw.items():
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", str(name)):
            raise _fail(path, f"authFiles name '{name}' must be a plain file name")
        if name == "tokens.csv":
            raise _fail(path, "authFiles name 'tokens.csv' is reserved for the admin token file")
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise _fail(path, f"authFiles '{name}' must be a document with apiVersion and kind")
        files[str(name)] = doc
    return files


def load_profile(path: Path) -> Profile:
    """Read and check one profile file; any problem is one AuthprobeError line."""
    profile_id = path.stem
    if not ID_RE.match(profile_id):
        raise _fail(path, "the file name must be a lowercase id of letters, digits and dashes")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise _fail(path, f"cannot be read: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _fail(path, f"is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise _fail(path, "must be a YAML mapping")
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise _fail(path, f"unknown keys {sorted(unknown)}; allowed: {sorted(TOP_LEVEL)}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _fail(path, "needs a 'description' saying what the profile changes")
    apiserver = data.get("apiserver") or {}
    if not isinstance(apiserver, dict) or set(apiserver) - {"extraArgs"}:
        raise _fail(path, "apiserver may only hold 'extraArgs'")
    auth_files = _parse_auth_files(path, data.get("authFiles"))
    args = _parse_args(path, apiserver.get("extraArgs"), auth_files)
    probes, named_port = _parse_probes(path, data.get("probes"))
    return Profile(
        id=profile_id,
        description=" ".join(description.split()),
        extra_args=MappingProxyType(args),
        probes=MappingProxyType(probes),
        named_port=named_port,
        auth_files=MappingProxyType(auth_files),
        source=path,
    )


def profiles_dir() -> Path:
    """``clusters/profiles``, or the folder named by AUTHPROBE_PROFILES_DIR."""
    given = os.environ.get("AUTHPROBE_PROFILES_DIR")
    return Path(given) if given else PROFILES_DIR


def load_all(directory: Path | None = None) -> dict[str, Profile]:
    """Every profile in ``directory``, keyed by id (the file name without .yaml)."""
    directory = directory or profiles_dir()
    if not directory.is_dir():
        raise AuthprobeError(f"profile directory {directory} does not exist")
    profiles = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile(path)
        profiles[profile.id] = profile
    if not profiles:
        raise AuthprobeError(f"no profiles in {directory}: add one <id>.yaml file per profile")
    return profiles


def select(names: list[str] | None, directory: Path | None = None) -> list[Profile]:
    """The profiles asked for (all when ``names`` is empty), or one clear error line."""
    directory = directory or profiles_dir()
    profiles = load_all(directory)
    if not names:
        return list(profiles.values())
    chosen = []
    for name in names:
        if name not in profiles:
            raise AuthprobeError(
                f"unknown profile '{name}': choose from {', '.join(profiles)} "
                f"(or add {directory}/{name}.yaml)"
            )
        if profiles[name] not in chosen:
            chosen.append(profiles[name])
    return chosen
