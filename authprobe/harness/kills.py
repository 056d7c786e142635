"""The record of kube-apiserver's restarts in one window, read from the cluster itself: the
kubelet's events about the pod (with their times), the kubelet's journal (probe failures,
and each time it acted on a failed startup or liveness probe), the runtime's record of
every container that ended, the restart series with the containers' ``started`` state.
:mod:`authprobe.model.restarts` decides from it why each restart happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import kubernetes

from ..errors import AuthprobeError, error_line
from ..model.restarts import Evidence, KillEvent, Restart, restarts_in
from ..model.timeouts import calls, waits
from ..wait import until
from .probes import KubeletJournal, kubelet_journal


def _iso(stamp: datetime | None) -> str | None:
    return stamp.isoformat() if stamp is not None else None


def apiserver_events(api: kubernetes.client.ApiClient) -> list[dict]:
    """The events about the kube-apiserver pod (the kubelet's Unhealthy, Killing, BackOff,
    ...), each with its first and last time; raises when the API does not answer."""
    listed = kubernetes.client.CoreV1Api(api).list_namespaced_event(
        "kube-system", _request_timeout=calls().api_request)
    found = []
    for event in listed.items:
        if not (event.involved_object.name or "").startswith("kube-apiserver-"):
            continue
        series = event.series
        first = event.first_timestamp or event.event_time
        last = (series.last_observed_time if series is not None else None) or \
            event.last_timestamp or first
        count = (series.count if series is not None else None) or event.count or 1
        found.append({"reason": event.reason, "message": event.message, "count": count,
                      "type": event.type, "first": _iso(first), "last": _iso(last)})
    return sorted(found, key=lambda e: e["first"] or "")


def read_events(api: kubernetes.client.ApiClient | None,
                timeout: float | None = None) -> list[dict] | None:
    """The pod's events, polling until the API answers (for ``timeout`` seconds; the named
    ``events`` by default: a restarting apiserver serves again within its crash back-off);
    None when it never did."""
    if api is None:
        return None
    last = {"error": "no answer yet"}

    def answered() -> list[dict]:
        try:
            return [apiserver_events(api)]
        except Exception as err:  # a restarting apiserver: ask again
            last["error"] = error_line(err, 120)
            raise AuthprobeError(last["error"]) from None

    try:
        return until(answered, timeout=waits().events if timeout is None else timeout,
                     interval=3.0, retry_on=(AuthprobeError,),
                     what="the kube-apiserver pod's events", state=lambda: last["error"])[0]
    except AuthprobeError:
        return None


def _since(text: str | None, t0: float) -> float | None:
    if not text:
        return None
    return round(datetime.fromisoformat(text).timestamp() - t0, 1)


def kill_events(events: list[dict], t0: float) -> list[KillEvent]:
    return [KillEvent.of(e["message"], _since(e["first"], t0), _since(e["last"], t0),
                         int(e["count"] or 1))
            for e in events if e["reason"] == "Killing"]


@dataclass
class WindowRecord:
    """What was read about one window, and each restart's cause decided from it."""

    evidence: Evidence
    restarts: list[Restart]
    events: list[dict]  # as read (empty when the API never answered)
    journal: KubeletJournal


def read_window(handle, window: float) -> WindowRecord:
    """Everything recorded about the restarts of ``handle``'s cluster up to ``window``
    seconds; to be called once the sampler covered the window."""
    sampler = handle.restarts
    if sampler is None or sampler.t0 is None:
        raise AuthprobeError(f"{handle.name}: no restart samples to read a window from")
    t0 = sampler.t0
    events = read_events(handle.api)
    journal = kubelet_journal(handle.node, t0)
    evidence = Evidence(
        window=window, series=sampler.series, containers=sampler.containers,
        events=kill_events(events or [], t0), events_read=events is not None,
        kill_lines=journal.kills, failures=[f.as_failure() for f in journal.failures],
        spec=handle.probe_spec)
    return WindowRecord(evidence, restarts_in(evidence), events or [], journal)
