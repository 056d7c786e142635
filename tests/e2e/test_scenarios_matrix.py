"""The main job on real clusters: every profile on one Kubernetes version, as `tox -e
scenarios` runs it (with a team's own scenarios beside the shipped ones, the session's shared
main job), then the story's cells read back from the run's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from authprobe.model.profiles import load_dirs
from authprobe.model.restarts import earliest_kill
from authprobe.model.series import Sample, first_restart_at
from authprobe.paths import clusters_dir

from .shared_runs import TEAM_SCENARIO_NAMES

pytestmark = pytest.mark.e2e

# A run without --upgrade-to leaves out the profiles marked upgradeOnly.
PROFILES = {name for name, profile in load_dirs([clusters_dir() / "profiles"]).items()
            if not profile.upgrade_only}
# The one cell an offline run may skip: the Go module proxy serves no Dashboard module, so
# a node image built without a Dashboard source has nothing to answer behind the proxy.
MAY_SKIP = {"admin_dashboard_after_binding"}


@pytest.fixture(scope="module")
def run(main_job):
    """The session's main job (tests/e2e/shared_runs.py): the shipped scenarios on every
    profile, a team's own scenarios beside them."""
    return main_job.child, main_job.outcomes, (main_job.folder / "reports" / "latest").resolve()


def cell(outcomes, profile, scenario):
    found = [c for c in outcomes["cells"] if c["profile"] == profile and c["scenario"] == scenario]
    assert len(found) == 1, f"{profile}/{scenario}: {len(found)} cells"
    return found[0]


def test_the_main_job_passes(run):
    child, _, _ = run
    assert child.proc.returncode == 0, child.tail()


def test_every_profile_ran_every_scenario_and_none_failed(run):
    _, outcomes, _ = run
    cells = outcomes["cells"]
    assert {c["profile"] for c in cells} == PROFILES
    bad = [f"{c['profile']}/{c['scenario']}: {c['outcome']} {c['message']}" for c in cells
           if c["outcome"] in ("fail", "error")
           or (c["outcome"] == "skipped" and c["scenario"] not in MAY_SKIP | TEAM_SCENARIO_NAMES)]
    assert not bad, "\n".join(bad)
    shipped = {c["scenario"] for c in cells} - TEAM_SCENARIO_NAMES
    for profile in PROFILES:
        ran = {c["scenario"] for c in cells if c["profile"] == profile}
        assert ran >= shipped | TEAM_SCENARIO_NAMES, (profile, sorted(shipped - ran))


def test_the_story_with_the_apiservers_own_records(run):
    _, outcomes, _ = run
    root = cell(outcomes, "anon-on", "anonymous_get_root")
    assert root["observed"]["status"] == 403
    assert 'User "system:anonymous" cannot get path "/"' in root["observed"]["message"]
    assert root["evidence"]["audit"][0]["user"] == "system:anonymous"
    assert "system:unauthenticated" in root["evidence"]["audit"][0]["groups"]
    refused = cell(outcomes, "anon-off", "anonymous_get_root")
    assert refused["observed"]["status"] == 401
    assert refused["evidence"]["audit"][0]["user"] is None
    assert cell(outcomes, "anon-health-only", "anonymous_get_livez")["observed"]["status"] == 200
    assert cell(outcomes, "anon-health-only", "anonymous_get_root")["observed"]["status"] == 401
    start = cell(outcomes, "anon-off-probe-8080", "control_plane_comes_up")
    assert start["outcome"] == "expected-failure"
    assert start["observed"]["exit_code"] == 1
    assert any("unknown flag: --insecure-" in line for line in start["observed"]["log_tail"])


def test_the_kubelets_door_with_the_apiservers_record_of_its_reviews(run):
    _, outcomes, _ = run
    closed = cell(outcomes, "anon-on", "kubelet_anonymous_pods")
    assert closed["observed"]["status"] == 401
    assert closed["evidence"]["kubelet_reviews"] == []  # refused without asking anyone
    open_door = cell(outcomes, "kubelet-anon-on", "kubelet_anonymous_pods")
    assert open_door["observed"]["status"] == 403
    reviews = open_door["evidence"]["kubelet_reviews"]
    assert reviews and all(r["user"] == "system:anonymous" and r["allowed"] is False
                           for r in reviews if r["kind"] == "SubjectAccessReview")
    after = cell(outcomes, "anon-on", "kubelet_admin_after_binding")
    assert after["observed"]["status"] == 200 and after["observed"]["message"] == "PodList"
    assert any(r["user"] == "admin" and r["allowed"]
               for r in after["evidence"]["kubelet_reviews"])


def test_anon_off_restarts_because_its_probes_get_401(run):
    _, outcomes, _ = run
    restarts = cell(outcomes, "anon-off", "apiserver_restarts")
    observed = restarts["observed"]
    assert restarts["outcome"] == "expected-failure"
    assert observed["restart_shape"] == "climbs" and observed["restart_cause"] == "probe-401"
    # The first restart, on the runtime's and the kubelet's record: a kill by the probe the
    # cell names, answered 401, no earlier than that probe can kill, before the restart was
    # seen.
    first = restarts["evidence"]["restarts"][0]
    assert first["killed_by"] == observed["killed_by"] in ("startup", "liveness")
    assert (first["cause"], first["answer"]) == ("probe-401", 401)
    spec = next(c["probes"] for c in outcomes["clusters"] if c["name"] == restarts["cluster"])
    assert first["kill_at"] - first["started_at"] >= earliest_kill(spec, first["killed_by"]) - 5
    assert first["kill_at"] <= first["ended_at"] <= observed["first_restart_at"]
    assert any(e["reason"] == "Killing" and f"failed {first['killed_by']} probe" in e["message"]
               for e in restarts["evidence"]["events"])
    kubelet = restarts["evidence"]["kubelet_probe_failures"]
    assert kubelet and all(f["status"] == 401 for f in kubelet if f["probe"] == "Startup")
    assert any(key.startswith("/livez 401 (no user)")
               for key in restarts["evidence"]["audited_probes"])
    for profile in ("anon-on", "anon-health-only"):
        flat = cell(outcomes, profile, "apiserver_restarts")["observed"]
        assert flat["restart_shape"] == "flat" and flat["probe_user"] == "system:anonymous"


def test_the_series_and_probe_tables_are_in_the_report(run):
    _, outcomes, folder = run
    series = {s["profile"]: s for s in outcomes["restart_series"]}
    samples = [Sample.from_dict(s) for s in series["anon-off"]["samples"]]
    assert first_restart_at(samples) is not None
    assert series["anon-off"]["probe_failures"]
    assert any(r["code"] == 401 for r in outcomes["probe_results"] if r["profile"] == "anon-off")
    for name in ("matrix.html", "matrix.md", "junit.xml", "restarts.csv", "restarts.svg"):
        assert (folder / name).stat().st_size > 0, name
    junit = (folder / "junit.xml").read_text()
    assert "authprobe.cluster-lifecycle" in junit
    assert {p["phase"] for p in outcomes["phases"]} >= {"create", "verify", "ready", "teardown"}


def test_no_credentials_anywhere_in_the_report(run):
    _, _, folder = run
    for path in Path(folder).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in ("PRIVATE KEY", "client-key-data", "client-certificate-data"):
                assert secret not in text, f"{secret} in {path}"
            assert "Bearer " not in text or "Bearer [redacted]" in text, path
