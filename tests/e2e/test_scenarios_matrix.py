"""The main job on real clusters: every profile on one Kubernetes version, as
`tox -e scenarios` runs it, then the SPEC's cells read back from the run's report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authprobe.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e

VERSION = os.environ.get("AUTHPROBE_E2E_VERSION", "1.34")
PROFILES = {"anon-on", "anon-off", "anon-off-probe-8080", "anon-health-only"}
# kubeadm's startup probe: 10 s delay + 24 x 10 s; the first restart must come within 1.2x.
PROBE_FLOOR = 250
# The one cell an offline run may skip: the Go module proxy serves no Dashboard module,
# so a node image built without a Dashboard source has nothing to answer behind the proxy.
MAY_SKIP = {"admin_dashboard_after_binding"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider",
         "--k8s-version", VERSION, "--reports-dir", str(reports)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
    )
    folder = (reports / "latest").resolve()
    outcomes = json.loads((folder / "outcomes.json").read_text())
    return result, outcomes, folder


def cell(outcomes, profile, scenario):
    found = [c for c in outcomes["cells"] if c["profile"] == profile and c["scenario"] == scenario]
    assert len(found) == 1, f"{profile}/{scenario}: {len(found)} cells"
    return found[0]


def test_the_main_job_passes(run):
    result, _, _ = run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_every_profile_ran_every_scenario_and_none_failed(run):
    _, outcomes, _ = run
    cells = outcomes["cells"]
    assert {c["profile"] for c in cells} == PROFILES
    bad = [f"{c['profile']}/{c['scenario']}: {c['outcome']} {c['message']}" for c in cells
           if c["outcome"] in ("fail", "error")
           or (c["outcome"] == "skipped" and c["scenario"] not in MAY_SKIP)]
    assert not bad, "\n".join(bad)


def test_the_story_on_this_version(run):
    _, outcomes, _ = run
    root = cell(outcomes, "anon-on", "anonymous_get_root")
    assert root["observed"]["status"] == 403
    assert 'User "system:anonymous" cannot get path "/"' in root["observed"]["message"]
    assert cell(outcomes, "anon-off", "anonymous_get_root")["observed"]["status"] == 401
    assert cell(outcomes, "anon-health-only", "anonymous_get_livez")["observed"]["status"] == 200
    assert cell(outcomes, "anon-health-only", "anonymous_get_root")["observed"]["status"] == 401
    start = cell(outcomes, "anon-off-probe-8080", "control_plane_comes_up")
    assert start["outcome"] == "expected-failure"
    assert start["observed"]["exit_code"] == 1
    assert any("unknown flag: --insecure-" in line for line in start["observed"]["log_tail"])


def test_anon_off_restarts_climb_within_the_probe_floor_and_the_others_stay_flat(run):
    _, outcomes, _ = run
    restarts = {c["profile"]: c for c in outcomes["cells"] if c["scenario"] == "apiserver_restarts"}
    first = restarts["anon-off"]["observed"]["first_restart_at"]
    assert restarts["anon-off"]["observed"]["restart_shape"] == "climbs"
    assert first <= 1.2 * PROBE_FLOOR, f"first restart at {first}s"
    for profile in ("anon-on", "anon-health-only"):
        assert restarts[profile]["observed"]["restart_shape"] == "flat"


def test_the_report_holds_the_matrix_plot_and_lifecycle_and_no_credentials(run):
    _, outcomes, folder = run
    for name in ("matrix.html", "matrix.md", "junit.xml", "restarts.csv", "restarts.svg"):
        assert (folder / name).stat().st_size > 0, name
    junit = (folder / "junit.xml").read_text()
    assert "authprobe.cluster-lifecycle" in junit
    assert {p["phase"] for p in outcomes["phases"]} >= {"create", "teardown"}
    for path in Path(folder).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in ("PRIVATE KEY", "client-key-data", "client-certificate-data"):
                assert secret not in text, f"{secret} in {path}"
