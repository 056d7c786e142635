"""Lay kind's base-image files, the built binaries and the node's configuration on a rootfs."""

from __future__ import annotations

import json
import re
import shutil
import string
import subprocess
from pathlib import Path

from ..errors import AuthprobeError
from ..model.timeouts import calls
from ..model.versions import VersionFacts
from . import rootfs

FILES_DIR = Path(__file__).resolve().parent / "files"
KIND_FILES = Path("images") / "base" / "files"
EXECUTABLE_DIRS = ("usr/local/bin", "kind/bin")
STATIC_CNI = "etc/cni/net.d/10-authprobe-static.conflist"
BLACKHOLE_UNIT = "cluster-ranges-blackhole.service"
UNBIND_DROP_IN = "12-authprobe-unbind-cgroup-root.conf"
SERVICES_ENABLED = (
    "kubelet.service", "containerd.service", "undo-mount-hacks.service", BLACKHOLE_UNIT
)
# kubeadm's default service range (kind's 10.96.0.0/16 lies inside it) and kind's pod range.
SERVICE_RANGE = "10.96.0.0/12"
POD_RANGE = "10.244.0.0/16"
SERVICES_MASKED = ("systemd-binfmt.service",)


def install_kind_files(tree: Path, kind_module: Path) -> None:
    """Copy kind's base-image files (read from the downloaded kind module) onto ``tree``."""
    source = kind_module / KIND_FILES
    if not source.is_dir():
        raise AuthprobeError(f"kind's base-image files are missing from the kind module: {source}")
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(source)
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        executable = any(str(relative).startswith(d + "/") for d in EXECUTABLE_DIRS)
        target.chmod(0o755 if executable else 0o644)
    for directory in ("kind", "kind/bin"):
        (tree / directory).chmod(0o755)


def containerd_config(text: str, sandbox_image: str, systemd_cgroup: bool) -> str:
    """kind's containerd config with the settings this node needs.

    restrict_oom_score_adj: hosts without CAP_SYS_RESOURCE cannot set negative OOM scores.
    sandbox_image: the pause image kubeadm lists, which the image preloads.
    SystemdCgroup (of every runc runtime): the cgroup driver kind gives the kubelet of this
    version (versions.yaml ``containerd_systemd_cgroup``).
    """
    text = _set_once(text, r"restrict_oom_score_adj\s*=\s*\w+", "restrict_oom_score_adj = true",
                     "restrict_oom_score_adj")
    text = _set_once(text, r'sandbox_image\s*=\s*"[^"]*"', f'sandbox_image = "{sandbox_image}"',
                     "sandbox_image")
    text, count = re.subn(r"SystemdCgroup\s*=\s*\w+",
                          f"SystemdCgroup = {str(systemd_cgroup).lower()}", text)
    if not count:
        raise AuthprobeError("kind's containerd config has no SystemdCgroup setting")
    return text


def _set_once(text: str, pattern: str, replacement: str, name: str) -> str:
    text, count = re.subn(pattern, replacement, text)
    if count != 1:
        raise AuthprobeError(f"kind's containerd config has no {name} setting")
    return text


def cri_base_spec(ctr: Path) -> str:
    """containerd's default OCI spec shaped as in kind's base image (hook added, no rlimits)."""
    result = subprocess.run([str(ctr), "oci", "spec"], capture_output=True, text=True,
                            timeout=calls().tool_version)
    if result.returncode:
        raise AuthprobeError(f"`ctr oci spec` failed: {result.stderr.strip()}")
    spec = json.loads(result.stdout)
    hooks = spec.setdefault("hooks", {}).setdefault("createContainer", [])
    hooks.append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return json.dumps(spec, indent=2) + "\n"


def render(name: str, values: dict[str, str]) -> str:
    return string.Template((FILES_DIR / name).read_text()).substitute(values)


def install(tree: Path, source: Path, target: str, mode: int = 0o755) -> None:
    destination = tree / target.lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    destination.chmod(mode)


def lay_node(tree: Path, kind_module: Path, parts: dict, facts: VersionFacts, kube_version: str,
             pod_subnet: str, log: Path) -> None:
    """Turn a Debian tree into a kind node rootfs (everything but the preloaded images).

    ``parts`` holds the build's binary folders: kube, containerd, crictl, cni; and refs, the
    images kubeadm lists (the pause image becomes containerd's sandbox image).
    """
    rootfs.trim_systemd(tree)
    install_kind_files(tree, kind_module)
    config = tree / "etc/containerd/config.toml"
    config.write_text(containerd_config(config.read_text(), parts["refs"]["pause"],
                                        facts.containerd_systemd_cgroup))
    for name in ("kubeadm", "kubelet", "kubectl"):
        install(tree, parts["kube"] / name, f"/usr/bin/{name}")
    for name in ("containerd", "ctr", "containerd-shim-runc-v2"):
        install(tree, parts["containerd"] / name, f"/usr/local/bin/{name}")
    install(tree, parts["crictl"] / "crictl", "/usr/local/bin/crictl")
    for plugin in sorted(parts["cni"].iterdir()):
        install(tree, plugin, f"/opt/cni/bin/{plugin.name}")
    (tree / "etc/containerd/cri-base.json").write_text(
        cri_base_spec(parts["containerd"] / "ctr"))
    values = {"POD_SUBNET": pod_subnet}
    (tree / STATIC_CNI).parent.mkdir(parents=True, exist_ok=True)
    (tree / STATIC_CNI).write_text(render("static-cni.conflist", values))
    manifests = tree / "kind/manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / "default-cni.yaml").write_text(render("default-cni.yaml", values))
    (manifests / "default-storage.yaml").write_text(render("default-storage.yaml", values))
    (tree / "etc/systemd/system" / BLACKHOLE_UNIT).write_text(
        render(BLACKHOLE_UNIT, {"SERVICE_RANGE": SERVICE_RANGE, "POD_RANGE": POD_RANGE}))
    if facts.kubelet_unbind_cgroup_root:
        (tree / "etc/systemd/system/kubelet.service.d" / UNBIND_DROP_IN).write_text(
            render(UNBIND_DROP_IN, {}))
    (tree / "kind/version").write_text(kube_version + "\n")
    (tree / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)
    rootfs.chroot(tree, ["systemctl", "enable", *SERVICES_ENABLED], log, "systemctl enable")
    rootfs.chroot(tree, ["systemctl", "mask", *SERVICES_MASKED], log, "systemctl mask")
