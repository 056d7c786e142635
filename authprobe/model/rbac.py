"""A profile's ``rbac`` part: a folder of the team's RBAC manifests, applied to each of the
profile's clusters after bring-up, and its access table (:mod:`.access`).

    rbac:
      manifests: ../rbac        # a folder of YAML files, relative to the profile file
      access: ../access.yaml    # the access table, relative to the profile file

The folder holds Namespaces, ServiceAccounts, ClusterRoles, Roles, ClusterRoleBindings and
RoleBindings, several to a file; anything else is one line naming the file and document,
before any cluster starts. What the cluster holds of each object later (after an upgrade,
say) is compared with the document by :func:`differences`.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import AuthprobeError
from .access import AccessTable, load_table
from .yamlfile import read_yaml

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Kind:
    """A kind the folder may hold: its apiVersion, the resource it is served as, whether
    it lives in a namespace, and its place in the order of applying."""

    api_version: str
    resource: str
    namespaced: bool
    order: int


KINDS = {
    "Namespace": Kind("v1", "namespaces", False, 0),
    "ServiceAccount": Kind("v1", "serviceaccounts", True, 1),
    "ClusterRole": Kind(RBAC_API, "clusterroles", False, 2),
    "Role": Kind(RBAC_API, "roles", True, 3),
    "ClusterRoleBinding": Kind(RBAC_API, "clusterrolebindings", False, 4),
    "RoleBinding": Kind(RBAC_API, "rolebindings", True, 5),
}
RBAC_KEYS = {"manifests", "access"}
RULE_FIELDS = ("apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs")
# What of an object's metadata the folder's document decides.
METADATA = ("labels", "annotations")


@dataclass(frozen=True)
class Manifest:
    """One object of the folder."""

    kind: str
    name: str
    namespace: str
    document: MappingProxyType
    source: str  # file and document number

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else \
            f"{self.kind} {self.name}"

    def body(self) -> dict:
        return copy.deepcopy(_plain(self.document))


@dataclass(frozen=True)
class RbacPart:
    manifests_dir: Path | None
    manifests: tuple[Manifest, ...]
    access: AccessTable | None

    def token_users(self) -> dict[str, tuple[str, ...]]:
        """user -> groups of the static token lines the access table needs."""
        return self.access.token_users() if self.access is not None else {}

    def audited_users(self) -> list[str]:
        return self.access.audited_users() if self.access is not None else []

    def fingerprint(self) -> dict:
        """What of the part makes a cluster what it is: the objects, the token users."""
        return {"manifests": [_plain(m.document) for m in self.manifests],
                "token_users": {u: list(g) for u, g in sorted(self.token_users().items())}}


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, MappingProxyType)):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fail(profile: Path, message: str) -> AuthprobeError:
    return AuthprobeError(f"profile file {profile}: {message}")


def load_rbac(profile: Path, spec: Any) -> RbacPart:
    """The ``rbac`` part of the profile file ``profile``; one line on bad input."""
    if not isinstance(spec, dict) or not spec or set(spec) - RBAC_KEYS:
        raise _fail(profile, "rbac may hold 'manifests' (a folder of RBAC manifests) and "
                    "'access' (an access table file), paths relative to the profile file")
    for key in spec:
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise _fail(profile, f"rbac.{key} must be a path relative to the profile file")
    folder = (profile.parent / spec["manifests"]).resolve() if "manifests" in spec else None
    manifests: tuple[Manifest, ...] = ()
    if folder is not None:
        if not folder.is_dir():
            raise _fail(profile, f"rbac.manifests: folder {folder} does not exist")
        manifests = load_manifests(folder)
    access = None
    if "access" in spec:
        path = (profile.parent / spec["access"]).resolve()
        if not path.is_file():
            raise _fail(profile, f"rbac.access: file {path} does not exist")
        access = load_table(path)
    return RbacPart(folder, manifests, access)


def load_manifests(folder: Path) -> tuple[Manifest, ...]:
    """Every object of the folder's YAML files, in the order they are applied (namespaces
    and service accounts first, bindings last); one line naming a file and document that
    is not one of KINDS."""
    found: list[Manifest] = []
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        raise AuthprobeError(f"RBAC folder {folder} holds no .yaml files")
    for path in files:
        documents = read_yaml(path, "RBAC manifest", documents=True)
        for number, doc in enumerate(documents, 1):
            if doc is None:
                continue
            found.append(_manifest(doc, f"{path} document {number}"))
    twice = [label for label, n in Counter(m.label for m in found).items() if n > 1]
    if twice:
        raise AuthprobeError(f"RBAC folder {folder}: {twice[0]} is given more than once: keep "
                             "one")
    return tuple(sorted(found, key=lambda m: KINDS[m.kind].order))


def _manifest(doc: Any, source: str) -> Manifest:
    kinds = ", ".join(KINDS)
    if not isinstance(doc, dict):
        raise AuthprobeError(f"RBAC manifest {source} is not a Kubernetes object")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise AuthprobeError(f"RBAC manifest {source}: kind {kind!r} is not one the RBAC folder "
                             f"holds ({kinds}): move it out of the folder")
    spec = KINDS[kind]
    if doc.get("apiVersion") != spec.api_version:
        raise AuthprobeError(f"RBAC manifest {source}: {kind} needs apiVersion "
                             f"{spec.api_version}, not {doc.get('apiVersion')!r}")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise AuthprobeError(f"RBAC manifest {source}: {kind} needs metadata.name")
    namespace = meta.get("namespace") or ""
    if spec.namespaced and not namespace:
        raise AuthprobeError(f"RBAC manifest {source}: {kind} {name} needs metadata.namespace "
                             "(no namespace is implied)")
    if not spec.namespaced and namespace:
        raise AuthprobeError(f"RBAC manifest {source}: a {kind} has no namespace; remove "
                             "metadata.namespace")
    for key in ("resourceVersion", "uid"):
        if key in meta:
            raise AuthprobeError(f"RBAC manifest {source}: metadata.{key} belongs to a "
                                 "stored object; remove it")
    return Manifest(kind, name, namespace, MappingProxyType(copy.deepcopy(doc)), source)


# -- the object in the cluster against the document ----------------------------------------


def _rule(rule: dict) -> str:
    """A policy rule as one comparable line."""
    parts = [f"{f} [{', '.join(sorted(rule.get(f) or []))}]" for f in RULE_FIELDS
             if rule.get(f)]
    return " ".join(parts)


def _subject(subject: dict) -> tuple:
    """A binding's subject with kube-apiserver's defaults (apiGroup by kind)."""
    kind = subject.get("kind", "")
    group = subject.get("apiGroup") or ("" if kind == "ServiceAccount" else RBAC_GROUP)
    return (kind, group, subject.get("name", ""), subject.get("namespace") or "")


def differences(manifest: Manifest, live: dict | None) -> list[str]:
    """What of the document the cluster's object does not hold, one line each: the object
    gone; a label or annotation the document gives with another value or none; a role's
    rules (or aggregationRule) or a binding's roleRef and subjects otherwise."""
    if live is None:
        return [f"{manifest.label}: gone"]
    document, found = _plain(manifest.document), []
    for part in METADATA:
        given = (document.get("metadata") or {}).get(part) or {}
        held = (live.get("metadata") or {}).get(part) or {}
        found += [f"{manifest.label}: {part[:-1]} {key}={held.get(key)!r}, not {value!r}"
                  for key, value in sorted(given.items()) if held.get(key) != value]
    if manifest.kind in ("ClusterRole", "Role"):
        if document.get("aggregationRule") or live.get("aggregationRule"):
            if document.get("aggregationRule") != live.get("aggregationRule"):
                found.append(f"{manifest.label}: aggregationRule differs")
        else:
            given = Counter(_rule(r) for r in document.get("rules") or [])
            held = Counter(_rule(r) for r in live.get("rules") or [])
            found += [f"{manifest.label}: rule added: {r}" for r in sorted(held - given)]
            found += [f"{manifest.label}: rule gone: {r}" for r in sorted(given - held)]
    if manifest.kind in ("ClusterRoleBinding", "RoleBinding"):
        if document.get("roleRef") != live.get("roleRef"):
            found.append(f"{manifest.label}: roleRef is {live.get('roleRef')}")
        given = sorted(_subject(s) for s in document.get("subjects") or [])
        held = sorted(_subject(s) for s in live.get("subjects") or [])
        if given != held:
            found.append(f"{manifest.label}: subjects are {held}")
    return found
