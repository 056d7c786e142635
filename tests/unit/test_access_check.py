"""The resources kube-apiserver serves (the shipped list and a cluster's discovery), and an
access table checked against stand-ins of a cluster: what is asked, sent and recorded for
each entry. The live checks are the scenarios of scenarios/test_access.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from authprobe.errors import AuthprobeError
from authprobe.harness import access_check, rbac, revocation
from authprobe.harness.audit import AuditRecord
from authprobe.harness.kubelet import Review
from authprobe.model import apiresources
from authprobe.model.access import parse_table
from authprobe.model.apiresources import from_discovery, parse, shipped
from authprobe.model.versions import KubeVersion

V = KubeVersion.parse


def test_the_shipped_list_knows_what_every_minor_serves_and_its_scope():
    known = shipped()
    assert known.is_namespaced("", "pods") and known.is_namespaced("", "pods/exec")
    assert not known.is_namespaced("", "nodes") and not known.is_namespaced("", "nodes/proxy")
    assert known.is_namespaced("apps", "deployments/scale")
    assert not known.is_namespaced("authentication.k8s.io", "selfsubjectreviews")
    assert known.knows("resource.k8s.io", "resourceclaims")
    assert not known.knows("", "deployments") and not known.knows("", "nodes/metrics")
    assert set(known.kubelet["nodes"]) >= {"metrics", "stats", "log"}


@pytest.mark.parametrize(("data", "complaint"), [
    ({}, "the top level must map 'groups'"),
    ({"groups": {"": {"namespaced": ["pods"], "everywhere": []}}}, "must map namespaced"),
    ({"groups": {"": {"namespaced": "pods"}}}, "must be a list of resource names"),
    ({"groups": {"": {"namespaced": ["pods"], "cluster": ["pods"]}}}, "pods is listed twice"),
    ({"groups": {}, "kubelet": ["metrics"]}, "kubelet must map a resource"),
])
def test_a_malformed_list_is_one_line(data, complaint):
    with pytest.raises(AuthprobeError, match=complaint):
        parse(data, "list.yaml")


def test_the_shipped_file_is_the_list_it_parses():
    data = yaml.safe_load(apiresources.resources_file().read_text())
    assert parse(data, "x").namespaced == shipped().namespaced


CORE = {"resources": [{"name": "pods", "namespaced": True},
                      {"name": "pods/exec", "namespaced": True},
                      {"name": "nodes", "namespaced": False}]}
GROUPS = {"groups": [
    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
    {"name": "flowcontrol.apiserver.k8s.io",
     "versions": [{"groupVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "version": "v1beta3"},
                  {"groupVersion": "flowcontrol.apiserver.k8s.io/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "flowcontrol.apiserver.k8s.io/v1", "version": "v1"}}]}
VERSIONS = {
    "apps/v1": {"resources": [{"name": "deployments", "namespaced": True}]},
    "flowcontrol.apiserver.k8s.io/v1beta3": {"resources": [
        {"name": "flowschemas", "namespaced": False},
        {"name": "prioritylevelconfigurations", "namespaced": False}]},
    "flowcontrol.apiserver.k8s.io/v1": {"resources": [
        {"name": "flowschemas", "namespaced": False}]},
}


def test_discovery_gives_each_resource_its_groups_preferred_version_where_it_serves_it():
    found = from_discovery(CORE, GROUPS, VERSIONS)
    assert found.version("", "pods/exec") == "v1"
    assert found.version("apps", "deployments") == "v1"
    assert found.version("flowcontrol.apiserver.k8s.io", "flowschemas") == "v1"
    assert found.version("flowcontrol.apiserver.k8s.io",
                         "prioritylevelconfigurations") == "v1beta3"
    assert found.version("resource.k8s.io", "resourceclaims") is None
    assert found.is_namespaced("", "pods") and not found.is_namespaced("", "nodes")


# -- an access table against stand-ins of a cluster ------------------------------------------


@dataclass
class Answer:
    status_code: int
    audit_id: str
    body: dict = field(default_factory=dict)
    closed: bool = False

    @property
    def headers(self):
        return {"Audit-Id": self.audit_id}

    def __bool__(self):  # as requests.Response: an answer of 400 or more is false
        return self.status_code < 400

    def json(self):
        return self.body

    def close(self):
        self.closed = True


class Client:
    """An HTTP client of the stand-in: discovery answers, and each request's status by the
    user whose token it holds."""

    def __init__(self, cluster, user):
        self.cluster, self.user = cluster, user

    def get(self, path):
        body = {"/api/v1": CORE, "/apis": GROUPS}.get(path) or VERSIONS.get(
            path.removeprefix("/apis/"))
        return Answer(200, "discovery", body)

    def request(self, method, path, **kwargs):
        self.cluster.sent.append((self.user, method, path, kwargs))
        answer = Answer(self.cluster.statuses[self.user], f"id-{len(self.cluster.sent)}")
        self.cluster.answers.append(answer)
        return answer

    def close(self):
        pass


class Node:
    def __init__(self, cluster):
        self.cluster = cluster

    def kubectl(self, *argv, input=None, **kwargs):
        review = json.loads(input)
        self.cluster.reviews.append(review)
        allowed = self.cluster.reviewed[review["spec"]["user"]]
        return SimpleNamespace(stdout=json.dumps({**review, "status": {"allowed": allowed}}))


class Audit:
    def __init__(self, cluster):
        self.cluster = cluster

    def record_of(self, response):
        user, groups = self.cluster.seen[response.audit_id]
        return AuditRecord(response.audit_id, "get", "/", user, list(groups),
                           response.status_code, "allow")


class Cluster:
    def __init__(self, version, statuses, reviewed, seen=None):
        self.version = V(version)
        self.statuses, self.reviewed = statuses, reviewed
        self.sent, self.answers, self.reviews = [], [], []
        self.node, self.audit = Node(self), Audit(self)
        self.admin = Client(self, "admin")
        self._seen = seen or {}

    @property
    def seen(self):
        return {f"id-{n}": self._seen.get(user, (user, GROUPS_OF[user]))
                for n, (user, *_rest) in enumerate(self.sent, 1)}

    def as_user(self, user):
        return Client(self, user)


GROUPS_OF = {"alice": ("team-a-devs", "system:authenticated"),
             "system:serviceaccount:team-a:builder": (
                 "system:serviceaccounts", "system:serviceaccounts:team-a",
                 "system:authenticated")}
TABLE = parse_table({
    "subjects": {"alice": {"user": "alice", "groups": ["team-a-devs"]},
                 "builder": {"serviceAccount": "team-a/builder"}},
    "entries": [
        {"subject": "alice", "verb": "create", "apiGroup": "apps", "resource": "deployments",
         "namespace": "team-a", "expect": "allowed"},
        {"subject": "builder", "verb": "watch", "resource": "pods", "namespace": "team-a",
         "expect": "denied"},
        {"subject": "alice", "verb": "list", "apiGroup": "resource.k8s.io",
         "resource": "resourceclaims", "namespace": "team-a", "expect": "denied"},
        {"subject": "alice", "verb": "get", "path": "/version",
         "expect": [{"since": "1.30", "value": "allowed"}]},
    ]}, Path("access.yaml"))


def test_each_entry_is_reviewed_sent_with_its_subjects_token_and_audited():
    cluster = Cluster("1.34.12", {"alice": 422, "system:serviceaccount:team-a:builder": 403},
                      {"alice": True, "system:serviceaccount:team-a:builder": False})
    checks, later = access_check.check_table(cluster, TABLE)
    assert later == []
    assert [r["spec"]["user"] for r in cluster.reviews] == [
        "alice", "system:serviceaccount:team-a:builder", "alice", "alice"]
    assert [(user, method, path) for user, method, path, _ in cluster.sent] == [
        ("alice", "POST", "/apis/apps/v1/namespaces/team-a/deployments"),
        ("system:serviceaccount:team-a:builder", "GET", "/api/v1/namespaces/team-a/pods"),
        ("alice", "GET", "/apis/resource.k8s.io/v1/namespaces/team-a/resourceclaims"),
        ("alice", "GET", "/version")]
    create = cluster.sent[0][3]
    assert create["params"] == [("dryRun", "All")] and create["data"] == "{}"
    assert cluster.sent[1][3]["stream"] is True and all(a.closed for a in cluster.answers)
    assert [c.served for c in checks] == [True, True, False, True]
    deployments, pods, claims, version = checks
    assert (deployments.review, deployments.request, deployments.status) == (
        "allowed", "allowed", 422)
    assert pods.disagreement() is None and not pods.mismatched
    # kube-apiserver allowed alice's list of resourceclaims (RBAC said so): against the table
    assert claims.mismatched
    assert version.disagreement() is None and version.sent == "GET /version"


def test_an_entry_of_a_later_minor_is_left_out_and_the_wrong_identity_disagrees():
    cluster = Cluster("1.19.16", {"alice": 200, "system:serviceaccount:team-a:builder": 403},
                      {"alice": True, "system:serviceaccount:team-a:builder": False},
                      seen={"alice": ("alice", ("system:authenticated",))})
    checks, later = access_check.check_table(cluster, TABLE)
    assert later == ["alice get /version"]
    assert checks[0].disagreement().startswith(
        "kube-apiserver took the request for alice (groups system:authenticated)")


# -- the revocation's record -----------------------------------------------------------------


def review(when: str, allowed: bool, audit_id: str) -> Review:
    return Review("SubjectAccessReview", audit_id, when, 201, user="authprobe-revocation",
                  allowed=allowed, subresource="metrics")


def test_the_kubelet_held_its_answer_from_its_allowed_review_to_its_denied_one():
    found = revocation.Revocation(
        0.0, revocation.Door(), revocation.Door(),
        review("2025-01-01T10:00:00.100000Z", True, "a"),
        review("2025-01-01T10:05:01.350000Z", False, "b"), [])
    assert found.allow_held == 301.2
    assert found.evidence()["kubelet_denied_review"]["audit_id"] == "b"
    assert revocation.Revocation(0.0, revocation.Door(), revocation.Door(), None, None,
                                 []).allow_held is None


def test_a_door_is_asked_until_it_refuses():
    answers = iter([200, 200, 403])
    door = revocation._poll(lambda: SimpleNamespace(status_code=next(answers)),
                            deleted_at=0.0, timeout=5, interval=0.01, what="a door")
    assert door.statuses == {200: 2, 403: 1} and door.refused.status_code == 403
    assert door.refused_after > 0


def test_a_door_that_never_refuses_gives_no_time():
    door = revocation._poll(lambda: SimpleNamespace(status_code=200), deleted_at=0.0,
                            timeout=0.05, interval=0.01, what="a door")
    assert door.refused_after is None and door.refused is None and door.statuses[200] >= 1


def test_the_revocation_role_lets_its_user_reach_both_doors_only():
    assert revocation.ROLE.document["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]
    assert revocation.BINDING.document["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
         "name": revocation.REVOCATION_USER}]
    assert revocation.BINDING.document["roleRef"]["name"] == revocation.ROLE.name



# -- applying the folder ---------------------------------------------------------------------


class ApplyingNode:
    """kubectl in a stand-in node: the objects it holds, and what it was asked."""

    def __init__(self, held: dict, refuse: str | None = None):
        self.held, self.refuse, self.asked = held, refuse, []

    def kubectl(self, *argv, input=None, check=True, **kwargs):
        self.asked.append(argv)
        if argv[0] == "get":
            found = self.held.get((argv[1], argv[2]))
            return SimpleNamespace(stdout=json.dumps(found) if found else "", returncode=0)
        if self.refuse:
            return SimpleNamespace(stdout="", stderr=f"error: {self.refuse}\n", returncode=1)
        doc = json.loads(input)
        self.held[(argv[0], doc["metadata"]["name"])] = doc
        return SimpleNamespace(stdout="", stderr="", returncode=0)


def test_an_object_is_created_or_replaced_whole_and_a_refusal_is_one_line():
    node = ApplyingNode({("clusterroles.rbac.authorization.k8s.io", "authprobe-revocation"):
                         {"metadata": {"name": "authprobe-revocation"}}})
    assert rbac.put_object(node, revocation.ROLE) == "replaced"
    assert rbac.put_object(node, revocation.BINDING) == "created"
    assert [a[0] for a in node.asked] == ["get", "replace", "get", "create"]
    assert node.asked[2][:3] == ("get", "clusterrolebindings.rbac.authorization.k8s.io",
                                 "authprobe-revocation")
    refused = ApplyingNode({}, refuse='roles.rbac.authorization.k8s.io "r" is forbidden')
    with pytest.raises(AuthprobeError) as caught:
        rbac.put_object(refused, revocation.ROLE)
    assert caught.value.one_line() == (
        "the revocation scenario (ClusterRole authprobe-revocation): kube-apiserver refused "
        'it: error: roles.rbac.authorization.k8s.io "r" is forbidden')


def test_a_service_account_the_cluster_lacks_is_one_line_naming_what_to_add(monkeypatch):
    class Core:
        def __init__(self, api):
            pass

        def create_namespaced_service_account_token(self, name, namespace, body):
            raise ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(rbac.kubernetes.client, "CoreV1Api", Core)
    subject = TABLE.service_accounts()[0]
    with pytest.raises(AuthprobeError, match=r"service account team-a/builder does not exist "
                                             r"in the cluster: add it to the profile's RBAC "
                                             r"folder"):
        rbac.service_account_token(object(), subject)
