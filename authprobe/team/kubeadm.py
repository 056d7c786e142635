"""A cluster's kubeadm configuration, read, and what kubeadm renders from it into the
kube-apiserver static pod (its flags and probes), from the facts in ``kubeadm.yaml``.

The configuration comes as the ``kube-system/kubeadm-config`` ConfigMap as ``kubectl get -o
yaml`` prints it (its ``ClusterConfiguration``), or as a kubeadm config file of
ClusterConfiguration, InitConfiguration and KubeletConfiguration documents; the kubeadm APIs
``v1beta3`` and ``v1beta4`` (v1beta4's ``extraArgs`` list reads as v1beta3's mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import AuthprobeError

FACTS_FILE = Path(__file__).with_name("kubeadm.yaml")
CONFIGMAP_HINT = "kubectl -n kube-system get configmap kubeadm-config -o yaml"
KUBEADM_KINDS = ("ClusterConfiguration", "InitConfiguration")
KUBELET_KIND = "KubeletConfiguration"


@dataclass(frozen=True)
class Node:
    """A rendered value that comes from the node or the etcd it uses: not compared."""

    why: str


@cache
def facts() -> dict:
    return yaml.safe_load(FACTS_FILE.read_text())


@dataclass(frozen=True)
class KubeadmConfig:
    """The documents of one kubeadm configuration."""

    source: str
    cluster: dict  # the ClusterConfiguration
    # apiServer.extraArgs as {flag: value} (v1beta4's list: the last of a name wins)
    extra_args: dict[str, str]
    init: dict | None = None  # the InitConfiguration (a config file only)
    kubelet: dict | None = None  # the KubeletConfiguration (a config file only)

    @property
    def api_version(self) -> str:
        return str(self.cluster.get("apiVersion"))

    @property
    def kubernetes_version(self) -> str | None:
        value = self.cluster.get("kubernetesVersion")
        return str(value) if value else None

    def setting(self, dotted: str) -> Any:
        """A ClusterConfiguration setting by dotted path, or its default (None if neither)."""
        node: Any = self.cluster
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return facts()["defaults"].get(dotted)
        return node


def args_of(value: Any, source: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(e, dict) and "name" in e for e in value):
        return {str(e["name"]): _text(e.get("value", "")) for e in value}
    raise AuthprobeError(f"{source}: apiServer.extraArgs must be a mapping (v1beta3) or a list "
                         "of {name, value} (v1beta4)")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _documents(text: str, source: str) -> list:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AuthprobeError(f"{source} is not valid YAML{where}") from None


def read_config(path: Path) -> KubeadmConfig:
    """The kubeadm configuration in ``path``; one line naming what is wrong otherwise."""
    source = str(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise AuthprobeError(f"cannot read {source}: {err.strerror}") from None
    docs = _documents(text, source)
    if len(docs) == 1 and isinstance(docs[0], dict) and docs[0].get("kind") == "ConfigMap":
        docs = _from_configmap(docs[0], source)
    found: dict[str, dict] = {}
    for doc in docs:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind in (*KUBEADM_KINDS, KUBELET_KIND):
            if kind in found:
                raise AuthprobeError(f"{source} holds two {kind} documents: give one")
            found[kind] = doc
    cluster = found.get("ClusterConfiguration")
    if cluster is None:
        kinds = ", ".join(sorted({str(d.get("kind")) for d in docs if isinstance(d, dict)}))
        raise AuthprobeError(
            f"{source} is not a kubeadm configuration: it holds no ClusterConfiguration "
            f"({kinds or 'no documents'}); give the ConfigMap ({CONFIGMAP_HINT}) or the "
            "kubeadm config file")
    for kind in KUBEADM_KINDS:
        doc = found.get(kind)
        if doc is not None and doc.get("apiVersion") not in facts()["apiVersions"]:
            raise AuthprobeError(
                f"{source}: {kind} {doc.get('apiVersion')} is not read; authprobe reads "
                f"{' and '.join(facts()['apiVersions'])} (`kubeadm config migrate` converts "
                "older files)")
    api_server = cluster.get("apiServer") or {}
    if not isinstance(api_server, dict):
        raise AuthprobeError(f"{source}: apiServer must be a mapping")
    return KubeadmConfig(source, cluster, args_of(api_server.get("extraArgs"), source),
                         found.get("InitConfiguration"), found.get(KUBELET_KIND))


def _from_configmap(configmap: dict, source: str) -> list:
    meta = configmap.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name = f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
    data = configmap.get("data")
    text = data.get("ClusterConfiguration") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise AuthprobeError(
            f"{source}: ConfigMap {name} is not a kubeadm configuration (no "
            f"data.ClusterConfiguration); give kube-system/kubeadm-config ({CONFIGMAP_HINT})")
    return _documents(text, f"{source} (ConfigMap {name}, data.ClusterConfiguration)")


def minor_of(config: KubeadmConfig) -> str | None:
    """The minor (1.34) of the configuration's kubernetesVersion, if it names one."""
    found = re.match(r"^v?(\d+)\.(\d+)", config.kubernetes_version or "")
    return f"{found.group(1)}.{found.group(2)}" if found else None


def _fill(value: str, config: KubeadmConfig) -> str:
    return re.sub(r"\{([A-Za-z.]+)\}", lambda m: str(config.setting(m.group(1))), value)


def _seconds(duration: str) -> int:
    """A Go duration such as 4m0s, in whole seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", str(duration))
    if not parts or "".join(n + u for n, u in parts) != str(duration):
        raise AuthprobeError(f"'{duration}' is not a duration such as 4m0s")
    return int(sum(float(n) * units[u] for n, u in parts))


def health_check_timeout(config: KubeadmConfig) -> str:
    if config.api_version.endswith("v1beta3"):
        found = (config.cluster.get("apiServer") or {}).get("timeoutForControlPlane")
    else:
        found = (config.cluster.get("timeouts") or {}).get("controlPlaneComponentHealthCheck")
    return str(found or facts()["healthCheckTimeout"])


def rendered_flags(config: KubeadmConfig) -> dict[str, str | Node]:
    """The kube-apiserver flags kubeadm writes from the configuration: its own, then
    apiServer.extraArgs over them (--authorization-mode left out beside
    --authorization-config)."""
    flags: dict[str, str | Node] = {}
    for name, value in facts()["flags"].items():
        flags[name] = Node(value["node"]) if isinstance(value, dict) else _fill(str(value),
                                                                                 config)
    extra = config.extra_args
    if "authorization-config" in extra:
        flags.pop("authorization-mode", None)
    flags.update(extra)
    return flags


def rendered_probes(config: KubeadmConfig) -> dict[str, dict]:
    """The probes kubeadm writes (path, scheme and timings; host and port are the node's)."""
    probes = {}
    period_of_startup = facts()["probes"]["startupProbe"]["periodSeconds"]
    for name, fields in facts()["probes"].items():
        probe = {}
        for key, value in fields.items():
            if value == "{healthCheckTimeout}":
                value = _seconds(health_check_timeout(config)) // period_of_startup
            probe[key] = value
        probes[name] = probe
    return probes
