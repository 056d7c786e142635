"""Why kube-apiserver restarted: each restart of a window tied to its own evidence.

Pure logic. The harness reads the evidence (the node's runtime, the kubelet's events and
journal, the restart series); this module decides, restart by restart, whether the kubelet
killed the container for a failing probe or the container ended on its own.

A restart is a kill of probe P only when all of these hold:

- the kubelet recorded the kill between its latest possible moment (the container's end)
  and its earliest (the end less the grace period): a Killing event naming P, or, where no
  Killing event of it was read, the kubelet's journal line acting on P's unhealthy result.
  The kubelet does not always post the event: its event recorder lets 25 events about a pod
  through, then one per 5 minutes, and up to client-go of 1.31 that budget is shared by the
  Warning events of the failing probes and the Normal Killing event
  (kubernetes/kubernetes#124747 keys it by event type from 1.32);
- the kubelet's journal holds at least P's failure threshold of P's failures since P's count
  began, up to the kill. The kubelet counts a probe's consecutive failures per pod: from the
  pod's first container, across a container that ends on its own (the count goes on with
  the next one), afresh after each kill by that probe;
- that count ran long enough for P to kill: the first probe comes at P's initial delay,
  each further failure one period later, so P cannot kill before
  delay + (failureThreshold - 1) x period. For the first restart this is the budget from
  the pod's start.

A kill's cause says what the failures that killed were: the last failure-threshold failures
of P's count up to the kill (the kubelet kills on the threshold-th consecutive failure,
whatever each one was). One outcome of them, an HTTP status or no answer, names the cause
when it makes at least 90 % of them (``NAMING_PERCENT``): "probe-<status>", or
"probe-timeout" for no answer. Otherwise the kill is "probe-mixed", its message giving the
count of each status and of the failures without an answer. The share is what lets a long
count keep its name through an incidental failure or two of another kind (kubeadm's startup
probe kills after 24: the first probe of a slow start finding the port not yet open, an
answer slowed past the probe's timeout on a loaded node), while a count of fewer than ten
(kubeadm's liveness probe kills after 8) is named by one outcome only when every failure
was that outcome. Half of them is never enough, so no tie is broken by which came first;
a count mostly without an answer is a timeout, never the status of its few answers. Where
the failures that killed were not all one outcome, the kill's message gives each one's count.

A restart is "exit" when the container ended with no kill matched to its end: no Killing
event near it (the events were read after it), or an end too early in every probe's count
for any probe to have killed.
Anything else is "unknown", which no expectation row allows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from .series import Sample

# Kubernetes' defaults for probe fields left unset, and for a pod's grace period on a kill.
DEFAULT_PERIOD = 10
DEFAULT_THRESHOLD = 3
DEFAULT_GRACE = 30
# The probes whose failures make the kubelet kill a container, as the kubelet names them.
KILLING = {"startup": "startupProbe", "liveness": "livenessProbe"}
# Seconds of clock slack: event timestamps are whole seconds, and the kubelet's journal,
# events and the runtime's times are written at slightly different moments.
SLACK = 5.0

NONE = "none"
EXIT = "exit"
UNKNOWN = "unknown"
TIMEOUT = "probe-timeout"
MIXED = "probe-mixed"
CAUSE_PATTERN = re.compile(r"^(none|exit|unknown|probe-timeout|probe-mixed|probe-\d{3})$")
# The share (in percent) of the failures that killed which one outcome must make to name the
# kill's cause; short of it the kill is MIXED.
NAMING_PERCENT = 90
_KILLED_FOR = re.compile(r"failed (startup|liveness) probe", re.IGNORECASE)


def probe_timing(spec: dict, probe: str) -> tuple[float, float, int] | None:
    """(initialDelaySeconds, periodSeconds, failureThreshold) of ``probe`` ("startup",
    "liveness") in a probe spec as the harness reads it from the running manifest."""
    found = spec.get(KILLING[probe])
    if found is None:
        return None
    return (float(found.get("initialDelaySeconds") or 0),
            float(found.get("periodSeconds") or DEFAULT_PERIOD),
            int(found.get("failureThreshold") or DEFAULT_THRESHOLD))


def earliest_kill(spec: dict, probe: str) -> float | None:
    """Seconds into a container's life before which ``probe`` cannot have killed it."""
    timing = probe_timing(spec, probe)
    if timing is None:
        return None
    delay, period, threshold = timing
    return delay + (threshold - 1) * period


def grace(spec: dict) -> float:
    value = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    return float(DEFAULT_GRACE if value is None else value)


@dataclass(frozen=True)
class ContainerRun:
    """One kube-apiserver container as the node's runtime recorded it (``crictl inspect``);
    times in seconds since the pod's first container was created."""

    id: str
    attempt: int
    started: float | None
    finished: float | None
    exit_code: int | None
    reason: str | None = None
    last_line: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ContainerRun:
        return cls(**{k: data.get(k) for k in ("id", "attempt", "started", "finished",
                                                 "exit_code", "reason")},
                   last_line=data.get("last_line") or "")


@dataclass(frozen=True)
class KillEvent:
    """A Killing event of the kubelet about kube-apiserver. ``probe`` is the probe its
    message names (None for a kill of another reason); ``first``/``last`` its first and last
    occurrence, in seconds since the pod's first container was created."""

    probe: str | None
    first: float | None
    last: float | None
    count: int
    message: str

    @classmethod
    def of(cls, message: str, first: float | None, last: float | None,
           count: int) -> KillEvent:
        match = _KILLED_FOR.search(message or "")
        return cls(match.group(1).lower() if match else None, first, last, max(1, count),
                   message or "")

    def occurs_in(self, low: float, high: float, confirmed: Sequence[float]) -> float | None:
        """An occurrence of the event in [low, high]: its first or last one, or for an event
        repeated more than twice one the journal confirms (``confirmed``) in that span."""
        for t in (self.first, self.last):
            if t is not None and low <= t <= high:
                return t
        if self.may_occur_in(low, high):
            return next((t for t in confirmed if low <= t <= high), None)
        return None

    def may_occur_in(self, low: float, high: float) -> bool:
        """Whether an occurrence between the first and the last may lie in [low, high]."""
        return (self.count > 2 and self.first is not None and self.last is not None
                and self.first <= high and self.last >= low)


@dataclass(frozen=True)
class KillLine:
    """The kubelet's journal: it acted on an unhealthy ``probe`` ("SyncLoop (probe)" with
    status "unhealthy") at ``t``: a failure reaching the threshold, which kills, or for the
    startup probe also the first (unknown) result of a container the kubelet starts probing,
    which does not; only the lines late enough in a container's life to be a kill count."""

    t: float
    probe: str


@dataclass(frozen=True)
class Failure:
    """One failed probe as the kubelet's journal has it; ``status`` None: no answer."""

    t: float
    probe: str  # startup, liveness, readiness
    status: int | None


@dataclass(frozen=True)
class Evidence:
    """Everything recorded about one window, in seconds since the pod's first container."""

    window: float
    series: Sequence[Sample]
    containers: Sequence[ContainerRun]
    events: Sequence[KillEvent]
    events_read: bool  # the kubelet's events were read after the window's last end
    kill_lines: Sequence[KillLine]
    failures: Sequence[Failure]
    spec: dict  # the running apiserver's probes and grace period


@dataclass(frozen=True)
class Restart:
    """One restart of the window and what it rests on."""

    n: int
    container: ContainerRun | None
    started_state: bool | None  # containerStatuses[].started last seen for this container
    killed_by: str | None
    kill_at: float | None
    answer: int | None  # the status of the killing probe's last failure
    failures: tuple[Failure, ...]
    cause: str
    why: str

    def to_dict(self) -> dict:
        run = self.container
        return {
            "n": self.n, "container": run.id if run else None,
            "attempt": run.attempt if run else None,
            "started_at": run.started if run else None,
            "ended_at": run.finished if run else None,
            "exit_code": run.exit_code if run else None, "reason": run.reason if run else None,
            "last_line": run.last_line if run else "", "started_state": self.started_state,
            "killed_by": self.killed_by, "kill_at": self.kill_at, "answer": self.answer,
            "probe_failures": [asdict(f) for f in self.failures],
            "cause": self.cause, "why": self.why,
        }


def restarts_in(evidence: Evidence) -> list[Restart]:
    """Every restart of the window, oldest first, each with its cause: the containers that
    ended inside it, and any restart the series counted whose container the runtime kept
    no record of (its cause is unknown)."""
    ended = {c.attempt: c for c in evidence.containers
             if c.finished is not None and c.finished <= evidence.window}
    seen = max((s.restarts for s in evidence.series if s.t <= evidence.window), default=0)
    # Where each probe's count of consecutive failures began: the kubelet counts them per
    # pod, from its first container's start, across a container that ends on its own, and
    # afresh after each kill by that probe.
    counts = {probe: -SLACK for probe in KILLING}
    found = []
    for attempt in sorted(ended):
        restart = _explain(evidence, ended[attempt], counts)
        if restart.cause.startswith("probe-"):
            counts[restart.killed_by] = restart.kill_at + 1.0
        found.append(restart)
    for attempt in sorted(set(range(seen)) - set(ended)):
        found.append(Restart(0, ContainerRun("", attempt, None, None, None), None, None,
                             None, None, (), UNKNOWN,
                             f"the runtime kept no record of container attempt {attempt}'s "
                             "end"))
    found.sort(key=lambda r: r.container.attempt)
    return [replace(r, n=n) for n, r in enumerate(found, start=1)]


def _started_state(series: Sequence[Sample], attempt: int) -> bool | None:
    states = [s.started for s in series if s.restarts == attempt and s.started is not None]
    return states[-1] if states else None


def _counted(counts: dict[str, float], probe: str, t: float) -> float:
    """Seconds of ``probe``'s count of failures up to ``t``."""
    return t - max(counts[probe], 0.0)


def _explain(ev: Evidence, run: ContainerRun, counts: dict[str, float]) -> Restart:
    started_state = _started_state(ev.series, run.attempt)

    def result(cause: str, why: str, probe: str | None = None, at: float | None = None,
               answer: int | None = None, failures: tuple = ()) -> Restart:
        return Restart(0, run, started_state, probe, at, answer, failures, cause, why)

    end = run.finished
    # The kubelet records the kill, then stops the container within the grace period; a
    # kill of this container comes after it started.
    low, high = end - grace(ev.spec) - SLACK, end + SLACK
    if run.started is not None:
        low = max(low, run.started - SLACK)
    lines = [k for k in ev.kill_lines if low <= k.t <= high and _may_kill(ev.spec, counts, k)]
    kills = []
    for event in ev.events:
        at = event.occurs_in(low, high, [k.t for k in lines if k.probe == event.probe])
        if at is not None:
            kills.append((event, at))
    if not kills:
        maybe = [e for e in ev.events if e.may_occur_in(low, high)]
        if maybe:
            return result(UNKNOWN, f"the kubelet's Killing event \"{maybe[0].message}\" "
                                   f"recurred {maybe[0].count} times between "
                                   f"{maybe[0].first:.0f} s and {maybe[0].last:.0f} s, and its "
                                   "journal does not say whether one was at this end")
        return _no_kill(ev, run, counts, lines, result)
    probe_kills = [(e, at) for e, at in kills if e.probe in KILLING]
    if not probe_kills:
        return result(UNKNOWN, f"the kubelet killed it for another reason: "
                               f"{kills[0][0].message}")
    event, at = probe_kills[-1]
    probe = event.probe
    confirmed = [k.t for k in lines if k.probe == probe]
    kill_at = max([t for t in confirmed if t <= at + SLACK], default=at)
    return _probe_kill(ev, run, counts, probe, kill_at, "a Killing event", result)


def _probe_kill(ev: Evidence, run: ContainerRun, counts: dict[str, float], probe: str,
                kill_at: float, record: str, result, source: str = "") -> Restart:
    """The kill by ``probe`` at ``kill_at`` that ``record`` names, checked against the
    probe's count of failures and the kubelet's journal of them; ``source`` says, in the
    cause's words, where the kill was read when it was not a Killing event."""
    earliest = earliest_kill(ev.spec, probe)
    if earliest is None:
        return result(UNKNOWN, f"{record} names the {probe} probe, which the running "
                               "apiserver does not have", probe, kill_at)
    counted = _counted(counts, probe, kill_at)
    if counted < earliest - SLACK:
        return result(UNKNOWN, f"{record} names the {probe} probe at {kill_at:.0f} s, "
                               f"{counted:.0f} s after its count of failures began, before "
                               f"that probe could kill ({earliest:.0f} s)", probe, kill_at)
    _, _, threshold = probe_timing(ev.spec, probe)
    mine = tuple(f for f in ev.failures if f.probe == probe
                 and counts[probe] <= f.t <= kill_at + SLACK)
    if len(mine) < threshold:
        return result(UNKNOWN, f"{record} names the {probe} probe, but the kubelet's "
                               f"journal has {len(mine)} of the {threshold} failures that "
                               "kill", probe, kill_at, failures=mine)
    killing = mine[-threshold:]
    life = f", {kill_at - run.started:.0f} s into its life" if run.started is not None else ""
    statuses = [f.status for f in killing]
    return result(kill_cause(statuses), f"killed by the {probe} probe at {kill_at:.0f} s{life}, "
                                        f"after {_failures_told(statuses)}{source}",
                  probe, kill_at, killing[-1].status, killing)


def kill_cause(statuses: Sequence[int | None]) -> str:
    """The cause of a kill after failures with these HTTP statuses (None: no answer): the
    outcome that makes at least ``NAMING_PERCENT`` of them, else ``MIXED``."""
    counts = Counter(statuses)
    for status, n in counts.items():
        if 100 * n >= NAMING_PERCENT * len(statuses):
            return TIMEOUT if status is None else f"probe-{status}"
    return MIXED


def _failures_told(statuses: Sequence[int | None]) -> str:
    """The failures that killed, in words: "24 failures answered 401", or where they differ
    each outcome's count, the most frequent first (then by status, no answer last)."""
    counts = sorted(Counter(statuses).items(),
                    key=lambda item: (-item[1], item[0] is None, item[0] or 0))

    def outcome(status: int | None) -> str:
        return "without an answer" if status is None else f"answered {status}"

    if len(counts) == 1:
        return f"{len(statuses)} failures {outcome(counts[0][0])}"
    return f"{len(statuses)} failures: " + ", ".join(f"{n} {outcome(status)}"
                                                     for status, n in counts)


def _may_kill(spec: dict, counts: dict[str, float], line: KillLine) -> bool:
    """Whether the line comes late enough in its probe's count of failures to be a kill."""
    earliest = earliest_kill(spec, line.probe)
    return earliest is None or _counted(counts, line.probe, line.t) >= earliest - SLACK


def _no_kill(ev: Evidence, run: ContainerRun, counts: dict[str, float],
             lines: list[KillLine], result) -> Restart:
    ending = (f"exit code {run.exit_code}" + (f" ({run.reason})" if run.reason else "")
              + (f", last log line: {run.last_line}" if run.last_line else ""))
    if run.exit_code is None:
        return result(UNKNOWN, "the runtime has no exit code for it")
    if lines:
        line = lines[-1]
        return _probe_kill(ev, run, counts, line.probe, line.t, "the kubelet's journal", result,
                           f" (no Killing event was read; the kubelet's journal: it acted on "
                           f"the unhealthy {line.probe} probe at {line.t:.0f} s, and the "
                           f"container ended {_end_after(run, line.t)})")
    life = run.finished - run.started if run.started is not None else None
    too_short = all(_counted(counts, probe, run.finished) < earliest - SLACK
                    for probe, earliest in ((p, earliest_kill(ev.spec, p)) for p in KILLING)
                    if earliest is not None)
    if ev.events_read:
        return result(EXIT, f"ended on its own {_secs(life)} into its life, no Killing event "
                            f"near its end; {ending}")
    if too_short:
        return result(EXIT, f"ended on its own {_secs(life)} into its life, before any probe "
                            f"could have failed enough to kill it; {ending}")
    return result(UNKNOWN, f"no Killing event could be read to rule out a kill; {ending}")


def _end_after(run: ContainerRun, t: float) -> str:
    """When the container ended, said from ``t``."""
    gap = run.finished - t
    return f"{gap:.0f} s later" if gap >= 0 else f"{-gap:.0f} s before it"


def _secs(value: float | None) -> str:
    return "an unknown time" if value is None else f"{value:.0f} s"


def window_cause(restarts: Sequence[Restart]) -> str:
    """The window's cause: "none" without a restart, "unknown" when any restart's cause is,
    else the first restart's (every restart's own cause is checked by the scenario)."""
    if not restarts:
        return NONE
    if any(r.cause == UNKNOWN for r in restarts):
        return UNKNOWN
    return restarts[0].cause


def killed_by(restarts: Sequence[Restart]) -> str | None:
    """The probe that killed at the window's first restart; None when no probe did."""
    return restarts[0].killed_by if restarts and restarts[0].cause.startswith("probe-") \
        else None
