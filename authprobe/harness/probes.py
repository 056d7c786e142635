"""The kubelet's probes of kube-apiserver: how long a failing apiserver lives (the probe
budget, which sets the observation window), and what the kubelet and the apiserver's audit
log recorded about each probe.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..model.restarts import DEFAULT_GRACE, DEFAULT_PERIOD, DEFAULT_THRESHOLD, Failure, KillLine
from ..model.timeouts import calls

GRACE = "terminationGracePeriodSeconds"
MIN_MARGIN = 60.0
MARGIN_SHARE = 0.2


def budget(spec: dict) -> float | None:
    """Seconds after the container starts at which the kubelet kills an apiserver whose
    probes all fail: the startup probe's budget when there is one, else the liveness one's."""
    probe = spec.get("startupProbe") or spec.get("livenessProbe")
    if not probe:
        return None
    delay = float(probe.get("initialDelaySeconds") or 0)
    period = float(probe.get("periodSeconds") or DEFAULT_PERIOD)
    threshold = float(probe.get("failureThreshold") or DEFAULT_THRESHOLD)
    return delay + threshold * period


def margin(probe_budget: float) -> float:
    """Slack after the kill: the new container's start, sampling, and a loaded machine."""
    return max(MIN_MARGIN, MARGIN_SHARE * probe_budget)


def window(spec: dict, default: float, startup_kill_delay: float = 0.0) -> float:
    """The observation window: the probe budget, the time the kubelet may take to act on a
    failed startup probe (``startup_kill_delay``, a version fact), the pod's grace period for
    the kill (the apiserver shuts down gracefully), and a margin; ``default`` without
    probes."""
    probe_budget = budget(spec)
    if probe_budget is None:
        return default
    delay = startup_kill_delay if spec.get("startupProbe") else 0.0
    grace = float(spec.get(GRACE, DEFAULT_GRACE) or 0)
    return probe_budget + delay + grace + margin(probe_budget)


@dataclass(frozen=True)
class ProbeFailure:
    """One failed probe of kube-apiserver, as the kubelet logged it."""

    t: float  # seconds since the first kube-apiserver container started
    probe: str  # Startup, Liveness, Readiness
    output: str  # e.g. "HTTP probe failed with statuscode: 401"

    @property
    def status(self) -> int | None:
        match = re.search(r"statuscode: (\d+)", self.output)
        return int(match.group(1)) if match else None

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status}

    def as_failure(self) -> Failure:
        return Failure(self.t, self.probe.lower(), self.status)


@dataclass
class KubeletJournal:
    """What the kubelet's journal says about kube-apiserver's probes: each failure, and
    each time the kubelet acted on a failed startup or liveness probe (which kills)."""

    failures: list[ProbeFailure] = field(default_factory=list)
    kills: list[KillLine] = field(default_factory=list)


_KV = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def read_journal(node, t0: float, unit: str = "kubelet") -> str:
    """The node's journal of ``unit`` (the kubelet, containerd) since ``t0``."""
    result = node.exec("journalctl", "-u", unit, "--no-pager", "-o", "short-unix",
                       f"--since=@{int(t0) - 5}", check=False, timeout=calls().node_exec)
    return result.stdout


def kubelet_failures(node, t0: float) -> list[ProbeFailure]:
    """The kubelet's failed probes of kube-apiserver since ``t0``, from its journal in the
    node (the kubelet runs with ``--v=1``, the level of its "Probe failed" lines)."""
    return parse_failures(read_journal(node, t0), t0)


def kubelet_journal(node, t0: float) -> KubeletJournal:
    """The kubelet's probe failures and kills of kube-apiserver since ``t0``."""
    text = read_journal(node, t0)
    return KubeletJournal(parse_failures(text, t0), parse_kills(text, t0))


# The kubelet acting on a probe's result (--v=1): from 1.2x "SyncLoop (probe)" probe=...
# status="unhealthy" pod=...; up to 1.2x the liveness probe only, as text.
_OLD_KILL = re.compile(r'SyncLoop \(container unhealthy\): "kube-apiserver-')


def parse_kills(journal: str, t0: float) -> list[KillLine]:
    """When the kubelet acted on an unhealthy startup or liveness probe of kube-apiserver
    (see :class:`authprobe.model.restarts.KillLine` for which of these are kills)."""
    found = []
    for line in journal.splitlines():
        if "SyncLoop (" not in line or "kube-apiserver-" not in line:
            continue
        if '"SyncLoop (probe)"' in line:
            fields = dict(_KV.findall(line))
            if (fields.get("status") != "unhealthy"
                    or fields.get("probe") not in ("startup", "liveness")
                    or "/kube-apiserver-" not in fields.get("pod", "")):
                continue
            probe = fields["probe"]
        elif _OLD_KILL.search(line):
            probe = "liveness"
        else:
            continue
        stamp = _stamp(line)
        if stamp is not None:
            found.append(KillLine(round(stamp - t0, 1), probe))
    return found


def _stamp(line: str) -> float | None:
    try:
        return float(line.split(None, 1)[0])
    except (ValueError, IndexError):
        return None


# Up to 1.2x the kubelet logs failures as text: `Startup probe for "pod_ns(uid):kube-apiserver"
# failed (failure): HTTP probe failed with statuscode: 401`.
_TEXT = re.compile(r'(\w+) probe for "[^"]*:kube-apiserver" failed \([^)]*\): (.*)$')


def parse_failures(journal: str, t0: float) -> list[ProbeFailure]:
    """Failed probes of the kube-apiserver container from ``journalctl -o short-unix`` text,
    in the kubelet's structured form ("Probe failed" probeType=... output=..., or "Probe
    errored" ... err=... for a probe that could not run) or its older text form."""
    found = []
    for line in journal.splitlines():
        if "kube-apiserver" not in line:
            continue
        if '"Probe failed"' in line or '"Probe errored"' in line:
            fields = dict(_KV.findall(line))
            if fields.get("containerName") != "kube-apiserver":
                continue
            probe = fields.get("probeType", "")
            output = (fields.get("output") or fields.get("err", "")).replace('\\"', '"').strip()
        else:
            match = _TEXT.search(line)
            if not match:
                continue
            probe, output = match.group(1), match.group(2).strip()
        stamp = _stamp(line)
        if stamp is not None:
            found.append(ProbeFailure(round(stamp - t0, 1), probe, output))
    return found


def results_table(probe_events: list[dict]) -> list[dict]:
    """Audited probe requests counted by path, status and user: the report's probe table."""
    counts = Counter((e["path"], e["code"], e["user"] or "(none)") for e in probe_events)
    return [{"path": path, "code": code, "user": user, "count": count}
            for (path, code, user), count in sorted(counts.items())]


def failures_table(failures: list[ProbeFailure]) -> list[dict]:
    """Kubelet probe failures counted by probe type and status."""
    counts = Counter((f.probe, f.status, f.output) for f in failures)
    return [{"probe": probe, "status": status, "output": output, "count": count}
            for (probe, status, output), count in sorted(counts.items(),
                                                          key=lambda kv: str(kv[0]))]
