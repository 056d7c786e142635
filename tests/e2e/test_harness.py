"""The cluster harness on real kind clusters: one shared cluster per cell, expected start
failures handed over, Ctrl-C during creation, a reused cluster whose flags changed.

Each test drives the plugin through a pytest child process with a team's scenario file, as a
user would (the first two read the session's main job, tests/e2e/shared_runs.py), then looks
at the Docker engine to see what is left.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from authprobe.host import docker
from authprobe.wait import until

from .conftest import CREATING, VERSION, clusters_left, created, left_of, records, run_clusters
from .shared_runs import TEAM_SCENARIOS

pytestmark = pytest.mark.e2e

@pytest.fixture
def drive(tmp_path):
    (tmp_path / "test_drive.py").write_text(TEAM_SCENARIOS)
    return tmp_path


def test_one_shared_cluster_then_gone(main_job):
    """The team's scenarios of the main job on anon-on: one cluster served them all."""
    assert main_job.code == 0, main_job.child.tail()
    found = [r for r in main_job.records() if r["test"] != "failure"]
    names = {r["cluster"] for r in found}
    assert len(names) == 1 and next(iter(names)).startswith("authprobe-anon-on-"), names
    by_test = {r["test"]: r for r in found}
    assert set(by_test) == {"http", "api", "sampler"}, found
    assert by_test["http"]["livez"] == 200 and by_test["http"]["root"] == 403
    assert by_test["http"]["readyz"] == 200
    assert by_test["http"]["audit_user"] == "system:anonymous"
    assert by_test["http"]["server"].startswith("https://127.0.0.1:")
    assert by_test["api"]["version"].startswith(f"v{VERSION}.")
    assert by_test["api"]["crictl"] is True
    assert by_test["api"]["ca_mode"].endswith("600")
    assert by_test["api"]["window"] > by_test["api"]["budget"] >= 250
    assert by_test["sampler"]["samples"] >= 2 and by_test["sampler"]["restarts"] == 0
    made = run_clusters(main_job.outcomes)
    assert set(CREATING.findall(main_job.child.output)) == made and names <= made
    assert not left_of(made)


def test_expected_start_failure_is_handed_over(main_job):
    """The team's start-failure scenario of the main job on anon-off-probe-8080, whose
    control plane must not come up on the current minors."""
    failure = [r for r in main_job.records() if r["test"] == "failure"]
    assert len(failure) == 1 and failure[0]["up"] is False, failure
    assert failure[0]["profile"] == "anon-off-probe-8080"
    assert failure[0]["exit_code"] == 1
    assert any("unknown flag: --insecure" in line for line in failure[0]["log"]), failure
    logs = list((main_job.folder / "reports").glob("*/logs/authprobe-anon-off-probe-8080-*"))
    assert logs and any(logs[0].rglob("kubelet.log")), logs
    assert not left_of({failure[0]["cluster"]})


def test_sigint_during_creation_leaves_nothing(drive, run_child):
    child = run_child("--k8s-version", VERSION, "--profile", "anon-off", "-k", "http_clients",
                      wait=False, HARNESS_OUT=str(drive / "records.jsonl"))

    def creating() -> str | None:
        found = created(child)
        return found[0] if found else None

    name = until(creating, timeout=1500, interval=0.5, what="the child run to create a cluster")
    # The node container exists from early in `kind create cluster` until it ends.
    until(lambda: docker.container_names(name), timeout=120, interval=0.2,
          what=f"the node container of {name}")
    assert child.proc.poll() is None, child.tail()
    child.proc.send_signal(signal.SIGINT)
    child.wait(timeout=300)
    assert "SIGINT received" in child.output, child.tail()
    assert child.proc.returncode != 0
    assert not left_of({name}), child.tail()
    ps = subprocess.run(["pgrep", "-f", f"kind create cluster --name={name}"],
                        capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_reused_cluster_with_other_flags_fails_clearly(drive, run_child):
    out = str(drive / "records.jsonl")
    child = run_child("--k8s-version", VERSION, "--profile", "anon-on", "--reuse-clusters",
                      "-k", "http_clients", HARNESS_OUT=out)
    assert child.proc.returncode == 0, child.tail()
    name = records(drive)[0]["cluster"]
    assert re.search(r"-r[0-9a-f]{7}$", name), name
    try:
        assert name in clusters_left(), "a cluster kept for reuse is gone"
        manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
        add_flag = (r"s|^\(\s*\)- --token-auth-file=\(.*\)$|"
                    r"\1- --token-auth-file=\2\n\1- --anonymous-auth=false|")
        docker.docker("exec", f"{name}-control-plane", "sed", "-i", add_flag, manifest,
                      check="editing the reused cluster's manifest")
        again = run_child("--k8s-version", VERSION, "--profile", "anon-on", "--reuse-clusters",
                          "-k", "http_clients", HARNESS_OUT=out)
        assert again.proc.returncode == 1, again.tail()
        assert (f"cluster {name} does not run profile anon-on: --anonymous-auth=false is set, "
                "profile leaves it unset") in again.output, again.tail()
        assert "reusing the running cluster" in again.output
    finally:
        subprocess.run([sys.executable, "-m", "authprobe.cli", "clusters", "prune", name],
                       capture_output=True, text=True)
    assert not left_of({name})
