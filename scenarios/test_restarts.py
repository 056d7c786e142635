"""kube-apiserver restarts over an observation window, and why. With anonymous auth off,
the kubelet's unauthenticated probes get 401 and the kubelet restarts the apiserver over and
over; with anonymous access on, or limited to the health endpoints, the probes pass
anonymously and it stays up. The kubelet's journal and the apiserver's audit log show the
cause; the window is the apiserver's own probe budget plus a margin."""

from collections import Counter

import pytest

from authprobe.model.series import ever_ready, first_restart_at, restart_cause, shape, summary


def probe_evidence(cluster, observe):
    """What the kubelet logged about its probes, and what the apiserver audited of them."""
    failures = cluster.kubelet_probe_failures()
    audited = cluster.audit.probe_events()
    events = cluster.apiserver_events()
    observe.evidence(kubelet_probe_failures=[f.to_dict() for f in failures[-50:]],
                     audited_probes=dict(Counter(f"{e['path']} {e['code']} "
                                                 f"{e['user'] or '(no user)'}"
                                                 for e in audited)),
                     events=events)
    return failures, audited


def most_common(values):
    return Counter(values).most_common(1)[0][0] if values else None


@pytest.mark.control_plane_any
@pytest.mark.runs_last
def test_apiserver_restarts(cluster, expected, observe):
    if not cluster.up:
        series = cluster.restarts.series if cluster.restarts else []
        failure = cluster.start_failure
        observe(restart_shape=shape(series) if series else None, ever_ready=False,
                restart_cause="exit", exit_code=failure.exit_code, exit_line=failure.last_line)
        observe.evidence(restart_summary=summary(series))
        assert series and shape(series) == expected.restart_shape, summary(series)
        assert expected.restart_cause == "exit", f"the apiserver exits: {failure}"
        if expected.exit_code is not None:
            assert failure.exit_code == expected.exit_code, f"the apiserver exits: {failure}"
        return
    # Judged over the window only: the sampler goes on while other scenarios run.
    series = [s for s in cluster.restarts.wait_for_window(cluster.window)
              if s.t <= cluster.window]
    failures, audited = probe_evidence(cluster, observe)
    killing = [f.status for f in failures if f.probe in ("Startup", "Liveness")]
    cause = restart_cause(series, killing, None)
    probe_status = most_common([e["code"] for e in audited])
    probe_users = {e["user"] for e in audited if e["code"] == probe_status}
    observe(restart_shape=shape(series), first_restart_at=first_restart_at(series),
            ever_ready=ever_ready(series), restart_cause=cause, probe_status=probe_status,
            probe_user=most_common([e["user"] for e in audited]),
            probe_budget=cluster.probe_budget, window=cluster.window)
    observe.evidence(restart_summary=summary(series))
    assert shape(series) == expected.restart_shape, summary(series)
    if expected.ever_ready is not None:
        assert ever_ready(series) == expected.ever_ready, summary(series)
    assert cause == expected.restart_cause, (
        f"kube-apiserver restart cause is {cause}, expected {expected.restart_cause}: "
        + (f"the kubelet's {failures[-1].probe} probe failed: {failures[-1].output}"
           if failures else summary(series)))
    if expected.probe_status is not None:
        assert probe_status == expected.probe_status, f"audited probe answers: {audited[-3:]}"
    if "probe_user" in expected.values:
        assert probe_users == {expected.probe_user}, f"probe users: {probe_users}"
