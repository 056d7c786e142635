"""An upgrade in place on real clusters: the hand-edit and kubeadm-patch twins come up on one
minor, their scenarios run, kubeadm upgrades each cluster to the next minor, the scenarios
run again on it, and the report and ``authprobe diff --upgrade`` show both sides.

The restart window and the Dashboard scenarios are left out to keep it short; the main
upgrade runs (``tox -e upgrade``) cover them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from authprobe.model.versions import resolve

from .conftest import VERSION, left_of, outcomes_of, run_clusters

pytestmark = pytest.mark.e2e

FROM = os.environ.get("AUTHPROBE_E2E_UPGRADE_FROM", VERSION)
TO = resolve(FROM).upgrade_to
PROFILES = ("liveness-hand-edit", "liveness-patch")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from .conftest import Child, child_env

    if TO is None:
        pytest.skip(f"Kubernetes {FROM} upgrades to no supported minor")
    folder = tmp_path_factory.mktemp("upgrade")
    child = Child(["-q", "--pyargs", "authprobe.scenarios", "--k8s-version", FROM,
                   "--upgrade-to", TO, "--profile", ",".join(PROFILES),
                   "-k", "not restarts and not dashboard",
                   "--reports-dir", str(folder / "reports")], folder, child_env()).start()
    child.wait(timeout=3600)
    return child, outcomes_of(folder), (folder / "reports" / "latest").resolve()


def cells_of(outcomes, scenario, upgraded):
    return {c["profile"]: c for c in outcomes["cells"] if c["scenario"] == scenario
            and bool(c.get("upgraded_from")) == upgraded}


def test_the_upgrade_run_passes_and_leaves_no_cluster(run):
    child, outcomes, _ = run
    assert child.proc.returncode == 0, child.tail()
    bad = [f"{c['profile']}/{c['scenario']}@{c['version']}: {c['outcome']} {c['message']}"
           for c in outcomes["cells"] if c["outcome"] in ("fail", "error", "skipped")]
    assert not bad, "\n".join(bad)
    made = run_clusters(outcomes)
    assert {c["profile"] for c in outcomes["cells"] if c.get("cluster") in made} == set(PROFILES)
    assert not left_of(made)


def test_the_same_clusters_ran_both_minors(run):
    _, outcomes, _ = run
    before = cells_of(outcomes, "anonymous_get_root", False)
    after = cells_of(outcomes, "anonymous_get_root", True)
    assert set(before) == set(after) == set(PROFILES)
    for profile in PROFILES:
        assert before[profile]["minor"] == FROM and after[profile]["minor"] == TO
        assert after[profile]["upgraded_from"] == before[profile]["version"]
        assert after[profile]["cluster"] == before[profile]["cluster"]
    assert outcomes["run"]["upgrades"] == [
        f"{before[PROFILES[0]]['version']} -> {after[PROFILES[0]]['version']}"]


def test_the_upgrade_is_a_phase_of_its_own_with_kubeadms_output(run):
    _, outcomes, folder = run
    upgrades = [p for p in outcomes["phases"] if p["phase"] == "upgrade"]
    assert len(upgrades) == len(PROFILES)
    for phase in upgrades:
        assert phase["outcome"] == "passed", phase
        assert "SUCCESS!" in phase["message"], phase  # kubeadm's own line
        assert phase["seconds"] > 0
        logs = folder / "logs" / phase["cluster"]
        for command in ("plan", "diff", "apply"):
            assert (logs / f"kubeadm-upgrade-{command}.log").stat().st_size > 0, command


def test_a_hand_edit_is_gone_after_the_upgrade_and_a_patch_is_kept(run):
    _, outcomes, _ = run
    kept = cells_of(outcomes, "profile_kept_after_upgrade", True)
    hand, patch = kept["liveness-hand-edit"], kept["liveness-patch"]
    assert hand["outcome"] == "expected-failure", hand
    assert hand["observed"]["probes_kept"] is False and hand["observed"]["flags_kept"] is True
    assert any("livenessProbe.failureThreshold is 8" in line
               for line in hand["observed"]["lost"]), hand["observed"]
    assert "probe changes gone" in hand["message"]
    assert patch["outcome"] == "pass", patch
    assert patch["observed"]["probes_kept"] is True and patch["observed"]["lost"] == []


def test_kubeadm_diff_drops_the_hand_edit_before_the_upgrade_and_the_report_marks_it(run):
    _, outcomes, folder = run
    kept = cells_of(outcomes, "profile_kept_after_upgrade", True)
    assert kept["liveness-hand-edit"]["observed"]["hand_edits_dropped"] == [
        "livenessProbe.failureThreshold"]
    assert kept["liveness-patch"]["observed"]["hand_edits_dropped"] == []
    upgraded = {c["profile"]: c for c in outcomes["clusters"] if c.get("upgraded_from")}
    for profile in PROFILES:
        rewrites = upgraded[profile]["kubeadm_diff"]
        assert any(change.startswith("kube-apiserver.yaml: + image: ")
                   for change in rewrites["changes"]), rewrites["changes"]
        assert upgraded[profile]["name"].split("@")[0] not in json.dumps(rewrites)
    # upgrade diff renders without the patches apply is given: the patch's change shows as
    # removed, marked as kept
    assert upgraded["liveness-patch"]["kubeadm_diff"]["shows_patches_removed"] == [
        "livenessProbe.failureThreshold"]
    assert "removes a hand edit: livenessProbe.failureThreshold" in (
        folder / "matrix.md").read_text()


def test_logs_and_exec_reach_the_kubelet_right_after_the_upgrade(run):
    _, outcomes, _ = run
    for profile, reached in cells_of(outcomes, "kubelet_reached_after_upgrade", True).items():
        assert reached["outcome"] == "pass", (profile, reached["message"])
        assert reached["evidence"]["exec_output"] == f"Kubernetes v{reached['version']}"


def test_the_kubelet_restart_is_recorded_with_the_pods_before_and_after(run):
    _, outcomes, _ = run
    cells = cells_of(outcomes, "apiserver_replaced_by_kubelet_restart", True)
    assert set(cells) == set(PROFILES)
    for profile, cell in cells.items():
        assert cell["outcome"] == "pass", (profile, cell["message"])
        record = cell["evidence"]["kubelet_restart"]
        assert record["pod_before"] and record["pod_after"], record
        assert cell["observed"]["apiserver_replaced"] == (
            record["pod_before"] != record["pod_after"])
        assert cell["observed"]["replacement_exits"] == sum(
            e["during_overlap"] for e in record["exits"])
        assert cell["observed"]["etcd_swap_exits"] == sum(
            e["during_etcd_swap"] and not e["during_overlap"] for e in record["exits"])


def test_diff_upgrade_compares_each_cluster_before_and_after(run):
    _, _, folder = run
    result = subprocess.run([sys.executable, "-m", "authprobe.cli", "diff", "--upgrade",
                             str(folder)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert "(upgraded from" in text and "Kubernetes versions compared:" in text, text
    assert "profile_kept_after_upgrade" in text  # only after: an added cell
