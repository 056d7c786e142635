"""kind clusters: create (kept on failure), kubeconfig, export logs, delete.

Built on pytest-kind-ng's ``KindCluster``; every kind child runs in its own process
group and is tracked, so an interrupted run can stop it and remove what it made.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_kind import KindCluster

from .errors import AuthprobeError
from .paths import cache_dir

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
CREATE_TIMEOUT = 600.0


def private_dir(name: str) -> Path:
    """The cluster's own folder on the host (kubeconfig, token file, mounts), mode 0700."""
    path = cache_dir() / "clusters" / name
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a credential-bearing file with mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


class _Children:
    """kind processes started by this run, so an interrupt can stop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        self.closed = False

    def add(self, proc: subprocess.Popen, interruptible: bool = True) -> None:
        """Track ``proc``; after ``stop_all`` an interruptible late starter is stopped at once."""
        with self._lock:
            self._procs.add(proc)
            closed = self.closed
        if closed and interruptible:
            _signal_group(proc, signal.SIGKILL)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self, grace: float = 10.0) -> None:
        with self._lock:
            self.closed = True
            procs = list(self._procs)
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


CHILDREN = _Children()


def run_kind(argv: list[str], log: Path | None = None, timeout: float = 300.0,
             should_stop: Callable[[], bool] | None = None, poll: float = 10.0,
             interruptible: bool = False) -> subprocess.CompletedProcess:
    """Run one kind command in its own process group; output to ``log`` or captured.

    With ``log``, ``should_stop`` is asked every ``poll`` seconds; when it answers True the
    command is stopped and the result has return code -15. An ``interruptible`` command
    (cluster creation) is stopped when the run is interrupted, even if it starts after.
    """
    if log is None:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        CHILDREN.add(proc, interruptible)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            stdout, _ = proc.communicate()
            return subprocess.CompletedProcess(argv, -9, stdout or "", "")
        finally:
            CHILDREN.discard(proc)
        return subprocess.CompletedProcess(argv, proc.returncode, stdout or "", "")
    with log.open("a") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        CHILDREN.add(proc, interruptible)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    proc.wait(timeout=min(poll, max(0.1, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() >= deadline:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    return subprocess.CompletedProcess(argv, -9, "", "")
                if should_stop is not None and should_stop():
                    _signal_group(proc, signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        _signal_group(proc, signal.SIGKILL)
                        proc.wait()
                    return subprocess.CompletedProcess(argv, -15, "", "")
        finally:
            CHILDREN.discard(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, "", "")


def docker(*argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class ImageFacts:
    image: str
    default_cni: bool
    dashboard_image: str | None
    kube_version: str | None  # from /kind/version in the image
    image_id: str = ""  # content ID: a moved tag gives a different cluster


def image_facts(image: str) -> ImageFacts:
    """What the harness needs to know about a node image present in the engine."""
    inspect = docker("image", "inspect", image)
    if inspect.returncode:
        raise AuthprobeError(f"node image {image} is not in the Docker engine")
    details = json.loads(inspect.stdout)[0]
    labels = (details.get("Config") or {}).get("Labels") or {}
    probe = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
        "cat /kind/version; test -f /kind/manifests/default-cni.yaml && echo default-cni",
    )
    if probe.returncode not in (0, 1):
        raise AuthprobeError(f"cannot read /kind/version from node image {image}: "
                             f"{probe.stderr.strip().splitlines()[-1:] or probe.returncode}")
    lines = probe.stdout.split()
    return ImageFacts(
        image=image,
        default_cni="default-cni" in lines,
        dashboard_image=labels.get("io.authprobe.dashboard-image"),
        kube_version=lines[0].lstrip("v") if lines else None,
        image_id=details.get("Id", ""),
    )


def host_cgroup_version() -> int:
    """The cgroup version the Docker engine runs containers with (1 or 2)."""
    result = docker("info", "--format", "{{.CgroupVersion}}")
    text = result.stdout.strip()
    if result.returncode == 0 and text in ("1", "2"):
        return int(text)
    return 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1


# inotify instances one running node takes (systemd, kubelet, containerd and the pods);
# measured about 29 on a single-node cluster.
INOTIFY_PER_NODE = 32
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")


def inotify_instances() -> int | None:
    try:
        return int(INOTIFY_LIMIT.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def clusters_host_allows() -> int:
    """How many single-node clusters can run at once before nodes fail to boot.

    All nodes run as root on the host, so they share root's inotify instance limit; a node
    whose systemd cannot get one exits at start.
    """
    limit = inotify_instances()
    if limit is None:
        return 1000
    return max(1, limit // INOTIFY_PER_NODE)


def existing_clusters(kind_path: Path) -> list[str]:
    result = run_kind([str(kind_path), "get", "clusters"], timeout=60)
    if result.returncode:
        raise AuthprobeError(f"`kind get clusters` failed: {result.stdout.strip()[-300:]}")
    return [line.strip() for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("No kind clusters")]


class KindProvider(KindCluster):
    """One kind cluster driven through a local kind binary, files under ``private_dir``."""

    def __init__(self, name: str, kind_path: Path, image: str, directory: Path) -> None:
        if not kind_path.exists():
            raise AuthprobeError(f"kind binary {kind_path} does not exist: pass --kind-bin "
                                 "or run `authprobe bootstrap`")
        # KindCluster's own __init__ would make .pytest-kind/<name> in the working directory
        # and default to downloaded binaries; set the same attributes explicitly instead.
        self.name = name
        self.image = image
        self.path = directory
        self.kubeconfig_path = directory / "kubeconfig"
        self.kind_path = kind_path
        self.kubectl_path = kind_path.parent / "kubectl"
        self.platform = "linux"
        self.create_log = directory / "kind-create.log"

    @property
    def node_container(self) -> str:
        return f"{self.name}-control-plane"

    def ensure_kind(self) -> None:  # never download
        if not self.kind_path.exists():
            raise AuthprobeError(f"kind binary {self.kind_path} does not exist")

    def ensure_kubectl(self) -> None:  # never download; kubectl runs inside the node
        raise AuthprobeError("authprobe runs kubectl inside the node, not from the host")

    def exists(self) -> bool:
        return self.name in existing_clusters(self.kind_path)

    def create(self, config_file: Path | str | None = None, timeout: float = CREATE_TIMEOUT,
               should_stop: Callable[[], bool] | None = None) -> subprocess.CompletedProcess:
        """``kind create cluster --retain``: nodes stay on failure so evidence can be read."""
        self.ensure_kind()
        self.create_log.write_text("")
        argv = [str(self.kind_path), "create", "cluster", f"--name={self.name}",
                f"--kubeconfig={self.kubeconfig_path}", f"--image={self.image}", "--retain"]
        if config_file:
            argv += ["--config", str(config_file)]
        if not self.kubeconfig_path.exists():
            write_private(self.kubeconfig_path, "")
        return run_kind(argv, log=self.create_log, timeout=timeout, should_stop=should_stop,
                        interruptible=True)

    def write_kubeconfig(self) -> Path:
        """(Re)write the host kubeconfig, 0600, from the running node."""
        result = run_kind([str(self.kind_path), "get", "kubeconfig", f"--name={self.name}"],
                          timeout=60)
        if result.returncode:
            raise AuthprobeError(f"`kind get kubeconfig --name {self.name}` failed: "
                                 f"{result.stdout.strip()[-300:]}")
        write_private(self.kubeconfig_path, result.stdout)
        return self.kubeconfig_path

    def export_logs(self, dest: Path) -> subprocess.CompletedProcess:
        dest.mkdir(parents=True, exist_ok=True)
        return run_kind([str(self.kind_path), "export", "logs", str(dest), f"--name={self.name}"],
                        timeout=180)

    def delete(self) -> None:
        result = run_kind([str(self.kind_path), "delete", "cluster", f"--name={self.name}",
                           f"--kubeconfig={self.kubeconfig_path}"], timeout=180)
        if result.returncode or containers_of(self.name):
            remove_containers(self.name)

    def load_docker_image(self, docker_image: str) -> None:
        result = run_kind([str(self.kind_path), "load", "docker-image", "--name", self.name,
                           docker_image], timeout=300)
        if result.returncode:
            raise AuthprobeError(f"`kind load docker-image {docker_image}` failed: "
                                 f"{result.stdout.strip()[-300:]}")


def containers_of(cluster: str) -> list[str]:
    result = docker("ps", "-a", "--filter", f"label={CLUSTER_LABEL}={cluster}",
                    "--format", "{{.Names}}")
    return result.stdout.split() if result.returncode == 0 else []


def remove_containers(cluster: str) -> None:
    """Last resort when ``kind delete`` fails: remove the node containers directly."""
    names = containers_of(cluster)
    if names:
        docker("rm", "-f", "-v", *names, timeout=120)
