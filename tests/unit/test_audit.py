"""The apiserver's audit record of a request, read from its JSON lines."""

from __future__ import annotations

import json

from authprobe.harness import audit
from authprobe.harness.audit import AuditRecord

FORBIDDEN = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
    "auditID": "6c1f9a1e-0f0e-4b2a-9a57-3e0f2c1d4b5a", "stage": "ResponseComplete",
    "requestURI": "/", "verb": "get",
    "user": {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
    "sourceIPs": ["172.18.0.1"], "userAgent": "python-requests/2.32.3",
    "responseStatus": {"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403},
    "requestReceivedTimestamp": "2025-12-01T10:00:00.100000Z",
    "stageTimestamp": "2025-12-01T10:00:00.102000Z",
    "annotations": {"authorization.k8s.io/decision": "forbid",
                    "authorization.k8s.io/reason": ""},
}
UNAUTHORIZED = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
    "auditID": "0d3e1c52-7f44-4c38-b0a6-1a2b3c4d5e6f", "stage": "ResponseStarted",
    "requestURI": "/livez", "verb": "get", "user": {}, "sourceIPs": ["172.18.0.2"],
    "userAgent": "kube-probe/1.34",
    "responseStatus": {"metadata": {}, "status": "Failure", "message": "Unauthorized",
                       "reason": "Unauthorized", "code": 401},
    "requestReceivedTimestamp": "2025-12-01T10:00:01.000000Z",
    "stageTimestamp": "2025-12-01T10:00:01.000400Z",
}


def test_a_403_names_the_anonymous_user_and_the_decision():
    record = AuditRecord.from_event(FORBIDDEN)
    assert record.audit_id == FORBIDDEN["auditID"]
    assert (record.verb, record.uri, record.code) == ("get", "/", 403)
    assert record.user == "system:anonymous"
    assert record.groups == ["system:unauthenticated"]
    assert record.decision == "forbid"
    assert record.reason == ""
    assert record.stage == "ResponseComplete"
    assert record.user_agent == "python-requests/2.32.3"
    assert record.time == "2025-12-01T10:00:00.102000Z"
    assert record.summary() == ("audit: get / 403, user system:anonymous "
                                "(groups system:unauthenticated), authorization forbid")


def test_a_401_has_no_user():
    record = AuditRecord.from_event(UNAUTHORIZED)
    assert record.stage == "ResponseStarted"
    assert record.code == 401
    assert record.user is None
    assert record.groups == []
    assert record.decision is None and record.reason is None
    assert record.summary() == "audit: get /livez 401, no authenticated user"


def test_an_allowed_request():
    event = dict(FORBIDDEN, responseStatus={"metadata": {}, "code": 200},
                 user={"username": "admin", "groups": ["system:authenticated"]},
                 annotations={"authorization.k8s.io/decision": "allow",
                              "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding'
                                                             ' "x"'})
    record = AuditRecord.from_event(event)
    assert record.user == "admin" and record.decision == "allow"
    assert record.reason.startswith("RBAC: allowed")
    assert record.summary().endswith(", authorization allow")


def test_a_sparse_event():
    record = AuditRecord.from_event({})
    assert record == AuditRecord(audit_id="", verb="", uri="", user=None)
    assert record.to_dict()["groups"] == []


def test_to_dict_round_trips():
    record = AuditRecord.from_event(FORBIDDEN)
    assert AuditRecord(**record.to_dict()) == record


def test_events_keep_json_lines_only():
    text = "\n".join([
        json.dumps(FORBIDDEN),
        "  " + json.dumps(UNAUTHORIZED) + "  ",
        '{"truncated": ',
        "cat: /var/log/kubernetes/audit/*.log: No such file or directory",
        "",
    ])
    events = audit._events(text)
    assert [e["auditID"] for e in events] == [FORBIDDEN["auditID"], UNAUTHORIZED["auditID"]]
    assert audit._events("") == []


def test_probe_agent_needle_matches_the_kubelet_line():
    assert audit.PROBE_AGENT in json.dumps(UNAUTHORIZED, separators=(",", ":"))
    assert audit.PROBE_AGENT not in json.dumps(FORBIDDEN, separators=(",", ":"))


class _Log(audit.AuditLog):
    """An audit log read from a list of events instead of a node."""

    def __init__(self, events):
        self.events = events

    def grep(self, fixed):
        return [e for e in self.events if fixed in json.dumps(e, separators=(",", ":"))]


def _exec_event(audit_id, stage, code, received, user="exec-getter"):
    return {"auditID": audit_id, "stage": stage, "verb": "get", "user": {"username": user},
            "requestURI": "/api/v1/namespaces/kube-system/pods/kube-proxy-x/exec?command=a",
            "responseStatus": {"code": code}, "requestReceivedTimestamp": received}


def test_a_request_without_an_audit_id_is_found_by_user_path_and_time():
    start = audit.epoch_of("2025-12-01T10:00:00.000000Z")
    log = _Log([
        _exec_event("earlier", "ResponseComplete", 101, "2025-12-01T09:59:59.000000Z"),
        _exec_event("this", "ResponseStarted", 101, "2025-12-01T10:00:00.200000Z"),
        _exec_event("this", "ResponseComplete", 101, "2025-12-01T10:00:00.200000Z"),
        _exec_event("other", "ResponseComplete", 101, "2025-12-01T10:00:00.300000Z",
                    user="admin"),
    ])
    record = log.record_between("/pods/kube-proxy-x/exec", "exec-getter", start, start + 1)
    assert (record.audit_id, record.stage, record.code) == ("this", "ResponseComplete", 101)


def test_epoch_of_reads_microseconds_and_refuses_nonsense():
    assert audit.epoch_of("1970-01-01T00:00:01.500000Z") == 1.5
    assert audit.epoch_of("not a time") is None
