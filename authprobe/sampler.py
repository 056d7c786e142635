"""The kube-apiserver restart sampler: one reading every 10 s for a cluster's lifetime.

Each reading comes from the mirror pod when the API answers (source "api"), otherwise
from the node's container runtime (source "runtime"). Time is counted from the moment
the first kube-apiserver container started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import kubernetes

from .clients import NodeAccess
from .errors import AuthprobeError
from .progress import fmt_seconds, say
from .readiness import apiserver_containers, container_status
from .series import Sample

INTERVAL = 10.0


class RestartSampler:
    def __init__(self, cluster: str, node: NodeAccess,
                 api: kubernetes.client.ApiClient | None, window: float,
                 on_sample: Callable[[list[Sample]], None] | None = None,
                 interval: float = INTERVAL) -> None:
        self.cluster = cluster
        self.node = node
        self.api = api
        self.window = window
        self.interval = interval
        self._on_sample = on_sample
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._new = threading.Condition(self._lock)
        self._t0: float | None = None  # wall-clock epoch seconds of the first start
        self._thread = threading.Thread(target=self._run, name=f"sampler-{cluster}",
                                        daemon=True)
        self.errors: list[str] = []

    @property
    def series(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def start(self) -> RestartSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._new:
            self._new.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _first_start(self) -> float | None:
        containers = apiserver_containers(self.node)
        if not containers:
            return None
        return containers[0].created_ns / 1e9

    def _from_api(self) -> tuple[int, bool, str | None] | None:
        if self.api is None:
            return None
        core = kubernetes.client.CoreV1Api(self.api)
        try:
            pods = core.list_namespaced_pod(
                "kube-system", label_selector="component=kube-apiserver", _request_timeout=5
            )
        except Exception:  # any failure to answer means: read the runtime instead
            return None
        for pod in pods.items:
            for status in (pod.status.container_statuses or []):
                if status.name == "kube-apiserver":
                    last = status.last_state.terminated if status.last_state else None
                    return status.restart_count, bool(status.ready), (
                        last.reason if last else None)
        return None

    def _from_runtime(self) -> tuple[int, bool, str | None] | None:
        containers = apiserver_containers(self.node)
        if not containers:
            return None
        restarts = max(c.attempt for c in containers)
        exited = [c for c in containers if c.state == "CONTAINER_EXITED"]
        reason = None
        if exited:
            status = container_status(self.node, exited[-1].id)
            reason = status.get("reason") or f"exit {status.get('exitCode')}"
        return restarts, False, reason

    def sample_once(self) -> Sample | None:
        if self._t0 is None:
            self._t0 = self._first_start()
            if self._t0 is None:
                return None
        reading = self._from_api()
        source = "api"
        if reading is None:
            reading = self._from_runtime()
            source = "runtime"
        if reading is None:
            return None
        restarts, ready, reason = reading
        sample = Sample(t=round(time.time() - self._t0, 1), restarts=restarts, ready=ready,
                        last_reason=reason, source=source)
        with self._new:
            self._samples.append(sample)
            self._new.notify_all()
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

    def wait_for_window(self, seconds: float | None = None) -> list[Sample]:
        """Block until the samples cover ``seconds`` (default: the observation window)."""
        window = self.window if seconds is None else seconds
        last_said = 0.0
        deadline = time.monotonic() + window + 180
        with self._new:
            while not (self._samples and self._samples[-1].t >= window):
                if self._stop.is_set() or time.monotonic() > deadline:
                    have = self._samples[-1].t if self._samples else 0
                    raise AuthprobeError(
                        f"restart sampler of {self.cluster} stopped at {have:.0f}s of a "
                        f"{window:.0f}s window" + (f": {self.errors[-1]}" if self.errors else "")
                    )
                now = time.monotonic()
                if now - last_said >= 30:
                    covered = self._samples[-1].t if self._samples else 0.0
                    last = self._samples[-1] if self._samples else None
                    state = (f", restarts {last.restarts}, ready {last.ready}" if last else "")
                    say(f"{self.cluster}: observing kube-apiserver restarts, "
                        f"{fmt_seconds(covered)} of {fmt_seconds(window)}{state}")
                    last_said = now
                self._new.wait(timeout=self.interval)
            return list(self._samples)
