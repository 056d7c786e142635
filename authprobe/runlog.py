"""What a run did besides scenarios: cluster phases and restart series, kept for the reports.

The cluster harness appends to it; the report writers read it at the end of the session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from .series import Sample


@dataclass
class PhaseRecord:
    """One lifecycle phase of one cluster: create, verify, dashboard, teardown."""

    cluster: str
    profile: str
    version: str
    node_image: str
    phase: str
    seconds: float
    outcome: str  # "passed", "failed", "expected-failure", "skipped"
    message: str = ""
    logs_dir: str | None = None


@dataclass
class ClusterInfo:
    name: str
    profile: str
    version: str
    node_image: str
    kind_version: str
    came_up: bool | None = None
    start_failure: str | None = None


@dataclass
class RunLog:
    phases: list[PhaseRecord] = field(default_factory=list)
    clusters: dict[str, ClusterInfo] = field(default_factory=dict)
    restart_series: dict[str, list[Sample]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_phase(self, record: PhaseRecord) -> None:
        with self._lock:
            self.phases.append(record)

    def add_cluster(self, info: ClusterInfo) -> None:
        with self._lock:
            self.clusters[info.name] = info

    def set_series(self, cluster: str, series: list[Sample]) -> None:
        with self._lock:
            self.restart_series[cluster] = list(series)


RUNLOG_KEY = pytest.StashKey[RunLog]()


def runlog(config: pytest.Config) -> RunLog:
    """The run's log, created on first use."""
    if RUNLOG_KEY not in config.stash:
        config.stash[RUNLOG_KEY] = RunLog()
    return config.stash[RUNLOG_KEY]
