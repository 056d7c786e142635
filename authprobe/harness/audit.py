"""The apiserver's own record of a request: its audit log, read back from the node.

Every cluster runs kube-apiserver with an audit policy (``render.AUDIT_POLICY``) and a log
on a host path of the node, so it outlives apiserver restarts. A scenario's request is
matched to its event exactly, by the ``Audit-Id`` header the apiserver sends back.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import requests

from ..errors import AuthprobeError
from ..model.timeouts import calls, waits
from ..wait import until
from .access import NodeAccess
from .render import AUDIT_DIR

DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
PROBE_AGENT = '"userAgent":"kube-probe/'
# Stages that carry the response code, least final first. A request refused by authentication
# (401) has only a ResponseStarted event; others end with ResponseComplete.
ANSWERED = ("ResponseStarted", "ResponseComplete", "Panic")
# The log and its rotated parts (audit-<time>.log sorts before audit.log).
ALL_LOGS = f"{AUDIT_DIR}/*.log"


@dataclass(frozen=True)
class AuditRecord:
    """What the apiserver recorded about one request."""

    audit_id: str
    verb: str
    uri: str
    user: str | None  # None: the request was not authenticated
    groups: list[str] = field(default_factory=list)
    code: int | None = None
    decision: str | None = None
    reason: str | None = None
    user_agent: str = ""
    stage: str = ""
    time: str = ""
    uid: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: dict) -> AuditRecord:
        user = event.get("user") or {}
        annotations = event.get("annotations") or {}
        return cls(
            audit_id=event.get("auditID", ""), verb=event.get("verb", ""),
            uri=event.get("requestURI", ""), user=user.get("username") or None,
            groups=list(user.get("groups") or []),
            code=(event.get("responseStatus") or {}).get("code"),
            decision=annotations.get(DECISION), reason=annotations.get(REASON),
            user_agent=event.get("userAgent", ""), stage=event.get("stage", ""),
            time=event.get("stageTimestamp", ""), uid=user.get("uid") or None,
            extra=dict(user.get("extra") or {}),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        who = (f"user {self.user} (groups {', '.join(self.groups)})" if self.user
               else "no authenticated user")
        decision = f", authorization {self.decision}" if self.decision else ""
        return f"audit: {self.verb} {self.uri} {self.code}, {who}{decision}"


def epoch_of(stamp: str) -> float | None:
    """An audit timestamp (RFC 3339, microseconds) as epoch seconds."""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _events(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


class AuditLog:
    """The audit log of one cluster's kube-apiserver (its probe events from ``since``, epoch
    seconds, on: after an upgrade, those of the new apiserver)."""

    def __init__(self, node: NodeAccess, since: float | None = None) -> None:
        self.node = node
        self.since = (None if since is None else
                      datetime.fromtimestamp(since, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))

    def grep(self, fixed: str) -> list[dict]:
        """Events whose JSON line contains ``fixed`` (a plain string), oldest first."""
        script = f"cat {ALL_LOGS} 2>/dev/null | grep -F -- {shlex.quote(fixed)} || true"
        return _events(self.node.exec("sh", "-c", script, timeout=calls().node_exec).stdout)

    def record_of(self, response: requests.Response,
                  timeout: float | None = None) -> AuditRecord:
        """The audit record of the request that got ``response``, waiting for it to be written
        (for ``timeout`` seconds; the named ``audit_record`` by default)."""
        audit_id = response.headers.get("Audit-Id")
        if not audit_id:
            raise AuthprobeError(f"the apiserver sent no Audit-Id header for "
                                 f"{response.request.method} {response.request.path_url}")
        return self.record_by_id(audit_id, timeout)

    def record_by_id(self, audit_id: str, timeout: float | None = None) -> AuditRecord:
        """The audit record of the request the apiserver answered with ``audit_id``."""
        needle = f'"auditID":"{audit_id}"'

        def complete() -> AuditRecord | None:
            answered = [e for e in self.grep(needle) if e.get("stage") in ANSWERED]
            answered.sort(key=lambda e: ANSWERED.index(e.get("stage")))
            return AuditRecord.from_event(answered[-1]) if answered else None

        return until(complete, timeout=waits().audit_record if timeout is None else timeout,
                     interval=0.5, quiet=True, what=f"the audit event of request {audit_id}")

    def record_between(self, fixed: str, user: str, start: float, end: float,
                       timeout: float | None = None) -> AuditRecord:
        """The audit record of ``user``'s request whose event holds ``fixed`` and that the
        apiserver received between ``start`` and ``end`` (epoch seconds): for an answer
        without an Audit-Id header, as the 101 of an upgraded connection."""
        def complete() -> AuditRecord | None:
            by_id: dict[str, dict] = {}
            for event in self.grep(fixed):
                if (event.get("stage") not in ANSWERED
                        or (event.get("user") or {}).get("username") != user):
                    continue
                at = epoch_of(event.get("requestReceivedTimestamp", ""))
                if at is None or not start - 0.01 <= at <= end + 0.01:
                    continue
                known = by_id.get(event.get("auditID", ""))
                if known is None or (ANSWERED.index(event["stage"])
                                     > ANSWERED.index(known["stage"])):
                    by_id[event.get("auditID", "")] = event
            if len(by_id) > 1:
                raise AuthprobeError(f"{len(by_id)} audited requests of {user} hold {fixed} "
                                     "in one request's time")
            return AuditRecord.from_event(next(iter(by_id.values()))) if by_id else None

        return until(complete, timeout=waits().audit_record if timeout is None else timeout,
                     interval=0.5, quiet=True,
                     what=f"the audit event of {user}'s request to {fixed}")

    def probe_events(self) -> list[dict]:
        """The kubelet's probe requests as the apiserver audited them."""
        rows = []
        for event in self.grep(PROBE_AGENT):
            if event.get("stage") not in ANSWERED or not event.get("responseStatus"):
                continue
            if event.get("stage") == "ResponseStarted" and (event.get("user") or {}):
                continue  # an authenticated request's final word is its ResponseComplete
            record = AuditRecord.from_event(event)
            if self.since is not None and record.time < self.since:
                continue
            rows.append({"path": record.uri.split("?", 1)[0], "code": record.code,
                         "user": record.user, "time": record.time,
                         "agent": record.user_agent})
        return rows

    def copy_to(self, dest) -> None:
        """The whole log (rotated part too) into ``dest``, for the report."""
        script = f"cat {ALL_LOGS} 2>/dev/null || true"
        dest.write_text(self.node.exec("sh", "-c", script, timeout=calls().node_slow).stdout)
