"""Render a profile into a kind cluster config, its kubeadm patch files and auth files.

The kubeadm config patches carry no apiVersion, so kind applies them to whatever kubeadm
API the node's Kubernetes uses (v1beta3 up to 1.35, v1beta4 from 1.36); kind converts an
unversioned ``extraArgs`` mapping into v1beta4's list of ``{name, value}``. Everything
in the rendered output is public: the admin token lives only in the token file, which
the harness writes separately.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .profiles import AUTH_FILE_REF, Profile
from .versions import KubeVersion

NAME_PREFIX = "authprobe-"
MAX_NAME = 50
HASH_LEN = 8
# authprobe-<profile>-<major><minor>-<hash>
NAME_RE = re.compile(r"^authprobe-(?P<profile>[a-z0-9-]+)-(?P<minor>\d{3,})-(?P<hash>[0-9a-f]{8})$")

# Inside the node (and, for AUTH_DIR, inside the kube-apiserver pod).
AUTH_DIR = "/etc/authprobe/auth"
PATCHES_DIR = "/etc/authprobe/patches"
TOKEN_FILE = "tokens.csv"
ADMIN_USER = "admin"
ADMIN_UID = "authprobe-admin"

NAMED_PROBE_PORT_SINCE = KubeVersion(1, 34, 0)
FAIL_CGROUP_V1_SINCE = KubeVersion(1, 35, 0)
KIND_CONFIG_API = "kind.x-k8s.io/v1alpha4"

# Stand-ins used while hashing, so the hash does not depend on where files live.
_PRIVATE = "@PRIVATE_DIR@"


@dataclass(frozen=True)
class HostFacts:
    """What the machine running the nodes needs from the config."""

    cgroup_version: int = 2


@dataclass(frozen=True)
class RenderInput:
    profile: Profile
    version: KubeVersion  # exact patch release running in the node image
    image: str
    kind_version: str
    host: HostFacts = HostFacts()
    default_cni: bool = True  # False when the node image carries its own static CNI config
    image_id: str = ""  # the image's content ID, so a retagged image gives a new cluster


@dataclass
class Rendered:
    name: str
    config_hash: str
    kind_config: str  # YAML for `kind create cluster --config`
    auth_files: dict[str, str] = field(default_factory=dict)  # file name -> text
    patch_files: dict[str, str] = field(default_factory=dict)  # file name -> text
    expected: dict = field(default_factory=dict)  # what verify checks on the running node


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the embedded patches) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(doc) -> str:
    return yaml.dump(doc, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def in_node_auth_path(name: str) -> str:
    return f"{AUTH_DIR}/{name}"


def apiserver_args(profile: Profile) -> dict[str, str]:
    """The kube-apiserver flags the profile sets, with auth file references resolved."""
    args = {"token-auth-file": in_node_auth_path(TOKEN_FILE)}
    for name, value in profile.extra_args.items():
        args[name] = AUTH_FILE_REF.sub(lambda m: in_node_auth_path(m.group(1)), value)
    return args


def probe_patches(profile: Profile, version: KubeVersion) -> dict[str, str]:
    """kubeadm patch files for the kube-apiserver static pod (empty if probes are unchanged)."""
    files = {}
    if profile.probes:
        container = {"name": "kube-apiserver"}
        for probe, fields in profile.probes.items():
            container[probe] = {"httpGet": dict(fields)}
        files["kube-apiserver0+strategic.yaml"] = _dump({"spec": {"containers": [container]}})
    if profile.named_port is not None and version >= NAMED_PROBE_PORT_SINCE:
        ops = [
            {"op": "test", "path": "/spec/containers/0/name", "value": "kube-apiserver"},
            {"op": "test", "path": "/spec/containers/0/ports/0/name", "value": "probe-port"},
            {"op": "replace", "path": "/spec/containers/0/ports/0/containerPort",
             "value": profile.named_port},
        ]
        files["kube-apiserver1+json.yaml"] = _dump(ops)
    return files


def kubeadm_patches(inp: RenderInput, with_patch_dir: bool) -> list[str]:
    cluster_patch = {
        "kind": "ClusterConfiguration",
        "apiServer": {
            "extraArgs": apiserver_args(inp.profile),
            "extraVolumes": [{
                "name": "authprobe-auth",
                "hostPath": AUTH_DIR,
                "mountPath": AUTH_DIR,
                "readOnly": True,
                "pathType": "Directory",
            }],
        },
    }
    patches = [_dump(cluster_patch)]
    if with_patch_dir:
        patches.append(_dump({"kind": "InitConfiguration", "patches": {"directory": PATCHES_DIR}}))
    if inp.host.cgroup_version == 1 and inp.version >= FAIL_CGROUP_V1_SINCE:
        patches.append(_dump({"kind": "KubeletConfiguration", "failCgroupV1": False}))
    return patches


def _config(inp: RenderInput, name: str, private: str, patch_files: dict[str, str]) -> str:
    mounts = [{"hostPath": f"{private}/auth", "containerPath": AUTH_DIR, "readOnly": True}]
    if patch_files:
        mounts.append({"hostPath": f"{private}/patches", "containerPath": PATCHES_DIR,
                       "readOnly": True})
    # -1: Docker picks the published port when it starts the node. With 0 kind picks one by
    # opening and closing a listener, which races when several clusters start at once.
    networking = {"apiServerAddress": "127.0.0.1", "apiServerPort": -1}
    if not inp.default_cni:
        networking["disableDefaultCNI"] = True
    config = {
        "kind": "Cluster",
        "apiVersion": KIND_CONFIG_API,
        "name": name,
        "networking": networking,
        "nodes": [{"role": "control-plane", "image": inp.image, "extraMounts": mounts}],
        "kubeadmConfigPatches": kubeadm_patches(inp, bool(patch_files)),
    }
    return _dump(config)


def cluster_name(profile_id: str, version: KubeVersion, digest: str) -> str:
    minor = f"{version.major}{version.minor}"
    room = MAX_NAME - len(NAME_PREFIX) - len(minor) - HASH_LEN - 2
    short = profile_id[:room].strip("-")
    return f"{NAME_PREFIX}{short}-{minor}-{digest[:HASH_LEN]}"


def render(inp: RenderInput, private_dir: Path | None = None) -> Rendered:
    """Render the cluster for ``inp``; ``private_dir`` is where its files will live on the host.

    The name's hash covers the config (with file locations left out), the patch and auth
    files, the node image (name and content ID) and the kind version, so any change gives
    a new cluster.
    """
    patch_files = probe_patches(inp.profile, inp.version)
    auth_files = {name: _dump(doc) for name, doc in inp.profile.auth_files.items()}
    identity = {
        "config": _config(inp, "@NAME@", _PRIVATE, patch_files),
        "patches": patch_files,
        "auth": auth_files,
        "version": str(inp.version),
        "kind": inp.kind_version,
        "image_id": inp.image_id,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    name = cluster_name(inp.profile.id, inp.version, digest)
    private = str(private_dir.resolve()) if private_dir is not None else _PRIVATE
    expected = {
        "args": apiserver_args(inp.profile),
        "probes": {probe: dict(f) for probe, f in inp.profile.probes.items()},
        "named_port": (inp.profile.named_port
                       if inp.version >= NAMED_PROBE_PORT_SINCE else None),
        "auth_files": sorted([TOKEN_FILE, *auth_files]),
    }
    return Rendered(
        name=name,
        config_hash=digest[:HASH_LEN],
        kind_config=_config(inp, name, private, patch_files),
        auth_files=auth_files,
        patch_files=patch_files,
        expected=expected,
    )


def token_file_text(token: str) -> str:
    """The static token file line for the admin user (CSV ``token,user,uid``)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", token):
        raise ValueError("admin token must be at least 16 URL-safe characters")
    return f"{token},{ADMIN_USER},{ADMIN_UID}\n"
