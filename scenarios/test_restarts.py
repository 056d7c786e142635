"""kube-apiserver restarts over an observation window, and why. With anonymous auth off,
the kubelet's unauthenticated probes get 401 and the kubelet restarts the apiserver over and
over; with anonymous access on, or limited to the health endpoints, the probes pass
anonymously and it stays up. Each restart is tied to its own record: the kubelet's Killing
event and journal for a kill, the runtime's exit for a container that ended on its own; the
window is the apiserver's own probe budget plus a margin."""

import math
from collections import Counter
from dataclasses import asdict

import pytest

from authprobe.harness.kills import read_window
from authprobe.model.restarts import Evidence, killed_by, restarts_in, window_cause
from authprobe.model.series import NEVER_UP, ever_ready, first_restart_at, shape, summary


def most_common(values):
    return Counter(values).most_common(1)[0][0] if values else None


def predicted(observe, expected, name, value):
    """Whether the row predicts ``value`` of the observed field ``name``, as it is declared."""
    declared = observe.declarations[name]
    return declared.predicts(expected.get(declared.expect), value)


def check_each_restart(restarts, expected, observe):
    """Every restart of the window has a cause the row allows; "unknown" none does."""
    for restart in restarts:
        assert predicted(observe, expected, "restart_cause", restart.cause), (
            f"restart {restart.n} of kube-apiserver: cause {restart.cause}, expected "
            f"{expected.restart_cause}: {restart.why}")


def window_failures(failures, restarts, window):
    """The kubelet's probe failures of the window: every startup and liveness failure, and
    the readiness failures of the half minute before each restart."""
    ends = [r.container.finished for r in restarts if r.container.finished is not None]
    return [f.to_dict() for f in failures if 0 <= f.t <= window and (
        f.probe != "Readiness" or any(end - 30 <= f.t <= end for end in ends))]


def never_up(cluster, expected, observe):
    """A control plane that never comes up: the cause comes from its containers' exits."""
    if expected.restart_shape != NEVER_UP:
        pytest.fail(f"the control plane of {cluster.name} is down, so no restart window can "
                    f"be observed: {cluster.start_failure}", pytrace=False)
    series = cluster.restarts.series if cluster.restarts else []
    failure = cluster.start_failure
    restarts = restarts_in(Evidence(
        window=math.inf, series=[], containers=failure.containers, events=[],
        events_read=False, kill_lines=[], failures=[], spec=cluster.probe_spec))
    cause = window_cause(restarts)
    observe(restart_shape=shape(series) if series else None, ever_ready=ever_ready(series),
            restart_cause=cause, killed_by=killed_by(restarts), exit_code=failure.exit_code,
            exit_line=failure.last_line)
    observe.evidence(restart_summary=summary(series),
                     restarts=[r.to_dict() for r in restarts])
    assert series and shape(series) == expected.restart_shape, summary(series)
    if expected.ever_ready is not None:
        assert ever_ready(series) == expected.ever_ready, summary(series)
    assert restarts, f"the runtime kept no record of kube-apiserver's exits: {failure}"
    check_each_restart(restarts, expected, observe)
    assert predicted(observe, expected, "restart_cause", cause), f"the apiserver exits: {failure}"
    if expected.exit_code is not None:
        assert failure.exit_code == expected.exit_code, f"the apiserver exits: {failure}"


@pytest.mark.control_plane_any
@pytest.mark.runs_last
def test_apiserver_restarts(cluster, expected, observe):
    if not cluster.up:
        never_up(cluster, expected, observe)
        return
    window = cluster.window
    # Judged over the window only: the sampler goes on while other scenarios run.
    series = [s for s in cluster.restarts.wait_for_window(window) if s.t <= window]
    record = read_window(cluster, window)
    restarts = record.restarts
    cause = window_cause(restarts)
    killer = killed_by(restarts)
    audited = cluster.audit.probe_events()
    probe_status = most_common([e["code"] for e in audited])
    probe_users = {e["user"] for e in audited if e["code"] == probe_status}
    observe(restart_shape=shape(series), first_restart_at=first_restart_at(series),
            ever_ready=ever_ready(series), restart_cause=cause, killed_by=killer,
            restarts=len(restarts), probe_status=probe_status,
            probe_user=most_common([e["user"] for e in audited]),
            probe_budget=cluster.probe_budget, window=window)
    readiness = Counter(str(f.status) for f in record.journal.failures
                        if f.probe == "Readiness" and 0 <= f.t <= window)
    observe.evidence(
        restart_summary=summary(series), restarts=[r.to_dict() for r in restarts],
        kubelet_probe_failures=window_failures(record.journal.failures, restarts, window),
        readiness_failures=dict(readiness),
        kubelet_unhealthy=[asdict(k) for k in record.journal.kills if k.t <= window],
        events=record.events, events_read=record.evidence.events_read,
        kill_events=[asdict(e) for e in record.evidence.events],
        audited_probes=dict(Counter(f"{e['path']} {e['code']} {e['user'] or '(no user)'}"
                                    for e in audited)))
    assert shape(series) == expected.restart_shape, summary(series)
    if expected.ever_ready is not None:
        assert ever_ready(series) == expected.ever_ready, summary(series)
    check_each_restart(restarts, expected, observe)
    assert predicted(observe, expected, "restart_cause", cause), (
        f"kube-apiserver restart cause is {cause}, expected {expected.restart_cause}: "
        f"{summary(series)}")
    expected = observe.alternative(expected)  # the row's kill and its time, as one
    if "killed_by" in expected.values:
        assert predicted(observe, expected, "killed_by", killer), (
            f"the first restart's killing probe is {killer}, expected {expected.killed_by}: "
            + (restarts[0].why if restarts else "no restart"))
    if "first_restart_at" in expected.values:
        assert predicted(observe, expected, "first_restart_at", first_restart_at(series)), (
            f"first restart seen at {first_restart_at(series)} s, expected within "
            f"{expected.first_restart_at} s: {summary(series)}")
    if "restarts" in expected.values:
        assert predicted(observe, expected, "restarts", len(restarts)), (
            f"{len(restarts)} restarts in the window, expected {expected.restarts}: "
            + "; ".join(f"{r.n}: {r.why}" for r in restarts))
    if expected.probe_status is not None:
        assert probe_status == expected.probe_status, f"audited probe answers: {audited[-3:]}"
    if "probe_user" in expected.values:
        assert probe_users == {expected.probe_user}, f"probe users: {probe_users}"
