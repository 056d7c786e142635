"""Check that the node's running kubelet has the configuration the profile asks for.

kind applies a ``KubeletConfiguration`` patch silently or not at all, like the kubeadm
patches, so the kubelet is checked as kube-apiserver is: its command line (read from the
running process) and the configuration file that command line names, read back from the
node (a flag on the command line overrides the file, so it is what counts where present);
and, where kube-apiserver answers, the configuration the kubelet reports it runs with
(``/configz``, through the apiserver's node proxy as cluster-admin).
"""

from __future__ import annotations

import json

import yaml

from ..model.profiles import flatten
from ..model.timeouts import calls
from .access import NodeAccess

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
# Kubelet flags that override a checked field of the configuration file.
OVERRIDING_FLAGS = {
    "anonymous-auth": "authentication.anonymous.enabled",
    "authentication-token-webhook": "authentication.webhook.enabled",
    "authorization-mode": "authorization.mode",
}
MISSING = object()


def kubelet_flags(argv: list[str]) -> dict[str, str]:
    """``--name=value`` and ``--name value`` arguments as {name: value}."""
    flags: dict[str, str] = {}
    for index, arg in enumerate(argv):
        if not arg.startswith("--"):
            continue
        name, sep, value = arg[2:].partition("=")
        if not sep and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
            value = argv[index + 1]
        flags[name] = value
    return flags


def _same(have, want) -> bool:
    if isinstance(want, bool):
        return str(have).lower() == str(want).lower()
    return str(have) == str(want)


def kubelet_differences(config: dict, argv: list[str], expected: dict) -> list[str]:
    """What differs between the running kubelet and ``expected`` (dotted paths to values)."""
    flags = kubelet_flags(argv)
    found = []
    if flags.get("config") != KUBELET_CONFIG:
        found.append(f"the kubelet runs with --config={flags.get('config', '')!r}, "
                     f"not {KUBELET_CONFIG}")
    values = flatten(config)
    by_path = {path: flag for flag, path in OVERRIDING_FLAGS.items()}
    for path, want in expected.items():
        flag = by_path.get(path)
        if flag in flags:
            have, where = flags[flag], f"the kubelet's --{flag}"
        else:
            have, where = values.get(path, MISSING), f"kubelet {path}"
        if have is MISSING:
            found.append(f"{where} is not set in {KUBELET_CONFIG}, profile sets {want!r}")
        elif not _same(have, want):
            found.append(f"{where} is {have!r}, profile sets {want!r}")
    return found


def read_kubelet(node: NodeAccess) -> tuple[dict, list[str]]:
    """The running kubelet's configuration file (as data) and its command line."""
    pid = node.exec("systemctl", "show", "kubelet", "--property=MainPID", "--value",
                    timeout=calls().node_read).stdout.strip()
    argv = []
    if pid.isdigit() and pid != "0":
        raw = node.exec("cat", f"/proc/{pid}/cmdline", timeout=calls().node_read,
                        check=False).stdout
        argv = [arg for arg in raw.split("\0") if arg]
    text = node.exec("cat", KUBELET_CONFIG, timeout=calls().node_read, check=False).stdout
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        config = {}
    return (config if isinstance(config, dict) else {}), argv


def configz_differences(configz: dict, expected: dict) -> list[str]:
    """What differs between the kubelet's own /configz answer and ``expected``."""
    values = flatten(configz.get("kubeletconfig") or {})
    return [f"the running kubelet's {path} is {values.get(path)!r} (/configz), profile sets "
            f"{want!r}" for path, want in expected.items()
            if path not in values or not _same(values[path], want)]


def read_configz(node: NodeAccess) -> dict | None:
    """The kubelet's /configz, through the apiserver's node proxy; None when it does not
    answer (a control plane that is down or restarting)."""
    path = f"/api/v1/nodes/{node.container}/proxy/configz"
    asked = calls().kubectl_request  # kubectl's own; the docker exec around it gets more
    result = node.kubectl("get", "--raw", path, f"--request-timeout={asked:g}s", check=False,
                          timeout=asked + calls().host_query)
    try:
        found = json.loads(result.stdout) if result.returncode == 0 else None
    except ValueError:
        return None
    return found if isinstance(found, dict) and "kubeletconfig" in found else None


def verify_kubelet(node: NodeAccess, expected: dict) -> list[str]:
    """Differences between the node's running kubelet and ``expected``; empty if none."""
    config, argv = read_kubelet(node)
    if not argv:
        return ["no kubelet process runs in the node"]
    found = kubelet_differences(config, argv, expected)
    configz = read_configz(node)
    if configz is not None:
        found += configz_differences(configz, expected)
    return found
