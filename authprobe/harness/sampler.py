"""The kube-apiserver restart sampler: one reading every 10 s for a cluster's lifetime.

Each reading comes from the mirror pod when the API answers (source "api"), otherwise from
the node's container runtime (source "runtime"); the restart count is the higher of the two,
as the runtime knows of a new container before the kubelet reports it to the API. Time is
counted from the moment the pod's first kube-apiserver container was created (``t0``, epoch
seconds); with ``since``, containers created before it (those of before an upgrade) are left
out. With ``start_with`` (a pod UID, an attempt and that container's creation time), the
window starts with that container: time counts from its creation, and restarts from its
attempt, as after an upgrade, whose kubelet restart may have replaced the pod (the
replacement is the upgrade's record, :mod:`authprobe.model.replacement`). Each container
that exits is read from the runtime once, as soon as it is seen exited (the kubelet removes
old exited containers): its start, end, exit and last log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import kubernetes

from ..errors import AuthprobeError
from ..model.restarts import ContainerRun
from ..model.series import Sample
from ..model.timeouts import calls, waits
from ..progress import fmt_seconds
from ..wait import until
from .access import NodeAccess
from .readiness import apiserver_containers, container_run, current_pod

INTERVAL = 10.0
CONFIG_HASH = "kubernetes.io/config.hash"  # a static pod's UID, on its mirror pod


class RestartSampler:
    def __init__(self, cluster: str, node: NodeAccess,
                 api: kubernetes.client.ApiClient | None, window: float,
                 on_sample: Callable[[list[Sample]], None] | None = None,
                 interval: float = INTERVAL, since: float | None = None,
                 start_with: tuple[str, int, float] | None = None) -> None:
        self.cluster = cluster
        self.node = node
        self.api = api
        self.window = window
        self.interval = interval
        self.since = since if start_with is None else start_with[2]
        self.base_pod, self.base = (start_with[0], start_with[1]) if start_with else ("", 0)
        self._on_sample = on_sample
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.t0: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"sampler-{cluster}",
                                        daemon=True)
        self.errors: list[str] = []
        # An exited container's record never changes: read it once per container.
        self._ended: dict[str, ContainerRun] = {}

    @property
    def series(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    @property
    def containers(self) -> list[ContainerRun]:
        """The exited kube-apiserver containers seen so far, by attempt."""
        with self._lock:
            return sorted(self._ended.values(), key=lambda c: c.attempt)

    def start(self) -> RestartSampler:
        self._thread.start()
        return self

    def stop(self, join: bool = True) -> None:
        self._stop.set()
        if join and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=waits().thread_stop)

    def _from_api(self) -> tuple[int, bool, str | None, bool | None] | None:
        if self.api is None:
            return None
        core = kubernetes.client.CoreV1Api(self.api)
        try:
            pods = core.list_namespaced_pod("kube-system",
                                            label_selector="component=kube-apiserver",
                                            _request_timeout=calls().api_sample)
        except Exception:  # any failure to answer means: read the runtime instead
            return None
        for pod in pods.items:
            annotations = pod.metadata.annotations or {}
            base = self.base if annotations.get(CONFIG_HASH) == self.base_pod else 0
            for status in pod.status.container_statuses or []:
                if status.name == "kube-apiserver":
                    last = status.last_state.terminated if status.last_state else None
                    return max(0, status.restart_count - base), bool(status.ready), (
                        last.reason if last else None), status.started
        return None

    def _containers(self):
        found = current_pod(apiserver_containers(self.node))
        if self.since is not None:
            found = [c for c in found if c.created_ns / 1e9 >= self.since]
        # Attempts counted from the window's first container, in its pod.
        return [replace(c, attempt=c.attempt - self.base) if c.pod_uid == self.base_pod else c
                for c in found]

    def _from_runtime(self) -> tuple[int, bool, str | None, None] | None:
        containers = self._containers()
        if not containers:
            return None
        restarts = max(c.attempt for c in containers)
        exited = [c for c in containers if c.state == "CONTAINER_EXITED"]
        for container in exited:
            if container.id not in self._ended:
                run = container_run(self.node, container, self.t0)
                with self._lock:
                    self._ended[container.id] = run
        reason = None
        if exited:
            last = self._ended[exited[-1].id]
            reason = last.reason or f"exit {last.exit_code}"
        return restarts, False, reason, None

    def sample_once(self) -> Sample | None:
        if self.t0 is None:
            containers = self._containers()
            if not containers:
                return None
            self.t0 = containers[0].created_ns / 1e9
        api = self._from_api()
        try:
            runtime = self._from_runtime()
        except AuthprobeError:
            if api is None:
                raise
            runtime = None
        reading, source = (api, "api") if api is not None else (runtime, "runtime")
        if reading is None:
            return None
        restarts, ready, reason, started = reading
        if api is not None and runtime is not None:
            # The runtime knows of a new container before the kubelet reports it to the API.
            restarts = max(restarts, runtime[0])
        sample = Sample(t=round(time.time() - self.t0, 1), restarts=restarts, ready=ready,
                        last_reason=reason, source=source, started=started)
        with self._lock:
            self._samples.append(sample)
            series = list(self._samples)
        if self._on_sample is not None:
            self._on_sample(series)
        return sample

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sample_once()
            except (AuthprobeError, ValueError, OSError) as err:
                self.errors.append(str(err))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def covered(self) -> float:
        series = self.series
        return series[-1].t if series else 0.0

    def wait_for_window(self, seconds: float | None = None) -> list[Sample]:
        """Block until the samples cover ``seconds`` (default: the observation window)."""
        window = self.window if seconds is None else seconds

        def covered() -> bool:
            if self._stop.is_set() and not self._thread.is_alive():
                raise AuthprobeError(f"restart sampler of {self.cluster} stopped at "
                                     f"{self.covered():.0f}s of a {window:.0f}s window"
                                     + (f": {self.errors[-1]}" if self.errors else ""))
            return self.covered() >= window

        def state() -> str:
            series = self.series
            if not series:
                return "no sample yet" + (f", last error: {self.errors[-1]}" if self.errors
                                          else "")
            last = series[-1]
            return (f"{fmt_seconds(last.t)} covered, restarts {last.restarts}, "
                    f"ready {'yes' if last.ready else 'no'}")

        until(covered, timeout=window + waits().window_overrun, interval=2.0, state=state,
              what=f"{self.cluster}: kube-apiserver restarts over a {fmt_seconds(window)} window")
        return self.series
