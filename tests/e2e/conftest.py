"""Helpers for the real-cluster tests: pytest runs in child processes, as a user runs them,
and what they leave in the Docker engine. A leak check looks only at the clusters of the run
it made (``left_of``): other runs on the machine, of the same minor too, are theirs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from authprobe.harness import naming
from authprobe.harness.naming import NAME_RE
from authprobe.host import docker
from authprobe.model.versions import default_minor

VERSION = os.environ.get("AUTHPROBE_E2E_VERSION", default_minor())
DATA = Path(__file__).resolve().parent / "data"


# The line the harness says as it starts `kind create cluster`, naming the cluster.
CREATING = re.compile(r"creating cluster (\S+) ")


def created(child) -> list[str]:
    """The clusters a child run said it creates, in order."""
    return list(dict.fromkeys(m.group(1) for _, line in child.lines
                              for m in [CREATING.search(line)] if m))


def records(folder: Path) -> list[dict]:
    """What a team's scenarios of a child run recorded into HARNESS_OUT (records.jsonl)."""
    path = folder / "records.jsonl"
    return ([json.loads(line) for line in path.read_text().splitlines()]
            if path.exists() else [])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "AUTHPROBE_K8S", "AUTHPROBE_PROFILE"))}
    return {**env, **extra}


def clusters_left(prefix: str = "authprobe-") -> set[str]:
    """Names of kind clusters with node containers in the engine."""
    return {row["cluster"] for row in docker.kind_containers()
            if row["cluster"].startswith(prefix)}


def name_token(name: str) -> str:
    """The run token a cluster's name carries (``r<hash>`` for one kept for reuse)."""
    match = NAME_RE.match(name)
    assert match, f"{name} is not named as authprobe names a run's clusters"
    return match.group("id")


def run_clusters(outcomes: dict) -> set[str]:
    """The kind clusters a run made, as its outcomes.json names them (its clusters and its
    cells' clusters, an upgraded one once), all carrying the run's one token
    (authprobe/harness/naming.py ``cluster_name``)."""
    # after an upgrade in place the report keeps the cluster twice, the second record
    # labelled with the version it reached (name@version): one kind cluster
    labels = ({c["name"] for c in outcomes.get("clusters", [])}
              | {c["cluster"] for c in outcomes.get("cells", []) if c.get("cluster")})
    names = {label.split("@", 1)[0] for label in labels}
    assert names, "the run's outcomes.json names no cluster"
    tokens = {name_token(name) for name in names}
    assert len(tokens) == 1, f"the run's clusters carry {len(tokens)} run tokens: {sorted(names)}"
    return names


def left_of(names: set[str] | list[str]) -> set[str]:
    """Which clusters of the runs that made ``names`` are still in the engine: each of them,
    and any other whose name carries one of their run tokens. Another run's clusters (of the
    same minor and profile too) are not looked at."""
    assert names, "no cluster named to look for"
    tokens = {name_token(name) for name in names}
    return {name for name in clusters_left()
            if name in names or (NAME_RE.match(name) and name_token(name) in tokens)}


def processes() -> list[str]:
    """Each process of this machine as its pid and whole command line (``-ww``: without it
    ps cuts lines at 80 columns when its output is not a terminal, as under pytest)."""
    return [line.strip() for line in subprocess.run(
        ["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True,
        check=True).stdout.splitlines()]


def leftovers(names) -> dict[str, list[str]]:
    """What is left of the run that made ``names``: its clusters (``left_of``), processes
    whose command line names one of them, and their private folders (tokens, the servers'
    keys). Empty lists when nothing is."""
    return {"clusters": sorted(left_of(set(names))),
            "processes": [line for line in processes() if any(name in line for name in names)],
            "private folders": [str(folder) for name in names
                                if (folder := naming.private_dir(name, create=False)).exists()]}


@dataclass
class Child:
    """A pytest run in a child process whose output is read line by line as it comes."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    lines: list[tuple[float, str]] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    _reader: threading.Thread | None = None

    def start(self) -> Child:
        self.proc = subprocess.Popen([sys.executable, "-m", "pytest", *self.argv], cwd=self.cwd,
                                     env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait(self, timeout: float = 1800) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return code

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


@pytest.fixture
def run_child(tmp_path):
    """``run_child(*args, cwd=...)``: a pytest child run to its end; returns the Child."""
    started: list[Child] = []

    def run(*args: str, cwd: Path | None = None, wait: bool = True, **env: str) -> Child:
        cwd = cwd or tmp_path
        child = Child(["-p", "no:randomly", "--reports-dir", str(cwd / "reports"), *args],
                      cwd, child_env(**env)).start()
        started.append(child)
        if wait:
            child.wait()
        return child

    yield run
    for child in started:
        if child.proc:
            stop(child)


def outcomes_of(folder: Path) -> dict:
    return json.loads(((folder / "reports" / "latest") / "outcomes.json").read_text())


def stop(child: Child) -> None:
    """A child run still going when its fixture gives up: interrupted as a user would
    (Ctrl-C), so the harness deletes what it made; killed only if it does not end."""
    if child.proc.poll() is not None:
        return
    child.proc.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=300)
    except subprocess.TimeoutExpired:
        child.proc.kill()


@pytest.fixture(scope="session")
def main_job(tmp_path_factory):
    """The main job with a team's own scenarios beside the shipped ones, run once for every
    module that reads it (:mod:`.shared_runs`)."""
    from .shared_runs import TEAM_SCENARIOS, SharedRun, timed

    folder = tmp_path_factory.mktemp("main-job")
    (folder / "test_team.py").write_text(TEAM_SCENARIOS)
    started = time.monotonic()
    child = Child(["-q", "-p", "no:randomly", "--reports-dir", str(folder / "reports"),
                   "--pyargs", "authprobe.scenarios", str(folder), "--k8s-version", VERSION],
                  folder, child_env(HARNESS_OUT=str(folder / "records.jsonl"))).start()
    try:
        child.wait(timeout=3600)
    finally:
        stop(child)
    run = SharedRun(folder, child, timed(started))
    _SHARED_SECONDS["main job (the shipped scenarios and a team's)"] = run.seconds
    if (folder / "reports" / "latest" / "outcomes.json").exists():
        run.outcomes = outcomes_of(folder)
    return run


@pytest.fixture(scope="session")
def failure_run(tmp_path_factory):
    """The profiles that fail on purpose in one run, anon-off's kube-apiserver ended on its
    own once its cluster is made (:mod:`.shared_runs`)."""
    from authprobe.harness.access import NodeAccess
    from authprobe.wait import until

    from .shared_runs import (
        FAILURE_PROFILES,
        FAILURE_SCENARIOS,
        SharedRun,
        anon_off_made,
        end_the_apiserver,
        timed,
    )

    folder = tmp_path_factory.mktemp("failure-run")
    started = time.monotonic()
    child = Child(["-q", "-p", "no:randomly", "--reports-dir", str(folder / "reports"),
                   "--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                   "--profile", ",".join(FAILURE_PROFILES),
                   "--profiles-dir", str(DATA / "profiles"),
                   "--expectations", str(DATA / "expectations.yaml"),
                   "-k", FAILURE_SCENARIOS], folder, child_env()).start()
    notes = {}
    try:
        name = until(lambda: anon_off_made(child), timeout=900, interval=2.0,
                     what="the anon-off cluster to be made")
        notes["ended_container"] = end_the_apiserver(NodeAccess(f"{name}-control-plane"))
        notes["anon_off"] = name
        child.wait(timeout=1800)
    finally:
        stop(child)
    run = SharedRun(folder, child, timed(started), notes=notes)
    _SHARED_SECONDS["failure run (no-etcd, probe-403, anon-off ended on its own)"] = run.seconds
    if (folder / "reports" / "latest" / "outcomes.json").exists():
        run.outcomes = outcomes_of(folder)
    return run


# The wall time of each real-cluster module, said at the end of the run (benchmarks/NOTES.md
# keeps them per fresh-machine run): setup, call and teardown of its tests, its module- and
# session-scoped fixtures counted where they ran.
_MODULE_SECONDS: dict[str, float] = {}
_SHARED_SECONDS: dict[str, float] = {}  # each shared run, counted in the first module using it


def pytest_runtest_logreport(report) -> None:
    module = report.nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/") or "/e2e/" in module:
        _MODULE_SECONDS[module] = _MODULE_SECONDS.get(module, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not _MODULE_SECONDS:
        return
    terminalreporter.section("real-cluster modules, wall time")
    for module, seconds in sorted(_MODULE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:7.0f} s  {module}")
    terminalreporter.write_line(f"{sum(_MODULE_SECONDS.values()):7.0f} s  in all")
    for run, seconds in _SHARED_SECONDS.items():
        terminalreporter.write_line(f"{seconds:7.0f} s  shared: {run}, in the first module "
                                    "that read it")
