"""Control-plane component images, made locally and named exactly as kubeadm lists them."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import AuthprobeError
from ..host import docker
from ..model.timeouts import calls
from . import kube, rootfs

PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STATIC_SERVERS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def _binary_image(work: Path, tag: str, binary: Path, target: str, entrypoint: list[str],
                  ca_bundle: Path, log: Path) -> None:
    tree = work / kube.image_name(tag)
    shutil.rmtree(tree, ignore_errors=True)
    rootfs.minimal_tree(tree, ca_bundle)
    destination = tree / target.lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(binary, destination)
    destination.chmod(0o755)
    entry = ", ".join(f'"{part}"' for part in entrypoint)
    rootfs.tar_import(tree, tag, [PATH_ENV, f"ENTRYPOINT [{entry}]"], log, tag)
    shutil.rmtree(tree, ignore_errors=True)


def build_component_images(
    refs: dict[str, str],
    kube_bin: Path,
    etcd_bin: Path,
    coredns_bin: Path,
    pause_bin: Path,
    debian_tree: Path,
    work: Path,
    log: Path,
) -> list[str]:
    """One image per ref kubeadm lists; returns the refs built."""
    ca_bundle = debian_tree / "etc/ssl/certs/ca-certificates.crt"
    work.mkdir(parents=True, exist_ok=True)
    expected = {*STATIC_SERVERS, "kube-proxy", "etcd", "coredns", "pause"}
    missing = expected - refs.keys()
    if missing:
        raise AuthprobeError(
            f"kubeadm's image list lacks {', '.join(sorted(missing))}: cannot build its images"
        )
    for name in STATIC_SERVERS:
        _binary_image(work, refs[name], kube_bin / name, f"/usr/local/bin/{name}",
                      [f"/usr/local/bin/{name}"], ca_bundle, log)
    _binary_image(work, refs["etcd"], etcd_bin / "etcd", "/usr/local/bin/etcd",
                  ["/usr/local/bin/etcd"], ca_bundle, log)
    _binary_image(work, refs["coredns"], coredns_bin / "coredns", "/coredns", ["/coredns"],
                  ca_bundle, log)
    _binary_image(work, refs["pause"], pause_bin / "pause", "/pause", ["/pause"], ca_bundle, log)
    build_kube_proxy_image(refs["kube-proxy"], kube_bin / "kube-proxy", debian_tree, work, log)
    return [refs[name] for name in sorted(expected)]


def build_kube_proxy_image(tag: str, binary: Path, debian_tree: Path, work: Path,
                           log: Path) -> None:
    """kube-proxy on the node's own Debian userland, so its iptables backend matches the node's."""
    tree = work / "kube-proxy"
    shutil.rmtree(tree, ignore_errors=True)
    rootfs.copy_tree(debian_tree, tree)
    for unneeded in ("usr/share/zoneinfo", "usr/lib/systemd", "var/cache", "usr/share/i18n"):
        shutil.rmtree(tree / unneeded, ignore_errors=True)
    destination = tree / "usr/local/bin/kube-proxy"
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(binary, destination)
    destination.chmod(0o755)
    rootfs.tar_import(tree, tag, [PATH_ENV, 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]'], log, tag)
    shutil.rmtree(tree, ignore_errors=True)


def save_images(refs: list[str], output: Path, log: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    docker.docker("save", "-o", str(output), *refs, log=log, timeout=calls().image_build_step,
                  check="docker save of the component images")
