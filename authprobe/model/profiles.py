"""Cluster profiles: kube-apiserver and kubelet settings kept as data in
``clusters/profiles/<id>.yaml``.

A profile file holds a ``description``, the apiserver ``extraArgs``, optional ``probes``
changes for the kube-apiserver static pod (made by a kubeadm patch, or with ``by:
hand-edit`` by editing the manifest in the node after kubeadm init), optional
``kubelet.config`` (KubeletConfiguration fields merged over kubeadm's), optional
``authFiles`` (documents written next to the static token file and mounted into the node),
and optional ``versions``: rows keyed by ``since`` like the expectations, each either ``na:
<reason>`` (the profile cannot run on those versions) or parts merged over the base for those
versions. An extraArgs value may name an auth file as ``{authFile:<name>}``; it becomes that
file's path inside the node. ``upgradeOnly: true`` leaves the profile out of a run's default
selection unless the run upgrades (--upgrade-to).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..errors import AuthprobeError
from .versions import KubeVersion, Ranged

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
AUTH_FILE_REF = re.compile(r"\{authFile:([A-Za-z0-9._-]+)\}")
PROBE_NAMES = ("livenessProbe", "readinessProbe", "startupProbe")
HTTP_GET_FIELDS = {"host", "port", "path", "scheme"}
TIMING_FIELDS = {"initialDelaySeconds", "periodSeconds", "failureThreshold", "timeoutSeconds"}
PARTS = {"apiserver", "probes", "kubelet", "authFiles", "issuer", "authorizer"}
TOP_LEVEL = {"description", "versions", "upgradeOnly", *PARTS}
# How a profile's probe changes are made: a kubeadm patch (kept by kubeadm upgrade, which
# applies the patches again), or a hand edit of the static pod manifest after kubeadm init
# (as the 2017 fix was made; an upgrade regenerates the manifest without it).
PROBES_BY = ("kubeadm-patch", "hand-edit")
ROW_KEYS = {"na", "note", *PARTS}
# Flags the harness sets on every profile (the admin token, the audit log).
RESERVED_ARGS = ("token-auth-file", "audit-policy-file", "audit-log-path", "audit-log-maxsize",
                 "audit-log-maxbackup", "audit-log-format", "audit-log-mode")
RESERVED_FILES = ("tokens.csv", "audit-policy.yaml")
# The files the harness writes from a profile's ``issuer`` and ``authorizer`` parts, with the
# address of the servers it runs for the cluster; extraArgs name them as auth files.
AUTHENTICATION_FILE = "authentication-config.yaml"
AUTHORIZATION_FILE = "authorization-config.yaml"
WEBHOOK_KUBECONFIG_FILE = "webhook-kubeconfig.yaml"
ISSUER_KEYS = {"jwt", "claims", "jwks"}
# What the issuer's JWKS holds: the keys it signs with, or only a key that signs nothing (an
# issuer whose published keys do not match its tokens).
ISSUER_JWKS = ("signing", "mismatched")
AUTHORIZER_KEYS = {"chain", "policy"}
# KubeletConfiguration fields the harness sets itself (on cgroup v1 hosts), or that the kind
# node image needs as they are.
RESERVED_KUBELET = ("failCgroupV1", "cgroupDriver", "cgroupRoot", "kind", "apiVersion")


@dataclass(frozen=True)
class Probe:
    """What a profile changes in one kube-apiserver probe: httpGet fields and timings."""

    http_get: MappingProxyType
    timing: MappingProxyType


@dataclass(frozen=True)
class ProfileAt:
    """A profile as it applies to one Kubernetes version."""

    id: str
    description: str
    version: KubeVersion
    na: str | None
    extra_args: MappingProxyType  # flag name (no dashes) -> string value
    probes: MappingProxyType  # probe name -> Probe
    named_port: int | None  # containerPort of the port named probe-port (kubeadm 1.34+)
    auth_files: MappingProxyType  # file name -> document
    note: str = ""
    kubelet_config: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    probes_by: str = PROBES_BY[0]
    # The JWT issuer the harness runs for the cluster: ``jwt`` is the AuthenticationConfiguration
    # jwt entry without the issuer's url and certificateAuthority (None: no issuer).
    issuer: MappingProxyType | None = None
    # The AuthorizationConfiguration chain (``chain``: entries by type; the Webhook entry
    # without connectionInfo) and the webhook's ``policy`` (None: no webhook).
    authorizer: MappingProxyType | None = None

    @property
    def generated_files(self) -> tuple[str, ...]:
        """The auth files the harness writes from the issuer and authorizer parts."""
        return ((AUTHENTICATION_FILE,) if self.issuer is not None else ()) + (
            (AUTHORIZATION_FILE, WEBHOOK_KUBECONFIG_FILE) if self.authorizer is not None
            else ())

    @property
    def runs_servers(self) -> bool:
        return self.issuer is not None or self.authorizer is not None


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    base: MappingProxyType  # the parts as written at the top level
    versions: Ranged | None
    source: Path = field(compare=False)
    upgrade_only: bool = False

    def at(self, version: KubeVersion) -> ProfileAt:
        """The profile for ``version``: the base with that version's row merged over it."""
        parts = copy.deepcopy(dict(self.base))
        na, note = None, ""
        if self.versions is not None:
            found = self.versions.at(version)
            if found is None:
                na = f"profile {self.id} starts at Kubernetes {self.versions.first}"
            else:
                row = found[1]
                na, note = row.get("na"), " ".join(str(row.get("note", "")).split())
                for key in PARTS:
                    if key in row:
                        parts[key] = _merge(parts.get(key), row[key])
        return _resolve(self, version, parts, na, note)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value)
        return out
    return copy.deepcopy(over)


def _fail(path: Path, message: str) -> AuthprobeError:
    return AuthprobeError(f"profile file {path}: {message}")


def _check_parts(path: Path, parts: dict, where: str) -> None:
    """Check the shape of parts (top level or a versions row) so typos fail at load."""
    apiserver = parts.get("apiserver")
    if apiserver is not None and (not isinstance(apiserver, dict)
                                  or set(apiserver) - {"extraArgs"}):
        raise _fail(path, f"{where}apiserver may only hold 'extraArgs'")
    args = (apiserver or {}).get("extraArgs") or {}
    if not isinstance(args, dict):
        raise _fail(path, f"{where}apiserver.extraArgs must map flag names to values")
    for name, value in args.items():
        name = str(name)
        if name.startswith("-") or not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
            raise _fail(path, f"{where}extraArgs key '{name}' must be a flag name without dashes")
        if name in RESERVED_ARGS:
            raise _fail(path, f"{where}--{name} is set by authprobe for every profile; remove it")
        if isinstance(value, (dict, list)) or value is None:
            raise _fail(path, f"{where}extraArgs '{name}' must have a scalar value")
    probes = parts.get("probes") or {}
    if not isinstance(probes, dict):
        raise _fail(path, f"{where}probes must be a mapping")
    for name, value in probes.items():
        if name == "namedPort":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise _fail(path, f"{where}probes.namedPort must be a port number")
            continue
        if name == "by":
            if value not in PROBES_BY:
                raise _fail(path, f"{where}probes.by must be one of {', '.join(PROBES_BY)}")
            continue
        if name not in PROBE_NAMES:
            raise _fail(path, f"{where}probes.{name} is unknown: use "
                        f"{', '.join(PROBE_NAMES)}, namedPort, by")
        if not isinstance(value, dict) or not value:
            raise _fail(path, f"{where}probes.{name} must map probe fields to values")
        unknown = set(value) - HTTP_GET_FIELDS - TIMING_FIELDS
        if unknown:
            raise _fail(path, f"{where}probes.{name} has unknown fields {sorted(unknown)}; use "
                        f"{sorted(HTTP_GET_FIELDS)} or {sorted(TIMING_FIELDS)}")
        if "scheme" in value and value["scheme"] not in ("HTTP", "HTTPS"):
            raise _fail(path, f"{where}probes.{name}.scheme must be HTTP or HTTPS")
        for key in TIMING_FIELDS & set(value):
            if (isinstance(value[key], bool) or not isinstance(value[key], int)
                    or value[key] < 0):
                raise _fail(path, f"{where}probes.{name}.{key} must be a whole number")
    _check_kubelet(path, parts.get("kubelet"), where)
    files = parts.get("authFiles") or {}
    if not isinstance(files, dict):
        raise _fail(path, f"{where}authFiles must map file names to documents")
    for name, doc in files.items():
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", str(name)):
            raise _fail(path, f"{where}authFiles name '{name}' must be a plain file name")
        if name in RESERVED_FILES:
            raise _fail(path, f"{where}authFiles name '{name}' is reserved for authprobe")
        if not isinstance(doc, dict):
            raise _fail(path, f"{where}authFiles '{name}' must be a document")
    _check_servers(path, parts, where)


def _check_servers(path: Path, parts: dict, where: str) -> None:
    issuer = parts.get("issuer")
    if issuer is not None:
        if not isinstance(issuer, dict) or set(issuer) - ISSUER_KEYS:
            raise _fail(path, f"{where}issuer may only hold 'jwt' (the jwt entry of the "
                        "AuthenticationConfiguration, without issuer.url and "
                        "issuer.certificateAuthority), 'claims' (what every token the "
                        "issuer mints for the cluster carries, unless a scenario says) and "
                        f"'jwks' (one of {', '.join(ISSUER_JWKS)})")
        for key in ("jwt", "claims"):
            if not isinstance(issuer.get(key, {}), dict):
                raise _fail(path, f"{where}issuer.{key} must be a mapping")
        if issuer.get("jwks", ISSUER_JWKS[0]) not in ISSUER_JWKS:
            raise _fail(path, f"{where}issuer.jwks {issuer['jwks']!r}: write one of "
                        f"{', '.join(ISSUER_JWKS)} (what the issuer's JWKS holds)")
    authorizer = parts.get("authorizer")
    if authorizer is not None:
        if not isinstance(authorizer, dict) or set(authorizer) - AUTHORIZER_KEYS:
            raise _fail(path, f"{where}authorizer may only hold 'chain' and 'policy'")
        chain = authorizer.get("chain")
        if chain is not None and (not isinstance(chain, list)
                                  or not all(isinstance(e, dict) and "type" in e
                                             for e in chain)):
            raise _fail(path, f"{where}authorizer.chain must be a list of entries with a "
                        "'type' (Node, Webhook, RBAC, ...)")


def _check_kubelet(path: Path, kubelet: Any, where: str) -> None:
    if kubelet is None:
        return
    if not isinstance(kubelet, dict) or set(kubelet) - {"config"}:
        raise _fail(path, f"{where}kubelet may only hold 'config'")
    config = kubelet.get("config") or {}
    if not isinstance(config, dict):
        raise _fail(path, f"{where}kubelet.config must map KubeletConfiguration fields to values")
    for name in config:
        if not re.match(r"^[a-z][A-Za-z0-9]*$", str(name)):
            raise _fail(path, f"{where}kubelet.config key '{name}' must be a KubeletConfiguration "
                        "field name (camelCase)")
        if name in RESERVED_KUBELET:
            raise _fail(path, f"{where}kubelet.config.{name} is set by authprobe or kind; "
                        "remove it")


def _resolve(profile: Profile, version: KubeVersion, parts: dict, na: str | None,
             note: str) -> ProfileAt:
    path = profile.source
    files = parts.get("authFiles") or {}
    for name, doc in files.items():
        if "kind" not in doc or "apiVersion" not in doc:
            raise _fail(path, f"authFiles '{name}' needs apiVersion and kind (at {version})")
    probes_by = (parts.get("probes") or {}).get("by", PROBES_BY[0])
    named_port = (parts.get("probes") or {}).get("namedPort")
    issuer = parts.get("issuer")
    authorizer = parts.get("authorizer")
    generated = ({AUTHENTICATION_FILE} if issuer is not None else set()) | (
        {AUTHORIZATION_FILE, WEBHOOK_KUBECONFIG_FILE} if authorizer is not None else set())
    for name in sorted(generated & set(files)):
        raise _fail(path, f"authFiles '{name}' is written by authprobe from the profile's "
                    "issuer and authorizer parts; remove it from authFiles")
    if authorizer is not None:
        _check_authorizer(path, authorizer)
    args = {}
    for name, value in ((parts.get("apiserver") or {}).get("extraArgs") or {}).items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        for ref in AUTH_FILE_REF.findall(text):
            if ref not in files and ref not in generated:
                raise _fail(path, f"extraArgs '{name}' names auth file '{ref}', not in authFiles")
        args[str(name)] = text
    if probes_by == "hand-edit" and named_port is not None:
        raise _fail(path, "probes.namedPort is made by a kubeadm patch: a profile whose probes "
                    "are changed by hand-edit cannot move it")
    if "anonymous-auth" in args and "authentication-config" in args:
        raise _fail(path, "--anonymous-auth cannot be combined with --authentication-config")
    probes = {}
    for name, value in (parts.get("probes") or {}).items():
        if name in ("namedPort", "by"):
            continue
        probes[name] = Probe(
            http_get=MappingProxyType({k: v for k, v in value.items() if k in HTTP_GET_FIELDS}),
            timing=MappingProxyType({k: v for k, v in value.items() if k in TIMING_FIELDS}),
        )
    return ProfileAt(
        id=profile.id, description=profile.description, version=version,
        na=" ".join(str(na).split()) if na else None, extra_args=MappingProxyType(args),
        probes=MappingProxyType(probes), named_port=named_port,
        auth_files=MappingProxyType(copy.deepcopy(files)), note=note, probes_by=probes_by,
        kubelet_config=MappingProxyType(
            copy.deepcopy((parts.get("kubelet") or {}).get("config") or {})),
        issuer=MappingProxyType(copy.deepcopy(issuer)) if issuer is not None else None,
        authorizer=(MappingProxyType(copy.deepcopy(authorizer)) if authorizer is not None
                    else None),
    )


def _check_authorizer(path: Path, authorizer: dict) -> None:
    """The chain holds at least one Webhook entry; every one reaches the cluster's one webhook
    (each with its own name, matchConditions and failurePolicy). The policy is read when the
    cluster is rendered (:mod:`authprobe.harness.render`)."""
    chain = authorizer.get("chain") or []
    webhooks = [entry for entry in chain if entry.get("type") == "Webhook"]
    if not webhooks:
        raise _fail(path, "authorizer.chain has no Webhook entry; give at least one (each "
                    "reaches the webhook the harness runs for the cluster), or leave the "
                    "authorizer part out")


def flatten(doc: dict, prefix: str = "") -> dict:
    """A nested mapping (a kubelet configuration) as dotted paths to its leaf values."""
    out = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


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
    upgrade_only = data.get("upgradeOnly", False)
    if not isinstance(upgrade_only, bool):
        raise _fail(path, "upgradeOnly must be true or false")
    base = {key: data[key] for key in PARTS if data.get(key) is not None}
    _check_parts(path, base, "")
    versions = None
    if data.get("versions") is not None:
        def bad(where: str, what: str) -> None:
            raise _fail(path, f"{where}: {what}")

        versions = Ranged.parse(data["versions"], "versions", bad)
        for since, row in versions.rows:
            extra = set(row) - ROW_KEYS
            if extra:
                raise _fail(path, f"versions row since {since}: unknown keys {sorted(extra)}; "
                            f"allowed: {sorted(ROW_KEYS)}")
            _check_parts(path, row, f"versions row since {since}: ")
    profile = Profile(profile_id, " ".join(description.split()), MappingProxyType(base),
                      versions, path, upgrade_only)
    for since, _ in (versions.rows if versions else ()):
        profile.at(since)  # every row must resolve to a valid profile
    if versions is None:
        profile.at(KubeVersion(1, 0))
    return profile


def load_dirs(directories: list[Path]) -> dict[str, Profile]:
    """Every profile in ``directories``, keyed by id; an id in two folders is an error."""
    profiles: dict[str, Profile] = {}
    for directory in directories:
        if not directory.is_dir():
            raise AuthprobeError(f"profile directory {directory} does not exist")
        for path in sorted(directory.glob("*.yaml")):
            profile = load_profile(path)
            if profile.id in profiles:
                raise AuthprobeError(
                    f"profile '{profile.id}' is defined twice: {profiles[profile.id].source} and "
                    f"{path}; rename one of the files")
            profiles[profile.id] = profile
    if not profiles:
        raise AuthprobeError("no profiles found in "
                             + ", ".join(str(d) for d in directories)
                             + ": add one <id>.yaml file per profile")
    return profiles
