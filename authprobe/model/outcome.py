"""What a run found, as typed records: one cell per (profile, scenario, version), the
lifecycle phases and facts of every cluster, and the restart series.

The harness fills a :class:`RunLog` as it goes; every report is rendered from it (through
``outcomes.json``), so no report guesses a profile, a version or an outcome kind from test
ids or message text.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .series import Sample

PASS = "pass"
FAIL = "fail"
ERROR = "error"
EXPECTED_FAILURE = "expected-failure"
SKIPPED = "skipped"
NA = "n/a"
NOT_JUDGED = "not-judged"
OUTCOMES = (PASS, EXPECTED_FAILURE, FAIL, ERROR, SKIPPED, NA, NOT_JUDGED)
MEANING = {
    PASS: "the scenario saw what its expectation row predicts",
    EXPECTED_FAILURE: "a failure the story predicts (a control plane that must not come up, "
                      "an apiserver that must restart) happened as predicted",
    FAIL: "the scenario saw something its expectation row does not predict",
    ERROR: "the harness or the cluster broke, so the scenario could not check anything",
    SKIPPED: "the scenario could not run: this machine or the profile lacks what it needs "
             "(a Dashboard image, a webhook authorizer); the message says what",
    NA: "the expectations (or the profile) say the scenario does not apply to this version",
    NOT_JUDGED: "the scenario ran, but no expectation row holds for its profile and version "
                "(a scenario newer than the rows of a team): authprobe rows record records one "
                "from the run",
}
LABELS = {PASS: "pass", EXPECTED_FAILURE: "expected failure", FAIL: "fail", ERROR: "error",
          SKIPPED: "skipped", NA: "n/a", NOT_JUDGED: "not judged"}
# A row judged what the scenario saw: the cells a row can be recorded from or confirmed by.
JUDGED = (PASS, EXPECTED_FAILURE, FAIL)
# A run succeeds when every cell is one of these (not judged: unless --fail-on-unjudged).
SUCCEEDS = (PASS, EXPECTED_FAILURE, NA, SKIPPED, NOT_JUDGED)

PHASE_PASSED = "passed"
PHASE_FAILED = "failed"
PHASE_EXPECTED_FAILURE = "expected-failure"
PHASE_SKIPPED = "skipped"


@dataclass
class CellRecord:
    profile: str
    scenario: str
    minor: str
    version: str  # the patch release the cluster ran (the minor when none was made)
    outcome: str
    message: str = ""
    expected: dict = field(default_factory=dict)
    observed: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    cluster: str | None = None
    node_image: str | None = None
    image_source: str | None = None
    kind_version: str | None = None
    nodeid: str = ""
    duration: float = 0.0
    detail: str = ""
    upgraded_from: str | None = None  # the cluster ran this version before an upgrade
    # the name of the row's alternative the observed values took (None: the row lists none,
    # none held, or a report of an older authprobe)
    alternative: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.profile, self.scenario, self.version)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CellRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class PhaseRecord:
    """One lifecycle phase of one cluster: create, verify, connect, ready, dashboard,
    evidence, teardown, and those of the steps a run adds (upgrade)."""

    cluster: str
    profile: str
    version: str
    phase: str
    seconds: float
    outcome: str  # passed, failed, expected-failure, skipped
    message: str = ""
    logs_dir: str | None = None


@dataclass
class ClusterRecord:
    name: str
    profile: str
    minor: str
    version: str
    node_image: str
    image_source: str
    kind_version: str
    came_up: bool | None = None
    start_failure: str | None = None
    probe_budget: float | None = None  # seconds until the kubelet kills a failing apiserver
    window: float | None = None  # seconds of restart observation
    probes: dict = field(default_factory=dict)  # the running apiserver's probe spec
    logs_dir: str | None = None
    upgraded_from: str | None = None  # the version this cluster was upgraded from in place
    # what `kubeadm upgrade diff` said the upgrade rewrites (authprobe.model.kubeadm_diff)
    kubeadm_diff: dict | None = None


@dataclass
class RunLog:
    """Everything the harness recorded during one run; safe to fill from several threads."""

    cells: list[CellRecord] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    clusters: dict[str, ClusterRecord] = field(default_factory=dict)
    series: dict[str, list[Sample]] = field(default_factory=dict)
    probe_results: dict[str, list[dict]] = field(default_factory=dict)
    probe_failures: dict[str, list[dict]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # one line per thing that stopped cells
    observations: dict[str, dict] = field(default_factory=dict)  # the declared observed fields
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_cell(self, cell: CellRecord) -> None:
        with self._lock:
            self.cells.append(cell)

    def add_phase(self, record: PhaseRecord) -> None:
        with self._lock:
            self.phases.append(record)

    def add_cluster(self, record: ClusterRecord) -> None:
        with self._lock:
            self.clusters[record.name] = record

    def set_series(self, cluster: str, series: list[Sample]) -> None:
        with self._lock:
            self.series[cluster] = list(series)

    def set_probe_evidence(self, cluster: str, results: list[dict],
                           failures: list[dict]) -> None:
        with self._lock:
            self.probe_results[cluster] = list(results)
            self.probe_failures[cluster] = list(failures)

    def add_problem(self, line: str) -> None:
        with self._lock:
            if line not in self.problems:
                self.problems.append(line)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "cells": [c.to_dict() for c in self.cells],
                "phases": [asdict(p) for p in self.phases],
                "clusters": [asdict(c) for c in self.clusters.values()],
                "series": {k: [s.to_dict() for s in v] for k, v in self.series.items()},
                "probe_results": {k: list(v) for k, v in self.probe_results.items()},
                "probe_failures": {k: list(v) for k, v in self.probe_failures.items()},
                "problems": list(self.problems),
                "observations": dict(self.observations),
            }
