"""A team's cluster as a profile: its kubeadm configuration, the files its kube-apiserver flags
name, and (given the running kube-apiserver's mirror pod) the hand edits of its static pod
manifest.

Every apiServer.extraArgs flag becomes a profile flag (``apiserver.extraArgs``); the structured
authentication and authorization files are read from the files folder into the profile
(``authFiles``, or its ``issuer`` and ``authorizer`` parts where they name a JWT issuer or a
webhook, which a kind cluster cannot reach: authprobe runs its own in their place). A flag or
probe of the mirror pod that kubeadm does not render from the configuration is a hand edit
(``apiserver.handEditedArgs``, ``probes.by: hand-edit``), which an upgrade loses. What a
single-node kind cluster cannot carry is named, one line each, with why; a file that holds
secrets (token files, keys, encryption config) is never opened, and of a webhook's kubeconfig
only its server address is read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..errors import AuthprobeError
from ..harness.manifest import apiserver_container, flags_of, probe_spec
from ..model.profiles import (
    AUTHENTICATION_FILE,
    AUTHORIZATION_FILE,
    ID_RE,
    RESERVED_FILES,
    TIMING_FIELDS,
)
from .kubeadm import KubeadmConfig, Node, facts, minor_of, rendered_flags, rendered_probes

# The flags whose files become part of the profile.
AUTHENTICATION_FLAG = "authentication-config"
AUTHORIZATION_FLAG = "authorization-config"
# What of a jwt entry names the team's issuer: authprobe's issuer takes its place.
ISSUER_OWN = ("url", "certificateAuthority", "discoveryURL", "egressSelectorType")
COMPARED_PROBE_FIELDS = ("path", "scheme", *sorted(TIMING_FIELDS))


@dataclass
class Imported:
    """A profile made from a team's cluster, and what was left out of it."""

    profile_id: str
    document: dict
    minor: str
    left_out: list[str] = field(default_factory=list)  # one line each: what, and why
    hand_edits: list[str] = field(default_factory=list)  # one line each
    files_read: list[str] = field(default_factory=list)


@dataclass
class _Parts:
    """The profile being built."""

    args: dict[str, str] = field(default_factory=dict)
    by_hand: dict[str, str] = field(default_factory=dict)
    auth_files: dict[str, dict] = field(default_factory=dict)
    issuer: dict | None = None
    authorizer: dict | None = None
    probes: dict[str, dict] = field(default_factory=dict)
    kubelet: dict = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    hand_edits: list[str] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)


def read_pod(path: Path) -> dict:
    """The kube-apiserver mirror pod (``kubectl -n kube-system get pod kube-apiserver-<node>
    -o yaml``); one line when it is not one."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as err:
        raise AuthprobeError(f"cannot read {path}: {err.strerror}") from None
    except yaml.YAMLError:
        raise AuthprobeError(f"{path} is not valid YAML") from None
    if not isinstance(doc, dict) or doc.get("kind") != "Pod":
        raise AuthprobeError(f"{path} is not a Pod: give the kube-apiserver mirror pod (kubectl "
                             "-n kube-system get pod kube-apiserver-<node> -o yaml)")
    try:
        apiserver_container(doc)
    except AuthprobeError:
        raise AuthprobeError(f"{path}: the Pod has no kube-apiserver container: give the "
                             "kube-apiserver mirror pod") from None
    return doc


def import_profile(config: KubeadmConfig, files_dir: Path, profile_id: str,
                   pod: dict | None = None, description: str | None = None) -> Imported:
    """The profile of the cluster ``config`` configures; ``files_dir`` holds the files its
    flags name (by file name); ``pod`` is its running kube-apiserver's mirror pod."""
    if not ID_RE.match(profile_id):
        raise AuthprobeError(f"profile name '{profile_id}' must be a lowercase id of letters, "
                             "digits and dashes")
    minor = minor_of(config)
    if minor is None and config.kubernetes_version is not None:
        raise AuthprobeError(f"{config.source}: the ClusterConfiguration's kubernetesVersion "
                             f"'{config.kubernetes_version}' is not a version such as v1.34.12; "
                             "give the version the cluster runs")
    if minor is None:
        raise AuthprobeError(f"{config.source}: the ClusterConfiguration names no "
                             "kubernetesVersion; the profile starts at the minor the cluster runs")
    parts = _Parts()
    rendered = rendered_flags(config)
    kubeadm_paths = {v for v in rendered.values() if isinstance(v, str) and v.startswith("/")}
    wanted = [(name, value, False) for name, value in config.extra_args.items()]
    if pod is not None:
        wanted += [(name, value, True) for name, value in _hand_edited_flags(rendered, pod,
                                                                             parts)]
        _hand_edited_probes(config, pod, parts)
    for name, value, by_hand in wanted:
        _take_flag(name, value, by_hand, files_dir, kubeadm_paths, parts)
    _left_out_settings(config, parts)
    _kubelet(config, parts)
    description = description or (
        f"the kubeadm configuration of a Kubernetes {config.kubernetes_version} cluster, "
        f"imported from {Path(config.source).name}"
        + (" with the hand edits of its running kube-apiserver" if pod is not None else ""))
    return Imported(profile_id, _document(parts, description, minor, config), minor,
                    parts.left_out, parts.hand_edits, parts.files_read)


def _hand_edited_flags(rendered: dict[str, str | Node], pod: dict,
                       parts: _Parts) -> list[tuple[str, str]]:
    """The flags the pod runs that kubeadm does not render from the configuration (added,
    or with another value); a flag it renders that the pod lacks is named as left out."""
    running = flags_of(apiserver_container(pod))
    edits = []
    for name, value in running.items():
        want = rendered.get(name)
        if isinstance(want, Node) or want == value:
            continue
        edits.append((name, value))
        parts.hand_edits.append(f"--{name}={value}" + (
            " (added by hand)" if want is None else f" (kubeadm renders {want!r})"))
    for name in sorted(set(rendered) - set(running)):
        parts.left_out.append(f"--{name} removed by hand from the manifest: a profile cannot "
                              "remove a flag kubeadm sets")
    return edits


def _hand_edited_probes(config: KubeadmConfig, pod: dict, parts: _Parts) -> None:
    running = probe_spec(apiserver_container(pod))
    for name, want in rendered_probes(config).items():
        have = running.get(name)
        if have is None:
            parts.left_out.append(f"{name} removed by hand from the manifest: a profile cannot "
                                  "remove a probe kubeadm writes")
            continue
        changed = {key: have.get(key) for key in COMPARED_PROBE_FIELDS
                   if key in want or key in have if have.get(key) != want.get(key)}
        if not changed:
            continue
        if "scheme" in changed or "path" in changed:
            # a probe moved to another endpoint: where it goes is the edit too
            changed.update({key: have[key] for key in ("host", "port")
                            if have.get(key) is not None})
        parts.probes[name] = changed
        parts.hand_edits.append(f"{name}: " + ", ".join(
            f"{key} {value} (kubeadm renders {want.get(key)})" if key in want
            else f"{key} {value}" for key, value in changed.items()))
    for name in sorted(set(running) - set(rendered_probes(config))):
        parts.left_out.append(f"{name} added by hand to the manifest: a profile changes the "
                              "probes kubeadm writes, it does not add one")


def _take_flag(name: str, value: str, by_hand: bool, files_dir: Path,
               kubeadm_paths: set[str], parts: _Parts) -> None:
    """One flag of the configuration (or a hand edit) into the profile, or left out."""
    how = " (a hand edit)" if by_hand else ""
    why = facts()["leftOutFlags"].get(name)
    if why is not None:
        parts.left_out.append(f"--{name}{how}: {why}")
        return
    if name == AUTHENTICATION_FLAG:
        value = _authentication(value, files_dir, parts)
    elif name == AUTHORIZATION_FLAG:
        value = _authorization(value, files_dir, parts)
    elif value.startswith("/") and value not in kubeadm_paths:
        parts.left_out.append(f"--{name}{how}: names {value}, a file of the team's nodes that "
                              "the kind node does not have")
        return
    (parts.by_hand if by_hand else parts.args)[name] = value


def _file(flag: str, path: str, files_dir: Path, parts: _Parts) -> tuple[str, dict]:
    """(file name, document) of the file a flag names, read from the files folder."""
    name = PurePosixPath(path).name
    found = files_dir / name
    if not found.is_file():
        raise AuthprobeError(f"--{flag} names {path}, and {found} does not exist: copy the file "
                             f"from a control-plane node into {files_dir}")
    try:
        doc = yaml.safe_load(found.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise AuthprobeError(f"cannot read {found} (named by --{flag}): "
                             f"{getattr(err, 'strerror', None) or 'not valid YAML'}") from None
    if not isinstance(doc, dict) or "apiVersion" not in doc:
        raise AuthprobeError(f"{found} (named by --{flag}) is not a configuration document "
                             "with an apiVersion and kind")
    parts.files_read.append(str(found))
    return name, doc


def _kind(doc: dict, want: str, flag: str, name: str) -> None:
    if doc.get("kind") != want:
        raise AuthprobeError(f"{name} (named by --{flag}) is a {doc.get('kind')}, not an {want}")


def _entries(doc: dict, key: str, inner: tuple[str, ...], flag: str, name: str) -> list[dict]:
    """``doc[key]``, a list of mappings whose ``inner`` fields are mappings where given; one
    line naming the field otherwise (kube-apiserver would refuse the file too)."""
    entries = doc.get(key) or []
    where = f"{name} (named by --{flag})"
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AuthprobeError(f"{where}: {key} must be a list of mappings; give the file the "
                             "control-plane node's kube-apiserver reads")
    for index, entry in enumerate(entries):
        node: Any = entry
        for depth, part in enumerate(inner):
            node = node.get(part) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, dict):
                field_path = ".".join(inner[:depth + 1])
                raise AuthprobeError(f"{where}: {key}[{index}].{field_path} must be a mapping; "
                                     "give the file the control-plane node's kube-apiserver "
                                     "reads")
    return entries


def _auth_file_name(name: str) -> str:
    """A name the profile may give the file (not one authprobe writes itself)."""
    return f"team-{name}" if name in RESERVED_FILES else name


def _authentication(path: str, files_dir: Path, parts: _Parts) -> str:
    name, doc = _file(AUTHENTICATION_FLAG, path, files_dir, parts)
    _kind(doc, "AuthenticationConfiguration", AUTHENTICATION_FLAG, name)
    jwt = _entries(doc, "jwt", ("issuer",), AUTHENTICATION_FLAG, name)
    if not jwt:
        name = _auth_file_name(name)
        parts.auth_files[name] = doc
        return f"{{authFile:{name}}}"
    first = copy.deepcopy(jwt[0])
    issuer = first.get("issuer") or {}
    url = issuer.get("url", "?")
    first["issuer"] = {k: v for k, v in issuer.items() if k not in ISSUER_OWN}
    parts.issuer = {"jwt": first}
    parts.left_out.append(
        f"jwt issuer {url}: not reached from a kind cluster; authprobe runs an issuer of its "
        "own for the cluster, with this entry's audiences, claim mappings and validation rules")
    for entry in jwt[1:]:
        parts.left_out.append(f"jwt issuer {(entry.get('issuer') or {}).get('url', '?')}: "
                              "authprobe runs one issuer per cluster, for the first entry")
    for key in sorted(set(doc) - {"apiVersion", "kind", "jwt"}):
        parts.left_out.append(f"{name} {key}: authprobe writes the authentication file of a "
                              "profile with an issuer from its jwt entry alone")
    return f"{{authFile:{AUTHENTICATION_FILE}}}"


def _authorization(path: str, files_dir: Path, parts: _Parts) -> str:
    name, doc = _file(AUTHORIZATION_FLAG, path, files_dir, parts)
    _kind(doc, "AuthorizationConfiguration", AUTHORIZATION_FLAG, name)
    chain = _entries(doc, "authorizers", ("webhook", "connectionInfo"), AUTHORIZATION_FLAG,
                     name)
    if not any(entry.get("type") == "Webhook" for entry in chain):
        name = _auth_file_name(name)
        parts.auth_files[name] = doc
        return f"{{authFile:{name}}}"
    kept, webhook_seen = [], False
    for entry in chain:
        if entry.get("type") != "Webhook":
            kept.append({k: v for k, v in entry.items() if k in ("type", "name")})
            continue
        server = _webhook_server(entry, files_dir, parts)
        if webhook_seen:
            parts.left_out.append(f"webhook '{entry.get('name')}' ({server}): authprobe runs "
                                  "one webhook per cluster, in place of the first")
            continue
        webhook_seen = True
        settings = {k: v for k, v in (entry.get("webhook") or {}).items()
                    if k != "connectionInfo"}
        kept.append({"type": "Webhook", "name": entry.get("name", "webhook"),
                     "webhook": settings})
        parts.left_out.append(
            f"webhook '{entry.get('name')}' ({server}): not reached from a kind cluster; "
            "authprobe runs a webhook of its own in its place, which answers by the profile's "
            "authorizer.policy (none imported: write the team's rules there)")
    parts.authorizer = {"chain": kept, "policy": {"rules": [], "default": "no-opinion"}}
    return f"{{authFile:{AUTHORIZATION_FILE}}}"


def _webhook_server(entry: dict, files_dir: Path, parts: _Parts) -> str:
    """Where the team's webhook answers: the server of its kubeconfig, which must be in the
    files folder; nothing else of the kubeconfig (its credentials) is read."""
    info = (entry.get("webhook") or {}).get("connectionInfo") or {}
    path = info.get("kubeConfigFile")
    if info.get("type") != "KubeConfigFile" or not path:
        return "in-cluster"
    found = files_dir / PurePosixPath(path).name
    if not found.is_file():
        raise AuthprobeError(f"webhook '{entry.get('name')}' names the kubeconfig {path}, and "
                             f"{found} does not exist: copy it from a control-plane node into "
                             f"{files_dir}")
    try:
        kubeconfig = yaml.safe_load(found.read_text()) or {}
        servers = [c["cluster"]["server"] for c in kubeconfig.get("clusters") or []]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        raise AuthprobeError(f"{found} (the kubeconfig of webhook '{entry.get('name')}') is not "
                             "a kubeconfig with clusters[].cluster.server") from None
    parts.files_read.append(f"{found} (its server only)")
    return ", ".join(servers) or "no server"


def _at_default(config: KubeadmConfig, dotted: str, value: Any) -> bool:
    return facts()["defaults"].get(dotted, object()) == value


def _left_out_settings(config: KubeadmConfig, parts: _Parts) -> None:
    """Every setting of the ClusterConfiguration and InitConfiguration the profile does not
    take, one line each (settings left at their defaults, or empty, are not named)."""
    table = facts()["leftOutSettings"]
    for kind, doc, read in (("ClusterConfiguration", config.cluster,
                             {"apiServer.extraArgs", "kubernetesVersion"}),
                            ("InitConfiguration", config.init, set())):
        if doc is None:
            continue
        named = table[kind]
        for dotted, value in _settings(doc, set(named)):
            if dotted in read or value in (None, {}, [], "") or _at_default(config, dotted,
                                                                              value):
                continue
            parts.left_out.append(f"{kind} {dotted}: {named.get(dotted, table['other'])}")


def _settings(doc: dict, named: set[str], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of each setting: the named ones where the table names them, the
    leaves of a mapping otherwise."""
    found = []
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        if dotted in ("apiVersion", "kind"):
            continue
        if (isinstance(value, dict) and value and dotted not in named
                and any(n.startswith(dotted + ".") for n in named | {"apiServer.extraArgs"})):
            found += _settings(value, named, dotted + ".")
        else:
            found.append((dotted, value))
    return found


def _kubelet(config: KubeadmConfig, parts: _Parts) -> None:
    """From a KubeletConfiguration document: its authentication (without the node's CA file)
    and authorization, as the profile's kubelet.config; every other field named."""
    doc = config.kubelet
    if doc is None:
        return
    authentication = copy.deepcopy(doc.get("authentication") or {})
    if (authentication.get("x509") or {}).pop("clientCAFile", None):
        parts.left_out.append("KubeletConfiguration authentication.x509.clientCAFile: a file "
                              "of the team's nodes; kind's kubelet trusts the cluster's CA")
    authentication = {k: v for k, v in authentication.items() if v}
    for key, value in (("authentication", authentication),
                       ("authorization", doc.get("authorization"))):
        if value:
            parts.kubelet[key] = value
    rest = sorted(set(doc) - {"apiVersion", "kind", "authentication", "authorization"})
    if rest:
        parts.left_out.append(f"KubeletConfiguration {', '.join(rest)}: authprobe checks the "
                              "kubelet's authentication and authorization; the rest is kind's")


def _document(parts: _Parts, description: str, minor: str, config: KubeadmConfig) -> dict:
    doc: dict[str, Any] = {"description": description}
    apiserver = {"extraArgs": dict(sorted(parts.args.items()))}
    if parts.by_hand:
        apiserver["handEditedArgs"] = dict(sorted(parts.by_hand.items()))
    doc["apiserver"] = apiserver
    if parts.probes:
        doc["probes"] = {"by": "hand-edit", **parts.probes}
    if parts.kubelet:
        doc["kubelet"] = {"config": parts.kubelet}
    if parts.auth_files:
        doc["authFiles"] = parts.auth_files
    if parts.issuer is not None:
        doc["issuer"] = parts.issuer
    if parts.authorizer is not None:
        doc["authorizer"] = parts.authorizer
    doc["versions"] = [{"since": minor, "note": (
        f"imported from a Kubernetes {config.kubernetes_version} cluster; before {minor} its "
        "configuration and files are not known to hold")}]
    return doc


def profile_text(imported: Imported, rbac: dict | None = None) -> str:
    """The profile file: what was left out and the hand edits as comments, then the profile
    (with the team's ``rbac`` part, if given, before its versions)."""
    head = ["# Imported by `authprobe profile import`."]
    if imported.hand_edits:
        head.append("# Hand edits of the static pod manifest (an upgrade loses them):")
        head += [f"#   {line}" for line in imported.hand_edits]
    if imported.left_out:
        head.append("# Left out (a single-node kind cluster cannot carry it, or it is secret):")
        head += [f"#   {line}" for line in imported.left_out]
    document = dict(imported.document)
    if rbac is not None:
        versions = document.pop("versions")
        document["rbac"] = rbac
        document["versions"] = versions
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=96)
    return "\n".join(head) + "\n" + body
