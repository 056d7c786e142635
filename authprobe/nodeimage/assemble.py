"""Preload component images into the node's containerd and commit the final node image."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import AuthprobeError
from ..host.docker import docker
from ..model.timeouts import calls, waits
from ..wait import until

# What kind's node image declares (kind runs nodes with this entrypoint and systemd).
NODE_CHANGES = (
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
    "CMD []",
    "ENV container=docker",
    "STOPSIGNAL SIGRTMIN+3",
)
# `docker import` and `docker commit` accept no STOPSIGNAL; a metadata-only build sets it.
IMPORT_CHANGES = [change for change in NODE_CHANGES if not change.startswith("STOPSIGNAL")]
STOP_SIGNAL = "SIGRTMIN+3"


def node_changes(labels: dict[str, str]) -> list[str]:
    changes = list(IMPORT_CHANGES)
    changes += [f'LABEL {key}="{value}"' for key, value in sorted(labels.items())]
    return changes


def _wait_containerd(name: str, log: Path) -> None:
    answers = until(lambda: docker("exec", name, "ctr", "version",
                                   timeout=calls().node_read).returncode == 0,
                    timeout=waits().build_containerd, interval=0.5, give_last=True,
                    what="containerd in the node image build container")
    if answers:
        return
    docker("exec", name, "cat", "/var/log/containerd-preload.log", log=log)
    raise AuthprobeError("containerd did not start inside the node image build container",
                         log_path=str(log))


def import_command(pin: bool) -> list[str]:
    """ctr's import of the preload tarball. ``pin``: label the images pinned, as kind does (the
    flag and the CRI's pinned images came with containerd 2; ctr 1.7 has no --label)."""
    pinned = ["--label=io.cri-containerd.pinned=pinned"] if pin else []
    return ["ctr", "--namespace=k8s.io", "images", "import", *pinned, "--all-platforms",
            "--no-unpack", "/kind/images.tar"]


def preload_and_commit(assembly: str, tag: str, images_tar: Path, refs: list[str],
                       labels: dict[str, str], container: str, log: Path,
                       pin: bool = True) -> None:
    """Import ``images_tar`` into the k8s.io namespace of ``assembly``; commit as ``tag``."""
    docker("rm", "-f", container, log=log)
    docker("run", "-d", "--privileged", "--name", container, "--entrypoint", "sleep", assembly,
           "infinity", log=log, check="starting the node image build container")
    try:
        docker("exec", "-d", container, "sh", "-c",
               "containerd > /var/log/containerd-preload.log 2>&1", log=log,
               check="starting containerd")
        _wait_containerd(container, log)
        docker("cp", str(images_tar), f"{container}:/kind/images.tar", log=log,
               timeout=calls().image_build_step, check="copying component images into the node")
        docker("exec", container, *import_command(pin), log=log,
               timeout=calls().image_build_step, check="ctr images import in the node")
        listed = docker("exec", container, "ctr", "--namespace=k8s.io", "images", "list", "-q",
                        timeout=calls().node_slow,
                        check="ctr images list in the node").stdout.split()
        missing = [ref for ref in refs if ref not in listed and f"docker.io/{ref}" not in listed]
        if missing:
            raise AuthprobeError(f"images missing from the node's containerd after import: "
                                 f"{', '.join(missing)}", log_path=str(log))
        docker("exec", container, "sh", "-c",
               "pkill -x containerd; while pgrep -x containerd >/dev/null; do sleep 0.2; done; "
               "rm -f /kind/images.tar /var/log/containerd-preload.log",
               log=log, timeout=calls().node_slow, check="stopping containerd in the node")
        args = ["commit"]
        for change in node_changes(labels):
            args += ["--change", change]
        committed = f"{tag}-commit"
        docker(*args, container, committed, log=log, timeout=calls().image_build_step,
               check="docker commit of the node image")
        set_stop_signal(committed, tag, log)
        docker("rmi", committed, log=log)
    finally:
        docker("rm", "-f", container, log=log)


def set_stop_signal(source: str, tag: str, log: Path) -> None:
    """``tag``: ``source`` with systemd's stop signal (a build that adds no layer)."""
    env = dict(os.environ)
    if docker("buildx", "version").returncode:
        env["DOCKER_BUILDKIT"] = "0"
    docker("build", "-q", "-t", tag, "-", input=f"FROM {source}\nSTOPSIGNAL {STOP_SIGNAL}\n",
           log=log, env=env, timeout=calls().image_build_short,
           check="setting the node image's stop signal")
