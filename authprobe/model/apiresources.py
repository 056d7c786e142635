"""Which resources kube-apiserver serves, by API group: the shipped list of every minor's
(``clusters/api-resources.yaml``), or one cluster's own, read from its discovery.

A resource is named as RBAC names it: ``pods``, or ``pods/exec`` for a subresource. Each is
namespaced or not; one a cluster's discovery lists also has the version requests reach it by.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..errors import AuthprobeError
from ..paths import clusters_dir

SCOPES = ("namespaced", "cluster")


def group_text(group: str) -> str:
    """An API group as a sentence names it."""
    return f"API group {group}" if group else "the core API group"


@dataclass(frozen=True)
class ApiResources:
    """(API group, resource) -> namespaced; ``versions`` the version each is served at (a
    cluster's discovery; empty for the shipped list), ``kubelet`` the subresources of each
    resource that the kubelet serves on its own port."""

    namespaced: MappingProxyType  # (group, resource) -> bool
    versions: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    kubelet: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""
    scope: str = ""  # where the list holds, as a sentence ends: "on any minor ..."

    def knows(self, group: str, resource: str) -> bool:
        return (group, resource) in self.namespaced

    def is_namespaced(self, group: str, resource: str) -> bool:
        return self.namespaced[(group, resource)]

    def version(self, group: str, resource: str) -> str | None:
        """The version requests reach the resource at (None: not served)."""
        return self.versions.get((group, resource))

    def unknown(self, group: str, resource: str) -> tuple[str, str]:
        """Why ``resource`` of ``group`` is not among these, and what to do about it."""
        top, _, sub = resource.partition("/")
        if sub and sub in self.kubelet.get(top, ()) and not group:
            return (f"{resource} is a subresource the kubelet serves on its own port (and "
                    "asks kube-apiserver about), not one kube-apiserver serves",
                    "the access table checks requests to kube-apiserver: remove the entry")
        elsewhere = sorted(g for g, r in self.namespaced if r == resource and g != group)
        why = f"kube-apiserver serves no resource {resource} in {group_text(group)} {self.scope}"
        if elsewhere:
            return (f"{why}; it does in " + " and ".join(group_text(g) for g in elsewhere),
                    f"give apiGroup: {elsewhere[0] or chr(34) * 2}")
        names = sorted(r for g, r in self.namespaced if g == group)
        near = difflib.get_close_matches(resource, names, n=1)
        return why, ((f"did you mean {near[0]}? " if near else "")
                     + "correct the entry's apiGroup and resource, or remove the entry")


def parse(data: Any, source: str) -> ApiResources:
    """The list as ``clusters/api-resources.yaml`` holds it; one line on a bad shape."""
    def bad(what: str) -> AuthprobeError:
        return AuthprobeError(f"malformed resource list {source}: {what}")

    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        raise bad("the top level must map 'groups' to API groups")
    found: dict[tuple[str, str], bool] = {}
    for group, scopes in data["groups"].items():
        if not isinstance(scopes, dict) or set(scopes) - set(SCOPES):
            raise bad(f"group {group!r} must map {' and '.join(SCOPES)} to lists of resources")
        for scope, names in scopes.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise bad(f"group {group!r}: {scope} must be a list of resource names")
            for name in names:
                if (str(group), name) in found:
                    raise bad(f"group {group!r}: {name} is listed twice")
                found[(str(group), name)] = scope == "namespaced"
    kubelet = data.get("kubelet") or {}
    if not isinstance(kubelet, dict) or not all(isinstance(v, list) for v in kubelet.values()):
        raise bad("kubelet must map a resource to the subresources the kubelet serves")
    return ApiResources(MappingProxyType(found),
                        kubelet=MappingProxyType({k: tuple(v) for k, v in kubelet.items()}),
                        source=source,
                        scope=f"on any minor authprobe supports ({Path(source).name})")


def resources_file() -> Path:
    return clusters_dir() / "api-resources.yaml"


@cache
def shipped() -> ApiResources:
    """Every resource some supported minor's kube-apiserver serves."""
    path = resources_file()
    return parse(yaml.safe_load(path.read_text()), str(path))


def from_discovery(core: dict, groups: dict, group_versions: dict[str, dict]) -> ApiResources:
    """A cluster's resources from its discovery documents: ``core`` (GET /api/v1),
    ``groups`` (GET /apis) and each group version's (GET /apis/<group>/<version>, keyed
    ``group/version``). A resource takes its group's preferred version where that serves it,
    else the first version listed that does."""
    namespaced: dict[tuple[str, str], bool] = {}
    versions: dict[tuple[str, str], str] = {}
    for resource in core.get("resources") or []:
        namespaced[("", resource["name"])] = bool(resource.get("namespaced"))
        versions[("", resource["name"])] = "v1"
    for group in groups.get("groups") or []:
        name = group["name"]
        preferred = (group.get("preferredVersion") or {}).get("version")
        order = [v["version"] for v in group.get("versions") or []]
        order.sort(key=lambda v: v != preferred)  # the preferred one first, the rest kept
        for version in order:
            document = group_versions.get(f"{name}/{version}") or {}
            for resource in document.get("resources") or []:
                key = (name, resource["name"])
                if key not in versions:
                    namespaced[key] = bool(resource.get("namespaced"))
                    versions[key] = version
    return ApiResources(MappingProxyType(namespaced), MappingProxyType(versions),
                        shipped().kubelet, source="the cluster's discovery",
                        scope="on this cluster")
