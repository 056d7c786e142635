"""How long a deleted binding still lets its subject in: at kube-apiserver, and at the
kubelet's port 10250, which keeps an allowed answer of its webhook authorizer for its
``cacheAuthorizedTTL`` (kubeadm writes 0s, which the kubelet takes as its default: 5 min).

A user of its own (model.access.REVOCATION_USER, a static token of every cluster whose
profile names an access table) is bound to a ClusterRole that lets it list nodes (a request
to kube-apiserver) and get nodes/metrics (the kubelet's /metrics). Once both let it in, the
binding is deleted and each is asked again until it refuses. The kubelet's record is the
apiserver's audit of the SubjectAccessReviews the kubelet asked for: the allowed one before
the deletion, none while it held that answer, the denied one when it asked again.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType

import requests

from ..model.access import REVOCATION_USER
from ..model.rbac import RBAC_API, RBAC_GROUP, Manifest
from ..model.timeouts import calls, waits
from ..wait import until
from .audit import AuditRecord, epoch_of
from .kubelet import KubeletAnswer, Review, reviews_by
from .rbac import put_object, resource_of
from .readiness import UNREACHABLE

APISERVER_PATH = "/api/v1/nodes"
KUBELET_PATH = "/metrics"
SOURCE = "the revocation scenario"
ROLE = Manifest("ClusterRole", REVOCATION_USER, "", MappingProxyType({
    "apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": REVOCATION_USER},
    "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
              {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]}), SOURCE)
BINDING = Manifest("ClusterRoleBinding", REVOCATION_USER, "", MappingProxyType({
    "apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": REVOCATION_USER},
    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": REVOCATION_USER},
    "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": REVOCATION_USER}]}), SOURCE)


@dataclass
class Door:
    """What one door answered after the deletion: when it first refused (seconds after the
    deletion; None: it still let the subject in at the deadline), and the statuses."""

    refused_after: float | None = None
    statuses: Counter = field(default_factory=Counter)
    refused: requests.Response | None = None


@dataclass
class Revocation:
    deleted_at: float  # epoch seconds the binding's deletion returned
    apiserver: Door
    kubelet: Door
    allowed: Review | None  # the kubelet's last allowed review before the deletion
    denied: Review | None  # its first denied review after it
    between: list[Review]  # its reviews about the user in between (none: it held the answer)
    refusal_record: AuditRecord | None = None  # kube-apiserver's audit of its first refusal

    @property
    def allow_held(self) -> float | None:
        """Seconds from the kubelet's allowed review to its denied one, as audited."""
        if self.allowed is None or self.denied is None:
            return None
        return round(epoch_of(self.denied.time) - epoch_of(self.allowed.time), 1)

    def evidence(self) -> dict:
        return {
            "deleted_at": self.deleted_at,
            "apiserver_statuses": dict(self.apiserver.statuses),
            "kubelet_statuses": dict(self.kubelet.statuses),
            "kubelet_allowed_review": self.allowed.to_dict() if self.allowed else None,
            "kubelet_denied_review": self.denied.to_dict() if self.denied else None,
            "kubelet_reviews_between": [r.to_dict() for r in self.between],
            "apiserver_refusal": self.refusal_record.to_dict() if self.refusal_record
            else None,
        }


def _delete(cluster, manifest: Manifest) -> None:
    cluster.node.kubectl("delete", resource_of(manifest), manifest.name, "--ignore-not-found",
                         timeout=calls().node_slow)


def _poll(ask, deleted_at: float, timeout: float, interval: float, what: str) -> Door:
    """Ask a door every ``interval`` s until it answers 403 or ``timeout`` s pass."""
    door = Door()

    def refused() -> bool:
        response = ask()
        answered = time.time()
        door.statuses[response.status_code] += 1
        if response.status_code == 403:
            door.refused, door.refused_after = response, round(answered - deleted_at, 1)
            return True
        return False

    until(refused, timeout=timeout, interval=interval, give_last=True, quiet=False,
          retry_on=(*UNREACHABLE, requests.RequestException), what=what,
          state=lambda: f"answers so far {dict(door.statuses)}")
    return door


def _kubelet_lets_in(cluster, client) -> KubeletAnswer:
    last = {}

    def attempt() -> KubeletAnswer | None:
        answer = cluster.kubelet.get(client, KUBELET_PATH)
        last["status"] = answer.response.status_code
        return answer if answer.response.status_code == 200 else None

    return until(attempt, timeout=waits().kubelet_answer, interval=3.0,
                 what=f"the kubelet of {cluster.name} to let {REVOCATION_USER} in",
                 state=lambda: f"last answer {last.get('status')}")


def measure(cluster) -> Revocation:
    """Bind the user, see both doors let it in, delete the binding, and time each door's
    first refusal (``cluster``: a scenario's ClusterHandle). The role goes at the end."""
    put_object(cluster.node, ROLE)
    put_object(cluster.node, BINDING)
    api_client = cluster.as_user(REVOCATION_USER)
    kubelet_client = cluster.kubelet_as(REVOCATION_USER)
    try:
        until(lambda: api_client.get(APISERVER_PATH).status_code == 200,
              timeout=waits().rbac_change, interval=1.0, retry_on=UNREACHABLE,
              what=f"kube-apiserver to let {REVOCATION_USER} list nodes after the binding")
        answer = _kubelet_lets_in(cluster, kubelet_client)
        allowed = [r for r in answer.asked_about(REVOCATION_USER) if r.allowed]
        _delete(cluster, BINDING)
        deleted_at = time.time()
        apiserver = _poll(lambda: api_client.get(APISERVER_PATH), deleted_at,
                          waits().rbac_change, 0.5,
                          f"kube-apiserver to refuse {REVOCATION_USER} after the binding went")
        kubelet = _poll(lambda: kubelet_client.get(KUBELET_PATH), deleted_at,
                        waits().kubelet_revocation, 2.0,
                        f"the kubelet to refuse {REVOCATION_USER} after the binding went")
    finally:
        _delete(cluster, BINDING)
        _delete(cluster, ROLE)
        api_client.close()
    found = Revocation(deleted_at, apiserver, kubelet, allowed[-1] if allowed else None,
                       None, [])
    if apiserver.refused is not None:
        found.refusal_record = cluster.audit.record_of(apiserver.refused)
    if found.allowed is not None:
        # A request audited after the kubelet's last answer: its reviews are written by then.
        cluster.audit.record_of(cluster.admin.get("/readyz"))
        start = epoch_of(found.allowed.time)
        later = [r for r in reviews_by(cluster.audit, cluster.kubelet.node_name, start,
                                       time.time())
                 if r.kind == "SubjectAccessReview" and r.user == REVOCATION_USER
                 and r.audit_id != found.allowed.audit_id]
        denied = [r for r in later if not r.allowed]
        found.denied = denied[0] if denied else None
        found.between = [r for r in later if r.allowed]
    return found
