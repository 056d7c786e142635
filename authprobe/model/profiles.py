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
file's path inside the node. A profile whose ``issuer`` has no ``jwt`` entry reaches the
cluster's issuer through kube-apiserver's ``--oidc-*`` flags instead of an
AuthenticationConfiguration: its ``oidc-issuer-url`` is ``{issuerURL}`` (the URL the issuer
gets when it starts) and its ``oidc-ca-file`` names the auth file ``issuer-ca.crt`` (the CA
the issuer is trusted through), both written by the harness. ``upgradeOnly: true`` leaves
the profile out of a run's default selection unless the run upgrades (--upgrade-to).
``rbac`` (top level only) names a folder of the team's RBAC manifests and its access table
(:mod:`.rbac`).
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
from .rbac import RbacPart, load_rbac
from .versions import KubeVersion, Ranged
from .yamlfile import error_at

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
AUTH_FILE_REF = re.compile(r"\{authFile:([A-Za-z0-9._-]+)\}")
PROBE_NAMES = ("livenessProbe", "readinessProbe", "startupProbe")
HTTP_GET_FIELDS = {"host", "port", "path", "scheme"}
TIMING_FIELDS = {"initialDelaySeconds", "periodSeconds", "failureThreshold", "timeoutSeconds"}
PARTS = {"apiserver", "probes", "kubelet", "authFiles", "issuer", "authorizer"}
TOP_LEVEL = {"description", "versions", "upgradeOnly", "rbac", *PARTS}
# How a profile's probe changes are made: a kubeadm patch (kept by kubeadm upgrade, which
# applies the patches again), or a hand edit of the static pod manifest after kubeadm init
# (as the 2017 fix was made; an upgrade regenerates the manifest without it).
PROBES_BY = ("kubeadm-patch", "hand-edit")
# The apiserver's flags: set by the kubeadm configuration (kept by an upgrade), or added to or
# changed in the static pod manifest by hand after kubeadm init (lost by an upgrade).
ARG_PARTS = ("extraArgs", "handEditedArgs")
ROW_KEYS = {"na", "note", *PARTS}
# Flags the harness sets on every profile (the admin token, the audit log).
RESERVED_ARGS = ("token-auth-file", "audit-policy-file", "audit-log-path", "audit-log-maxsize",
                 "audit-log-maxbackup", "audit-log-format", "audit-log-mode")
RESERVED_FILES = ("tokens.csv", "audit-policy.yaml")
# The files the harness writes from a profile's ``issuer`` and ``authorizer`` parts, with the
# address of the servers it runs for the cluster; extraArgs name them as auth files.
AUTHENTICATION_FILE = "authentication-config.yaml"
ISSUER_CA_FILE = "issuer-ca.crt"
AUTHORIZATION_FILE = "authorization-config.yaml"
WEBHOOK_KUBECONFIG_FILE = "webhook-kubeconfig.yaml"
ISSUER_KEYS = {"jwt", "claims", "jwks"}
# What the issuer's JWKS holds: the keys it signs with, or only a key that signs nothing (an
# issuer whose published keys do not match its tokens).
ISSUER_JWKS = ("signing", "mismatched")
# An extraArgs value that stands for the URL of the cluster's issuer (``--oidc-issuer-url``).
ISSUER_URL_REF = "{issuerURL}"
OIDC_FLAG_PREFIX = "oidc-"
# The flags without which kube-apiserver builds no authenticator from the --oidc-* flags.
OIDC_REQUIRED_FLAGS = ("oidc-issuer-url", "oidc-client-id")
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
    # jwt entry without the issuer's url and certificateAuthority; without ``jwt`` the
    # --oidc-* flags of ``extra_args`` name the issuer (None: no issuer).
    issuer: MappingProxyType | None = None
    # The AuthorizationConfiguration chain (``chain``: entries by type; the Webhook entry
    # without connectionInfo) and the webhook's ``policy`` (None: no webhook).
    authorizer: MappingProxyType | None = None
    # Flags added to or changed in the static pod manifest by hand after kubeadm init.
    hand_edited_args: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # The team's RBAC manifests and access table (None: the profile names none).
    rbac: RbacPart | None = None

    @property
    def generated_files(self) -> tuple[str, ...]:
        """The auth files the harness writes from the issuer and authorizer parts."""
        return tuple(sorted(_generated(self.issuer, self.authorizer)))

    @property
    def issuer_by_flags(self) -> bool:
        """Whether kube-apiserver reaches the cluster's issuer through the --oidc-* flags
        (the issuer part has no jwt entry)."""
        return self.issuer is not None and "jwt" not in self.issuer

    @property
    def jwt_audience(self) -> str:
        """The audience kube-apiserver takes the issuer's tokens for: the jwt entry's first
        audience, or --oidc-client-id ("" when the profile runs no issuer)."""
        if self.issuer is None:
            return ""
        if self.issuer_by_flags:
            return self.extra_args.get("oidc-client-id", "")
        spec = dict(self.issuer.get("jwt") or {})
        return ((spec.get("issuer") or {}).get("audiences") or [""])[0]

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
    rbac: RbacPart | None = None

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


def _generated(issuer: Any, authorizer: Any) -> set[str]:
    """The auth files written from the issuer and authorizer parts: the
    AuthenticationConfiguration, or for an issuer reached through the --oidc-* flags its CA;
    the AuthorizationConfiguration and the webhook's kubeconfig."""
    files = set()
    if issuer is not None:
        files.add(AUTHENTICATION_FILE if "jwt" in issuer else ISSUER_CA_FILE)
    if authorizer is not None:
        files |= {AUTHORIZATION_FILE, WEBHOOK_KUBECONFIG_FILE}
    return files


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
                                  or set(apiserver) - set(ARG_PARTS)):
        raise _fail(path, f"{where}apiserver may only hold 'extraArgs' and 'handEditedArgs'")
    for part in ARG_PARTS:
        _check_args(path, (apiserver or {}).get(part), where, f"apiserver.{part}")
    both = sorted(set((apiserver or {}).get("extraArgs") or {})
                  & set((apiserver or {}).get("handEditedArgs") or {}))
    if both:
        raise _fail(path, f"{where}--{both[0]} is in extraArgs and handEditedArgs: a flag is "
                    "set by the kubeadm configuration or by a hand edit of the manifest")
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


def _check_args(path: Path, args: Any, where: str, part: str) -> None:
    if args is None:
        return
    if not isinstance(args, dict):
        raise _fail(path, f"{where}{part} must map flag names to values")
    for name, value in args.items():
        name = str(name)
        if name.startswith("-") or not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
            raise _fail(path, f"{where}{part} key '{name}' must be a flag name without dashes")
        if name in RESERVED_ARGS:
            raise _fail(path, f"{where}--{name} is set by authprobe for every profile; remove it")
        if isinstance(value, (dict, list)) or value is None:
            raise _fail(path, f"{where}{part} '{name}' must have a scalar value")


def _check_servers(path: Path, parts: dict, where: str) -> None:
    issuer = parts.get("issuer")
    if issuer is not None:
        if not isinstance(issuer, dict) or set(issuer) - ISSUER_KEYS:
            raise _fail(path, f"{where}issuer may only hold 'jwt' (the jwt entry of the "
                        "AuthenticationConfiguration, without issuer.url and "
                        "issuer.certificateAuthority; leave it out to reach the issuer through "
                        "the --oidc-* flags), 'claims' (what every token the issuer mints "
                        "for the cluster carries, unless a scenario says) and "
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
    generated = _generated(issuer, authorizer)
    for name in sorted(generated & set(files)):
        raise _fail(path, f"authFiles '{name}' is written by authprobe from the profile's "
                    "issuer and authorizer parts; remove it from authFiles")
    if authorizer is not None:
        _check_authorizer(path, authorizer)
    apiserver = parts.get("apiserver") or {}
    args, by_hand = (dict(_arg_text(path, files, generated, name, value)
                          for name, value in (apiserver.get(part) or {}).items())
                     for part in ARG_PARTS)
    if probes_by == "hand-edit" and named_port is not None:
        raise _fail(path, "probes.namedPort is made by a kubeadm patch: a profile whose probes "
                    "are changed by hand-edit cannot move it")
    if {"anonymous-auth", "authentication-config"} <= set(args) | set(by_hand):
        raise _fail(path, "--anonymous-auth cannot be combined with --authentication-config")
    _check_oidc_flags(path, version, args, issuer)
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
        hand_edited_args=MappingProxyType(by_hand),
        probes=MappingProxyType(probes), named_port=named_port,
        auth_files=MappingProxyType(copy.deepcopy(files)), note=note, probes_by=probes_by,
        kubelet_config=MappingProxyType(
            copy.deepcopy((parts.get("kubelet") or {}).get("config") or {})),
        issuer=MappingProxyType(copy.deepcopy(issuer)) if issuer is not None else None,
        authorizer=(MappingProxyType(copy.deepcopy(authorizer)) if authorizer is not None
                    else None),
        rbac=profile.rbac,
    )


def _arg_text(path: Path, files: dict, generated: set[str], name: Any,
              value: Any) -> tuple[str, str]:
    """(flag, value) as the flag reads; an auth file it names must be the profile's."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for ref in AUTH_FILE_REF.findall(text):
        if ref not in files and ref not in generated:
            raise _fail(path, f"extraArgs '{name}' names auth file '{ref}', not in authFiles")
    return str(name), text


def _check_oidc_flags(path: Path, version: KubeVersion, args: dict[str, str],
                      issuer: dict | None) -> None:
    """The --oidc-* flags as kube-apiserver takes them: never beside --authentication-config
    (it refuses the two together on every minor that has the file), the issuer URL and client
    ID together; ``{issuerURL}`` only where the profile's issuer is reached through them."""
    oidc = sorted(name for name in args if name.startswith(OIDC_FLAG_PREFIX))
    if oidc and "authentication-config" in args:
        raise _fail(path, f"--{oidc[0]} cannot be combined with --authentication-config: "
                    "kube-apiserver refuses the --oidc-* flags beside the file (at "
                    f"{version}); give the issuer as a jwt entry of the issuer part, or the "
                    "flags alone")
    by_flags = issuer is not None and "jwt" not in issuer
    for name, value in args.items():
        if ISSUER_URL_REF in value and (not by_flags or name != "oidc-issuer-url"):
            raise _fail(path, f"extraArgs '{name}' names {ISSUER_URL_REF}: only "
                        "oidc-issuer-url may, in a profile whose issuer part has no jwt entry")
    if not by_flags:
        return
    missing = [name for name in OIDC_REQUIRED_FLAGS if name not in args]
    if missing:
        raise _fail(path, f"the issuer part has no jwt entry, so kube-apiserver reaches it "
                    f"through the --oidc-* flags: add {', '.join('--' + m for m in missing)} "
                    f"to apiserver.extraArgs (at {version}); oidc-issuer-url is "
                    f"\"{ISSUER_URL_REF}\"")
    if args["oidc-issuer-url"] != ISSUER_URL_REF:
        raise _fail(path, f"extraArgs 'oidc-issuer-url' must be \"{ISSUER_URL_REF}\", the URL "
                    "of the issuer the harness runs for the cluster")


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
        raise _fail(path, f"is not valid YAML{error_at(err)}") from None
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
    rbac = load_rbac(path, data["rbac"]) if "rbac" in data else None
    profile = Profile(profile_id, " ".join(description.split()), MappingProxyType(base),
                      versions, path, upgrade_only, rbac)
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
