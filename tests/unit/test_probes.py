"""The kubelet's probes of kube-apiserver: the probe budget, the observation window, the
kubelet's "Probe failed" journal lines, and the report's tables."""

from __future__ import annotations

import pytest

from authprobe.harness import probes
from authprobe.harness.probes import ProbeFailure

# kubeadm's kube-apiserver probes (probe_spec form).
KUBEADM = {
    "livenessProbe": {"path": "/livez", "port": 6443, "scheme": "HTTPS",
                      "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 8,
                      "timeoutSeconds": 15},
    "readinessProbe": {"path": "/readyz", "periodSeconds": 1, "failureThreshold": 3},
    "startupProbe": {"path": "/livez", "initialDelaySeconds": 10, "periodSeconds": 10,
                     "failureThreshold": 24, "timeoutSeconds": 15},
}
T0 = 1764614400.0


def journal_line(stamp: float, probe="Startup", container="kube-apiserver",
                 output="HTTP probe failed with statuscode: 401", message="Probe failed") -> str:
    return (f'{stamp:.6f} node kubelet[123]: I1201 10:00:00.123456     123 prober.go:107] '
            f'"{message}" probeType="{probe}" pod="kube-system/{container}-x" podUID="abc" '
            f'containerName="{container}" probeResult="failure" output="{output}"')


def test_budget_from_the_startup_probe():
    assert probes.budget(KUBEADM) == 10 + 24 * 10 == 250


def test_budget_from_liveness_only():
    spec = {"livenessProbe": dict(KUBEADM["livenessProbe"], initialDelaySeconds=15),
            "readinessProbe": KUBEADM["readinessProbe"]}
    assert probes.budget(spec) == 15 + 8 * 10 == 95


def test_the_startup_probe_wins_over_liveness():
    spec = dict(KUBEADM, livenessProbe=dict(KUBEADM["livenessProbe"], failureThreshold=1))
    assert probes.budget(spec) == 250


def test_budget_defaults_for_unset_fields():
    assert probes.budget({"livenessProbe": {"path": "/livez"}}) == 0 + 3 * 10
    assert probes.budget({"startupProbe": {"failureThreshold": 5}}) == 5 * 10
    assert probes.budget({"startupProbe": {"periodSeconds": 2}}) == 3 * 2
    assert probes.budget({"startupProbe": {"initialDelaySeconds": 7}}) == 7 + 30


def test_no_budget_without_startup_or_liveness():
    assert probes.budget({}) is None
    assert probes.budget({"readinessProbe": KUBEADM["readinessProbe"]}) is None


@pytest.mark.parametrize(("spec", "wanted"), [
    (KUBEADM, 250 + 30 + 60),  # 20% of 250 is 50: the minimum margin applies
    ({**KUBEADM, "terminationGracePeriodSeconds": 0}, 250 + 0 + 60),
    ({"startupProbe": {"initialDelaySeconds": 10, "periodSeconds": 10,
                       "failureThreshold": 48}}, 490 + 30 + 98),  # 20% above the minimum
    ({"livenessProbe": {"initialDelaySeconds": 15, "failureThreshold": 8}}, 95 + 30 + 60),
])
def test_window_is_budget_plus_grace_plus_margin(spec, wanted):
    assert probes.window(spec, default=999) == pytest.approx(wanted)


def test_a_kubelet_that_kills_for_the_startup_probe_at_its_next_sync_widens_the_window():
    """The kubelet of 1.19 acts on a failed startup probe at the pod's next sync (the
    startup_kill_delay fact): the window waits for it; a liveness probe is acted on at once."""
    assert probes.window(KUBEADM, default=999, startup_kill_delay=90) == 250 + 90 + 30 + 60
    liveness = {"livenessProbe": {"initialDelaySeconds": 15, "failureThreshold": 8}}
    assert probes.window(liveness, default=999, startup_kill_delay=90) == 95 + 30 + 60


def test_the_startup_kill_delay_is_the_1_19_kubelets_resync_only():
    from authprobe.model.versions import KubeVersion, version_table

    delays = {minor: version_table().facts_for(KubeVersion.parse(minor)).startup_kill_delay
              for minor in ("1.19", "1.30", "1.37")}
    assert delays == {"1.19": 90, "1.30": 0, "1.37": 0}


def test_margin_is_a_fifth_of_the_budget_or_a_minute():
    assert probes.margin(100) == 60
    assert probes.margin(500) == 100


def test_window_without_probes_is_the_default():
    assert probes.window({}, default=390) == 390


def test_parse_failures_reads_the_kubelet_journal():
    text = "\n".join([
        "-- Journal begins at Mon 2025-12-01 --",
        journal_line(T0 + 12.34),
        journal_line(T0 + 22.3, probe="Liveness"),
        journal_line(T0 + 25, probe="Readiness", container="etcd"),
        journal_line(T0 + 26, container="kube-controller-manager"),
        journal_line(T0 + 27, message="Probe succeeded"),
        journal_line(T0 + 31.25, probe="Liveness",
                     output='Get \\"https://172.18.0.2:6443/livez\\": context deadline exceeded'),
        "not a stamp node kubelet[1]: \"Probe failed\" containerName=\"kube-apiserver\"",
        "",
    ])
    found = probes.parse_failures(text, T0)
    assert [(f.t, f.probe) for f in found] == [(12.3, "Startup"), (22.3, "Liveness"),
                                               (31.2, "Liveness")]
    assert [f.status for f in found] == [401, 401, None]
    assert found[0].output == "HTTP probe failed with statuscode: 401"
    assert found[2].output == 'Get "https://172.18.0.2:6443/livez": context deadline exceeded'
    assert found[0].to_dict() == {"t": 12.3, "probe": "Startup",
                                  "output": "HTTP probe failed with statuscode: 401",
                                  "status": 401}


def test_parse_failures_of_an_empty_journal():
    assert probes.parse_failures("", T0) == []
    assert probes.parse_failures("-- No entries --\n", T0) == []


def test_results_table_counts_by_path_code_and_user():
    events = [
        {"path": "/livez", "code": 401, "user": None},
        {"path": "/livez", "code": 401, "user": None},
        {"path": "/readyz", "code": 401, "user": None},
        {"path": "/livez", "code": 200, "user": "system:anonymous"},
    ]
    assert probes.results_table(events) == [
        {"path": "/livez", "code": 200, "user": "system:anonymous", "count": 1},
        {"path": "/livez", "code": 401, "user": "(none)", "count": 2},
        {"path": "/readyz", "code": 401, "user": "(none)", "count": 1},
    ]
    assert probes.results_table([]) == []


def test_failures_table_counts_by_probe_and_status():
    failures = [ProbeFailure(1.0, "Startup", "HTTP probe failed with statuscode: 401"),
                ProbeFailure(11.0, "Startup", "HTTP probe failed with statuscode: 401"),
                ProbeFailure(12.0, "Readiness", "HTTP probe failed with statuscode: 401"),
                ProbeFailure(13.0, "Liveness", "context deadline exceeded")]
    table = probes.failures_table(failures)
    assert {(row["probe"], row["status"], row["count"]) for row in table} == {
        ("Startup", 401, 2), ("Readiness", 401, 1), ("Liveness", None, 1)}
    assert sum(row["count"] for row in table) == len(failures)


def test_parse_failures_reads_the_text_form_of_old_kubelets():
    text = "\n".join([
        f"{T0 + 30:.6f} node kubelet[77]: I1201 10:00:30.000000      77 prober.go:117] Startup "
        'probe for "kube-apiserver-node_kube-system(0a1b):kube-apiserver" failed (failure): '
        "HTTP probe failed with statuscode: 401",
        f"{T0 + 31:.6f} node kubelet[77]: I1201 10:00:31.000000      77 prober.go:117] Liveness "
        'probe for "etcd-node_kube-system(2c3d):etcd" failed (failure): HTTP probe failed with '
        "statuscode: 503",
    ])
    found = probes.parse_failures(text, T0)
    assert [(f.t, f.probe, f.status) for f in found] == [(30.0, "Startup", 401)]


def sync_line(stamp: float, probe: str, status: str, pod: str = "kube-apiserver-node") -> str:
    return (f'{stamp:.6f} node kubelet[123]: I1201 10:00:00.123456     123 kubelet.go:2712] '
            f'"SyncLoop (probe)" probe="{probe}" status="{status}" pod="kube-system/{pod}"')


def test_parse_kills_reads_when_the_kubelet_acted_on_a_killing_probe():
    text = "\n".join([
        sync_line(T0 + 250.04, "startup", "unhealthy"),
        sync_line(T0 + 251, "readiness", "not ready"),
        sync_line(T0 + 252, "startup", "started"),
        sync_line(T0 + 253, "liveness", "unhealthy", pod="etcd-node"),
        sync_line(T0 + 160.5, "liveness", "unhealthy"),
        f"{T0 + 90:.6f} node kubelet[7]: I1201 10:01:30.000000       7 kubelet.go:1927] "
        'SyncLoop (container unhealthy): "kube-apiserver-node_kube-system(0a1b)"',
    ])
    assert probes.parse_kills(text, T0) == [probes.KillLine(250.0, "startup"),
                                            probes.KillLine(160.5, "liveness"),
                                            probes.KillLine(90.0, "liveness")]


def test_a_probe_that_errored_is_a_failure_without_an_answer():
    line = (f'{T0 + 40:.6f} node kubelet[1]: I1201 10:00:40.0 1 prober.go:106] "Probe errored" '
            'probeType="Liveness" pod="kube-system/kube-apiserver-x" podUID="abc" '
            'containerName="kube-apiserver" probeResult="failure" err="context canceled"')
    (found,) = probes.parse_failures(line, T0)
    assert (found.probe, found.status, found.output) == ("Liveness", None, "context canceled")
    assert found.as_failure() == probes.Failure(40.0, "liveness", None)
