"""The provider contract, and kind as its one implementation.

A provider makes one cluster and answers for it; the lifecycle steps (:mod:`.steps`) call
exactly what :class:`Provider` lists: ``create`` (nodes kept on failure, so the evidence can
be read), ``exists``, ``write_kubeconfig`` (for a reused cluster), ``export_logs`` and
``destroy``, and reach the node through ``node_container``. Every kind command runs in its
own process group and is tracked, so an interrupted run stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import AuthprobeError
from ..host import docker
from ..host.processes import run_tracked
from ..model.timeouts import calls
from ..wait import until
from .naming import write_private


@dataclass(frozen=True)
class CreateResult:
    ok: bool
    stopped: bool  # ``should_stop`` ended it early
    log: Path

    def last_error(self) -> str:
        try:
            lines = [line.strip() for line in self.log.read_text().splitlines() if line.strip()]
        except OSError:
            return "no output"
        for line in reversed(lines):
            if line.startswith("ERROR") or "error" in line.lower():
                return line[:300]
        return lines[-1][:300] if lines else "no output"


class Provider(Protocol):
    name: str
    directory: Path  # the cluster's private folder (0700)
    kubeconfig: Path  # cluster-admin's kubeconfig, 0600, in ``directory``

    @property
    def node_container(self) -> str: ...

    def create(self, config: Path, timeout: float,
               should_stop: Callable[[], bool] | None = None) -> CreateResult: ...

    def exists(self) -> bool: ...

    def write_kubeconfig(self) -> None: ...

    def export_logs(self, dest: Path) -> str | None: ...

    def destroy(self, timeout: float) -> None: ...


class KindProvider:
    """One kind cluster, driven by a local kind binary, its files in ``directory``."""

    def __init__(self, name: str, kind_path: Path, image: str, directory: Path) -> None:
        self.name = name
        self.kind_path = kind_path
        self.image = image
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        self.create_log = directory / "kind-create.log"

    @property
    def node_container(self) -> str:
        return f"{self.name}-control-plane"

    def _kind(self, *argv: str, timeout: float | None = None):
        return run_tracked([str(self.kind_path), *argv],
                           timeout=calls().kind_command if timeout is None else timeout)

    def exists(self) -> bool:
        return bool(docker.container_names(self.name))

    def create(self, config: Path, timeout: float,
               should_stop: Callable[[], bool] | None = None) -> CreateResult:
        """``kind create cluster --retain``: nodes stay on failure so evidence can be read."""
        self.create_log.write_text("")
        write_private(self.kubeconfig, "")
        result = run_tracked(
            [str(self.kind_path), "create", "cluster", f"--name={self.name}",
             f"--kubeconfig={self.kubeconfig}", f"--image={self.image}", "--retain",
             "--config", str(config)],
            log=self.create_log, timeout=timeout, should_stop=should_stop,
            interruptible=True)
        return CreateResult(ok=result.returncode == 0, stopped=result.returncode == -15,
                            log=self.create_log)

    def write_kubeconfig(self) -> None:
        """(Re)write the kubeconfig, 0600, from the running node (for a reused cluster)."""
        result = self._kind("get", "kubeconfig", f"--name={self.name}",
                            timeout=calls().host_command)
        if result.returncode:
            raise AuthprobeError(f"`kind get kubeconfig --name {self.name}` failed: "
                                 f"{result.stdout.strip()[-300:]}")
        write_private(self.kubeconfig, result.stdout)

    def export_logs(self, dest: Path) -> str | None:
        """``kind export logs`` into ``dest``; the error line when it fails, else None."""
        dest.mkdir(parents=True, exist_ok=True)
        result = self._kind("export", "logs", str(dest), f"--name={self.name}")
        if result.returncode:
            return f"`kind export logs` failed: {result.stdout.strip()[-200:]}"
        return None

    def destroy(self, timeout: float) -> None:
        """``kind delete cluster``, then remove whatever node container is left: one whose
        ``docker run`` was interrupted can outlive kind's delete while the engine starts it."""
        self._kind("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig}")

        def gone() -> bool:
            left = docker.container_names(self.name)
            if left:
                docker.remove_containers(left)
            return not docker.container_names(self.name)

        until(gone, timeout=timeout, interval=1.0, quiet=True,
              what=f"the node containers of {self.name} to be removed")
