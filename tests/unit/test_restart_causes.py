"""Why kube-apiserver restarted, restart by restart: a kill is the probe's only with the
kubelet's record of it at the container's end (its Killing event, or where none was read its
journal line acting on the probe), the probe's failures before it and a life long enough for
that probe to kill; an end with no kill is an exit; the rest is unknown. A kill is named by
the outcome of nine tenths of the failures that killed, else it is mixed, with the counts."""

from __future__ import annotations

from collections import Counter

import pytest

from authprobe.errors import AuthprobeError
from authprobe.model.expectations import ExpectationTable
from authprobe.model.restarts import (
    CAUSE_PATTERN,
    EXIT,
    MIXED,
    TIMEOUT,
    UNKNOWN,
    ContainerRun,
    Evidence,
    Failure,
    KillEvent,
    KillLine,
    earliest_kill,
    kill_cause,
    killed_by,
    restarts_in,
    window_cause,
)
from authprobe.model.series import Sample

# kubeadm's kube-apiserver probes as the harness reads them from the running manifest.
SPEC = {
    "livenessProbe": {"initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 8},
    "readinessProbe": {"periodSeconds": 1, "failureThreshold": 3},
    "startupProbe": {"initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 24},
    "terminationGracePeriodSeconds": 30,
}
STARTUP_KILL = "Container kube-apiserver failed startup probe, will be restarted"
LIVENESS_KILL = "Container kube-apiserver failed liveness probe, will be restarted"


def series(restart_at: float, end: float = 340, started=None) -> list[Sample]:
    return [Sample(t, int(t >= restart_at), False, "Error" if t >= restart_at else None,
                   "api", started) for t in range(0, int(end) + 1, 10)]


def failures(probe: str, first: float, n: int, status: int | None = 401,
             period: float = 10) -> list[Failure]:
    return [Failure(first + i * period, probe, status) for i in range(n)]


def evidence(containers, events=(), lines=(), found=(), events_read=True, window=340,
             samples=None, spec=SPEC) -> Evidence:
    return Evidence(window=window, series=samples if samples is not None else [],
                    containers=list(containers), events=list(events), events_read=events_read,
                    kill_lines=list(lines), failures=list(found), spec=spec)


def test_earliest_kill_is_the_first_probe_at_the_delay_then_one_period_per_failure():
    assert earliest_kill(SPEC, "startup") == 10 + 23 * 10
    assert earliest_kill(SPEC, "liveness") == 10 + 7 * 10
    assert earliest_kill({"livenessProbe": {}}, "liveness") == 0 + 2 * 10
    assert earliest_kill({}, "startup") is None


def test_the_issues_series_exits_1_between_401_probes_and_is_an_exit():
    # A restart at 20 s, the startup probe answered [None]*12 + [401], exit code 1: the
    # container ended on its own (no Killing event near its end), not probe-401.
    run = ContainerRun("a", 0, 0.5, 19.0, 1, "Error", "panic: something else")
    found = failures("startup", 1.0, 12, None, period=1.5) + [Failure(18.5, "startup", 401)]
    restarts = restarts_in(evidence([run], found=found, samples=series(20)))
    assert [r.cause for r in restarts] == [EXIT]
    assert window_cause(restarts) == EXIT and killed_by(restarts) is None
    assert "exit code 1 (Error), last log line: panic: something else" in restarts[0].why


def test_a_startup_kill_with_its_event_failures_and_budget_is_probe_401():
    run = ContainerRun("a", 0, 0.4, 262.0, 1, "Error")
    found = failures("startup", 12.0, 24) + failures("readiness", 13.0, 3)
    events = [KillEvent.of(STARTUP_KILL, 251.0, 251.0, 1)]
    restarts = restarts_in(evidence([run], events, [KillLine(250.6, "startup")], found,
                                    samples=series(280)))
    assert [r.cause for r in restarts] == ["probe-401"]
    assert killed_by(restarts) == "startup" and restarts[0].answer == 401
    assert restarts[0].kill_at == 250.6 and len(restarts[0].failures) == 24
    assert window_cause(restarts) == "probe-401"


def test_a_liveness_kill_of_a_container_marked_started():
    # 1.35: the container is marked started while its startup probe fails; liveness kills.
    run = ContainerRun("a", 0, 0.6, 172.0, 1, "Error")
    found = failures("startup", 12.0, 3) + failures("liveness", 80.0, 8)
    events = [KillEvent.of(LIVENESS_KILL, 151.0, 151.0, 1)]
    restarts = restarts_in(evidence([run], events, [KillLine(150.2, "liveness")], found,
                                    samples=series(180, started=True)))
    assert restarts[0].cause == "probe-401" and restarts[0].killed_by == "liveness"
    assert restarts[0].started_state is True


def test_failures_without_an_answer_are_a_probe_timeout():
    run = ContainerRun("a", 0, 0.0, 265.0, 137, "Error")
    found = failures("startup", 10.0, 24, None)
    events = [KillEvent.of(STARTUP_KILL, 250.0, 250.0, 1)]
    assert restarts_in(evidence([run], events, found=found))[0].cause == "probe-timeout"


def test_a_killing_event_before_the_probe_could_kill_is_not_that_probes():
    run = ContainerRun("a", 0, 0.0, 70.0, 2, "Error")
    events = [KillEvent.of(STARTUP_KILL, 66.0, 66.0, 1)]
    restart = restarts_in(evidence([run], events, found=failures("startup", 10.0, 24, 401,
                                                                   period=2)))[0]
    assert restart.cause == UNKNOWN and "before that probe could kill (240 s)" in restart.why


def test_a_killing_event_without_the_probes_failures_in_the_journal_is_unknown():
    run = ContainerRun("a", 0, 0.0, 262.0, 1, "Error")
    events = [KillEvent.of(STARTUP_KILL, 251.0, 251.0, 1)]
    restart = restarts_in(evidence([run], events, found=failures("startup", 200.0, 3)))[0]
    assert restart.cause == UNKNOWN and "3 of the 24 failures that kill" in restart.why


def test_an_event_far_from_the_containers_end_is_not_its_kill():
    first = ContainerRun("a", 0, 0.0, 262.0, 1, "Error")
    second = ContainerRun("b", 1, 272.0, 300.0, 2, "Error", "goroutine dump")
    events = [KillEvent.of(STARTUP_KILL, 251.0, 251.0, 1)]
    restarts = restarts_in(evidence([first, second], events,
                                    found=failures("startup", 12.0, 24), samples=series(265)))
    assert [r.cause for r in restarts] == ["probe-401", EXIT]
    assert window_cause(restarts) == "probe-401"  # the scenario checks every restart's own


def test_a_repeated_event_matches_a_middle_kill_only_with_the_journals_line():
    runs = [ContainerRun(str(a), a, start, start + 262.0, 1, "Error")
            for a, start in ((0, 0.0), (1, 272.0), (2, 544.0))]
    found = [f for run in runs for f in failures("startup", run.started + 12, 24)]
    events = [KillEvent.of(STARTUP_KILL, 251.0, 795.0, 3)]
    without = restarts_in(evidence(runs, events, found=found, window=900))
    assert [r.cause for r in without] == ["probe-401", UNKNOWN, "probe-401"]
    assert "recurred 3 times between 251 s and 795 s" in without[1].why
    lines = [KillLine(523.0, "startup")]
    assert [r.cause for r in restarts_in(evidence(runs, events, lines, found, window=900))] \
        == ["probe-401"] * 3


def test_a_kill_in_the_journal_without_its_event_is_the_probes_with_its_failures():
    # Up to 1.31 the kubelet's event recorder may drop the Killing event (25 events per pod,
    # the probe's Warning events included): its journal line is then the record of the kill.
    run = ContainerRun("a", 0, 0.0, 280.0, 137, "Error")
    restart = restarts_in(evidence([run], lines=[KillLine(250.0, "startup")],
                                   found=failures("startup", 12.0, 24)))[0]
    assert (restart.cause, restart.killed_by, restart.kill_at) == ("probe-401", "startup", 250.0)
    assert "no Killing event was read" in restart.why and "ended 30 s later" in restart.why


def test_a_kill_in_the_journal_without_the_failures_that_kill_is_unknown():
    run = ContainerRun("a", 0, 0.0, 280.0, 137, "Error")
    restart = restarts_in(evidence([run], lines=[KillLine(250.0, "startup")],
                                   found=failures("startup", 12.0, 20)))[0]
    assert restart.cause == UNKNOWN and "20 of the 24 failures" in restart.why


def test_a_journal_kill_line_far_from_the_containers_end_is_not_its_kill():
    # The container ended on its own long after the kubelet's line: no kill of it.
    run = ContainerRun("a", 0, 0.0, 300.0, 1, "Error")
    restart = restarts_in(evidence([run], lines=[KillLine(250.0, "startup")],
                                   found=failures("startup", 12.0, 24)))[0]
    assert restart.cause == EXIT


def test_a_kill_for_another_reason_is_unknown():
    run = ContainerRun("a", 0, 0.0, 262.0, 0, "Completed")
    events = [KillEvent.of("Container kube-apiserver definition changed, will be restarted",
                           255.0, 255.0, 1)]
    restart = restarts_in(evidence([run], events))[0]
    assert restart.cause == UNKNOWN and "another reason" in restart.why


@pytest.mark.parametrize(("life", "cause"), [(60.0, EXIT), (200.0, UNKNOWN)])
def test_without_events_only_a_life_too_short_for_any_kill_is_an_exit(life, cause):
    run = ContainerRun("a", 0, 0.0, life, 1, "Error")
    assert restarts_in(evidence([run], events_read=False))[0].cause == cause


def test_a_restart_the_runtime_kept_no_record_of_is_unknown():
    restarts = restarts_in(evidence([], samples=series(280)))
    assert [r.cause for r in restarts] == [UNKNOWN]
    assert window_cause(restarts) == UNKNOWN


def test_ends_after_the_window_are_not_its_restarts():
    run = ContainerRun("a", 0, 0.0, 345.0, 1, "Error")
    assert restarts_in(evidence([run])) == []
    assert window_cause([]) == "none" and killed_by([]) is None


def test_started_state_is_the_last_sampled_for_that_container():
    samples = [Sample(10, 0, False, None, "api", False), Sample(120, 0, False, None, "api", True),
               Sample(130, 0, False, None, "runtime", None), Sample(280, 1, False, "Error",
                                                                       "api", False)]
    run = ContainerRun("a", 0, 0.0, 60.0, 2, "Error")
    assert restarts_in(evidence([run], samples=samples))[0].started_state is True


def test_a_restart_reads_as_a_dict_for_the_report():
    run = ContainerRun("a", 0, 0.5, 19.0, 1, "Error", "bye")
    data = restarts_in(evidence([run]))[0].to_dict()
    assert data["n"] == 1 and data["ended_at"] == 19.0 and data["exit_code"] == 1
    assert data["cause"] == EXIT and data["killed_by"] is None and data["last_line"] == "bye"
    assert ContainerRun.from_dict({"id": "a", "attempt": 0, "started": 0.5, "finished": 19.0,
                                   "exit_code": 1, "reason": "Error", "last_line": "bye"}) == run


def test_the_startup_probes_first_result_on_a_new_container_is_no_kill():
    # The kubelet logs "SyncLoop (probe)" startup "unhealthy" also when it starts probing a
    # container (its result is unknown until the probe runs): too early to be a kill.
    run = ContainerRun("a", 0, 0.0, 30.0, 1, "Error")
    restart = restarts_in(evidence([run], lines=[KillLine(1.0, "startup"),
                                                 KillLine(25.0, "startup")]))[0]
    assert restart.cause == EXIT


def test_the_count_of_failures_goes_on_across_a_container_that_ended_on_its_own():
    # As seen live on 1.34.12: the first container got 3 startup 401s and exited 1 at 32 s;
    # the kubelet went on counting with the next one, which it killed at 251 s, 218 s into
    # its own life but 24 failures after the count began.
    first = ContainerRun("a", 0, 0.8, 32.2, 1, "Error")
    second = ContainerRun("b", 1, 33.8, 281.5, 137, "Error")
    found = failures("startup", 11.4, 3) + failures("startup", 51.4, 21)
    events = [KillEvent.of(STARTUP_KILL, 250.9, 250.9, 1)]
    lines = [KillLine(11.4, "startup"), KillLine(41.4, "startup"), KillLine(251.4, "startup")]
    restarts = restarts_in(evidence([first, second], events, lines, found))
    assert [r.cause for r in restarts] == [EXIT, "probe-401"]
    assert restarts[1].kill_at == 251.4 and len(restarts[1].failures) == 24
    assert "218 s into its life" in restarts[1].why


def test_after_a_kill_the_count_begins_afresh():
    first = ContainerRun("a", 0, 0.0, 262.0, 137, "Error")
    second = ContainerRun("b", 1, 272.0, 300.0, 137, "Error")
    found = failures("startup", 12.0, 24) + failures("startup", 284.0, 2)
    events = [KillEvent.of(STARTUP_KILL, 251.0, 299.0, 2)]
    restarts = restarts_in(evidence([first, second], events, found=found, window=400))
    assert [r.cause for r in restarts] == ["probe-401", UNKNOWN]
    assert "before that probe could kill (240 s)" in restarts[1].why


def startup_kill_after(statuses: list[int | None]):
    """The restart of a container the startup probe killed at 250 s after 24 failures with
    these statuses (None: no answer), one per period from 10 s."""
    run = ContainerRun("a", 0, 0.0, 265.0, 137, "Error")
    found = [Failure(10.0 + 10 * i, "startup", status) for i, status in enumerate(statuses)]
    events = [KillEvent.of(STARTUP_KILL, 250.0, 250.0, 1)]
    (restart,) = restarts_in(evidence([run], events, [KillLine(250.0, "startup")], found))
    assert restart.killed_by == "startup" and len(restart.failures) == 24
    return restart


@pytest.mark.parametrize("statuses", [[None] * 23 + [401], [401] + [None] * 23,
                                      [None] * 11 + [401] + [None] * 12])
def test_a_kill_after_23_failures_without_an_answer_and_one_401_is_a_timeout(statuses):
    restart = startup_kill_after(statuses)
    assert restart.cause == TIMEOUT != "probe-401"
    assert "after 24 failures: 23 without an answer, 1 answered 401" in restart.why
    assert window_cause([restart]) == TIMEOUT and killed_by([restart]) == "startup"


@pytest.mark.parametrize("statuses", [[401] * 12 + [403] * 12, [403] * 12 + [401] * 12,
                                      [401, 403] * 12, [403, 401] * 12])
def test_a_tie_is_mixed_and_names_both_counts_whatever_came_first(statuses):
    restart = startup_kill_after(statuses)
    assert restart.cause == MIXED
    assert restart.why.endswith("after 24 failures: 12 answered 401, 12 answered 403")


def test_a_tie_of_answers_and_no_answers_is_mixed():
    restart = startup_kill_after([None] * 12 + [401] * 12)
    assert restart.cause == MIXED
    assert "after 24 failures: 12 answered 401, 12 without an answer" in restart.why


def test_a_kill_after_every_failure_answered_401_is_probe_401():
    restart = startup_kill_after([401] * 24)
    assert (restart.cause, restart.answer) == ("probe-401", 401)
    assert restart.why.endswith("after 24 failures answered 401")


@pytest.mark.parametrize(("statuses", "cause"), [
    ([None] * 2 + [401] * 22, "probe-401"),  # 22 of 24: 91.7 %
    ([None] * 3 + [401] * 21, MIXED),  # 21 of 24: 87.5 %
    ([503] * 2 + [None] * 22, TIMEOUT),
])
def test_one_outcome_names_the_kill_from_nine_tenths_of_its_failures(statuses, cause):
    restart = startup_kill_after(statuses)
    assert restart.cause == cause
    assert f"after 24 failures: {max(Counter(statuses).values())} " in restart.why


def test_a_short_count_is_named_by_one_outcome_only_when_it_is_all_of_them():
    # kubeadm's liveness probe kills after 8: 7 of 8 is short of nine tenths.
    run = ContainerRun("a", 0, 0.6, 172.0, 1, "Error")
    found = failures("liveness", 80.0, 7) + [Failure(150.0, "liveness", None)]
    events = [KillEvent.of(LIVENESS_KILL, 151.0, 151.0, 1)]
    (restart,) = restarts_in(evidence([run], events, [KillLine(150.2, "liveness")], found))
    assert restart.cause == MIXED and restart.killed_by == "liveness"
    assert "after 8 failures: 7 answered 401, 1 without an answer" in restart.why


@pytest.mark.parametrize(("statuses", "cause"), [
    ([401] * 3, "probe-401"), ([None] * 3, TIMEOUT), ([401, 401, None], MIXED),
    ([None] * 9 + [500], TIMEOUT), ([None] * 8 + [500, 500], MIXED)])
def test_kill_cause_of_the_failures_that_killed(statuses, cause):
    assert kill_cause(statuses) == cause == kill_cause(list(reversed(statuses)))


def test_every_cause_a_kill_is_given_is_one_a_row_may_predict():
    for statuses in ([401] * 3, [None] * 3, [401, 403, None]):
        cause = kill_cause(statuses)
        assert CAUSE_PATTERN.match(cause)
        ExpectationTable().add({"scenarios": {"apiserver_restarts": {"anon-off": [
            {"since": "1.19", "restart_cause": cause}]}}}, "a team's file")
    with pytest.raises(AuthprobeError, match="restart_cause must be one of"):
        ExpectationTable().add({"scenarios": {"apiserver_restarts": {"anon-off": [
            {"since": "1.19", "restart_cause": "probe-many"}]}}}, "a team's file")
