"""Preload component images into the node's containerd and commit the final node image."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import tenacity

from ..errors import AuthprobeError

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
CONTAINERD_WAIT = 60.0


def docker(args: list[str], log: Path, what: str, timeout: float = 1800,
           check: bool = True) -> subprocess.CompletedProcess:
    with log.open("a") as out:
        out.write(f"$ docker {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(["docker", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=timeout)
        out.write(result.stdout)
    if check and result.returncode:
        raise AuthprobeError(f"{what} failed", log_path=str(log))
    return result


def node_changes(labels: dict[str, str]) -> list[str]:
    changes = list(IMPORT_CHANGES)
    changes += [f'LABEL {key}="{value}"' for key, value in sorted(labels.items())]
    return changes


def _wait_containerd(name: str, log: Path) -> None:
    def answers() -> bool:
        probe = subprocess.run(["docker", "exec", name, "ctr", "version"], capture_output=True,
                               timeout=30)
        return probe.returncode == 0

    waiting = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda ok: not ok),
        stop=tenacity.stop_after_delay(CONTAINERD_WAIT), wait=tenacity.wait_fixed(0.5),
        retry_error_callback=lambda state: False,
    )
    if waiting(answers):
        return
    docker(["exec", name, "cat", "/var/log/containerd-preload.log"], log, "reading log",
           check=False)
    raise AuthprobeError("containerd did not start inside the node image build container",
                         log_path=str(log))


def preload_and_commit(assembly: str, tag: str, images_tar: Path, refs: list[str],
                       labels: dict[str, str], container: str, log: Path) -> None:
    """Import ``images_tar`` into the k8s.io namespace of ``assembly``; commit as ``tag``."""
    docker(["rm", "-f", container], log, "removing an old build container", check=False)
    docker(["run", "-d", "--privileged", "--name", container, "--entrypoint", "sleep",
            assembly, "infinity"], log, "starting the node image build container")
    try:
        docker(["exec", "-d", container, "sh", "-c",
                "containerd > /var/log/containerd-preload.log 2>&1"], log, "starting containerd")
        _wait_containerd(container, log)
        docker(["cp", str(images_tar), f"{container}:/kind/images.tar"], log,
               "copying component images into the node")
        docker(["exec", container, "ctr", "--namespace=k8s.io", "images", "import",
                "--label=io.cri-containerd.pinned=pinned", "--all-platforms", "--no-unpack",
                "/kind/images.tar"], log, "ctr images import in the node")
        listed = docker(["exec", container, "ctr", "--namespace=k8s.io", "images", "list", "-q"],
                        log, "ctr images list in the node").stdout.split()
        missing = [ref for ref in refs if ref not in listed and f"docker.io/{ref}" not in listed]
        if missing:
            raise AuthprobeError(
                f"images missing from the node's containerd after import: {', '.join(missing)}",
                log_path=str(log),
            )
        docker(["exec", container, "sh", "-c",
                "pkill -x containerd; while pgrep -x containerd >/dev/null; do sleep 0.2; done; "
                "rm -f /kind/images.tar /var/log/containerd-preload.log"],
               log, "stopping containerd in the node", timeout=120)
        args = ["commit"]
        for change in node_changes(labels):
            args += ["--change", change]
        committed = f"{tag}-commit"
        docker(args + [container, committed], log, "docker commit of the node image")
        set_stop_signal(committed, tag, log)
        docker(["rmi", committed], log, "untagging the committed image", check=False)
    finally:
        docker(["rm", "-f", container], log, "removing the build container", check=False)


def set_stop_signal(source: str, tag: str, log: Path) -> None:
    """``tag``: ``source`` with systemd's stop signal (a build that adds no layer)."""
    env = dict(os.environ)
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode:
        env["DOCKER_BUILDKIT"] = "0"
    dockerfile = f"FROM {source}\nSTOPSIGNAL {STOP_SIGNAL}\n"
    with log.open("a") as out:
        out.write(f"$ docker build -t {tag} - <<< {dockerfile!r}\n")
        out.flush()
        result = subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile,
                                text=True, stdout=out, stderr=subprocess.STDOUT, env=env,
                                timeout=600)
    if result.returncode:
        raise AuthprobeError("setting the node image's stop signal failed", log_path=str(log))
