"""The kube-apiserver static pod manifest in the node: read it, and change its probes where
kubeadm cannot (kubeadm reads patches from its config only from the v1beta3 API on)."""

from __future__ import annotations

import yaml

from ..errors import AuthprobeError
from .access import NodeAccess

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
# Written outside the manifests folder (the kubelet reads every file there), then moved in.
STAGED = "/etc/kubernetes/kube-apiserver.yaml.authprobe"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HTTP_GET = ("host", "port", "path", "scheme")


def apiserver_container(manifest: dict) -> dict:
    for container in (manifest.get("spec") or {}).get("containers") or []:
        if container.get("name") == "kube-apiserver":
            return container
    raise AuthprobeError(f"{MANIFEST} has no kube-apiserver container")


def flags_of(container: dict) -> dict[str, str]:
    """``--name=value`` arguments of the container as {name: value}."""
    flags = {}
    for arg in [*(container.get("command") or []), *(container.get("args") or [])]:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value
    return flags


def probe_spec(container: dict) -> dict:
    """The container's probes as plain data: {probe: {path, port, scheme, timings...}}."""
    spec = {}
    for probe in PROBES:
        found = container.get(probe)
        if found:
            http = found.get("httpGet") or {}
            spec[probe] = {**{k: http.get(k) for k in HTTP_GET},
                           **{k: v for k, v in found.items() if k != "httpGet"}}
    return spec


def with_probes(manifest: dict, changes: dict[str, dict]) -> dict:
    """``manifest`` with ``changes`` ({probe: {httpGet field or timing: value}}) merged into
    the kube-apiserver container's probes, as a kubeadm strategic patch would."""
    container = apiserver_container(manifest)
    for probe, fields in changes.items():
        target = container.setdefault(probe, {})
        for key, value in fields.items():
            if key in HTTP_GET:
                target.setdefault("httpGet", {})[key] = value
            else:
                target[key] = value
    return manifest


def with_args(manifest: dict, args: dict[str, str]) -> dict:
    """``manifest`` with each of ``args`` set on the kube-apiserver command, as a hand edit
    makes it: a flag already there takes the new value in its place, another is added at the
    end."""
    container = apiserver_container(manifest)
    key = "command" if container.get("command") else "args"
    line = list(container.get(key) or [])
    left = dict(args)
    for index, arg in enumerate(line):
        name = arg[2:].partition("=")[0] if arg.startswith("--") else None
        if name in left:
            line[index] = f"--{name}={left.pop(name)}"
    container[key] = line + [f"--{name}={value}" for name, value in left.items()]
    return manifest


def read_manifest(node: NodeAccess, cluster: str) -> dict:
    try:
        return yaml.safe_load(node.read(MANIFEST))
    except AuthprobeError as err:
        raise AuthprobeError(f"cannot read {MANIFEST} in {cluster}: {err.one_line()}") from None


def write_manifest(node: NodeAccess, manifest: dict) -> None:
    """Replace the manifest in one step, so the kubelet never reads half a file."""
    node.exec("sh", "-c", f"cat > {STAGED} && mv {STAGED} {MANIFEST}",
              input=yaml.safe_dump(manifest, sort_keys=False))


def take_out_manifest(node: NodeAccess) -> None:
    """Move the manifest out of the kubelet's static pod folder: the kubelet stops the pod."""
    node.exec("mv", MANIFEST, STAGED)
