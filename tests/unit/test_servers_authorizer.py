"""The webhook authorizer over real HTTPS: SubjectAccessReviews as kube-apiserver posts them,
answered from a policy, each answer logged; its policy file; its kubeconfig."""

from __future__ import annotations

import base64
import copy
import stat

import pytest
import requests
import yaml

from authprobe.errors import AuthprobeError
from authprobe.servers import pki
from authprobe.servers.authorizer import (
    Authorizer,
    webhook_kubeconfig,
    write_webhook_kubeconfig,
)
from authprobe.servers.policy import load_policy, parse_policy

POLICY = """
rules:
  - {user: "jwt:mallory", decision: deny, reason: mallory is locked out}
  - {group: "jwt:team-a", verb: [get, list], resource: pods, namespace: team-a,
     decision: allow, reason: team-a reads its pods}
  - {group: "jwt:team-a", resource: pods, subresource: exec, decision: deny,
     reason: no exec for team-a}
  - {path: "/metrics*", verb: get, decision: allow, reason: metrics are public here}
  - {apiGroup: apps, resource: deployments, decision: no-opinion, reason: RBAC decides apps}
default: no-opinion
"""

# A SubjectAccessReview as kube-apiserver 1.34 posts it to an authorization webhook
# (subjectAccessReviewVersion v1): metadata with a null creationTimestamp, status with
# allowed false, the JWT user's extra from its claim mappings.
V1_RESOURCE = {
    "kind": "SubjectAccessReview",
    "apiVersion": "authorization.k8s.io/v1",
    "metadata": {"creationTimestamp": None},
    "spec": {
        "resourceAttributes": {"namespace": "team-a", "verb": "get", "version": "v1",
                               "resource": "pods", "name": "web-0"},
        "user": "jwt:alice",
        "groups": ["jwt:team-a", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": ["JTI=8f2c"]},
        "uid": "alice-uid",
    },
    "status": {"allowed": False},
}
V1_NON_RESOURCE = {
    "kind": "SubjectAccessReview",
    "apiVersion": "authorization.k8s.io/v1",
    "metadata": {"creationTimestamp": None},
    "spec": {"nonResourceAttributes": {"path": "/metrics/slis", "verb": "get"},
             "user": "jwt:bob", "groups": ["system:authenticated"]},
    "status": {"allowed": False},
}
# subjectAccessReviewVersion v1beta1: the groups are the spec's "group".
V1BETA1_RESOURCE = {
    "kind": "SubjectAccessReview",
    "apiVersion": "authorization.k8s.io/v1beta1",
    "metadata": {"creationTimestamp": None},
    "spec": {"resourceAttributes": {"namespace": "team-a", "verb": "list", "version": "v1",
                                    "resource": "pods"},
             "user": "jwt:carol", "group": ["jwt:team-a", "system:authenticated"]},
    "status": {"allowed": False},
}


def review(base: dict, **spec) -> dict:
    body = copy.deepcopy(base)
    attributes = spec.pop("resourceAttributes", None)
    if attributes:
        body["spec"]["resourceAttributes"].update(attributes)
    body["spec"].update(spec)
    return body


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("webhook-pki")
    authority = pki.make_authority(directory, "authprobe-test-ca")
    return authority, pki.issue_serving(authority, directory, "webhook", ips=["127.0.0.1"])


@pytest.fixture
def webhook(certs):
    server = Authorizer(certs[1], "127.0.0.1", parse_policy(yaml.safe_load(POLICY)))
    with server:
        yield server


def post(webhook, certs, body) -> requests.Response:
    return requests.post(webhook.review_url, json=body, verify=str(certs[0].cert_path),
                         timeout=5)


@pytest.mark.parametrize(("body", "status"), [
    (V1_RESOURCE, {"allowed": True, "denied": False, "reason": "team-a reads its pods"}),
    (review(V1_RESOURCE, user="jwt:mallory"),
     {"allowed": False, "denied": True, "reason": "mallory is locked out"}),
    (review(V1_RESOURCE, resourceAttributes={"verb": "create", "subresource": "exec"}),
     {"allowed": False, "denied": True, "reason": "no exec for team-a"}),
    (review(V1_RESOURCE, resourceAttributes={"verb": "delete"}),
     {"allowed": False, "denied": False, "reason": "no rule matched: default no-opinion"}),
    (review(V1_RESOURCE, resourceAttributes={"namespace": "team-b"}),
     {"allowed": False, "denied": False, "reason": "no rule matched: default no-opinion"}),
    (review(V1_RESOURCE, resourceAttributes={"group": "apps", "resource": "deployments"},
            groups=["system:authenticated"]),
     {"allowed": False, "denied": False, "reason": "RBAC decides apps"}),
    (V1_NON_RESOURCE, {"allowed": True, "denied": False, "reason": "metrics are public here"}),
    (review(V1_NON_RESOURCE, nonResourceAttributes={"path": "/healthz", "verb": "get"}),
     {"allowed": False, "denied": False, "reason": "no rule matched: default no-opinion"}),
    (V1BETA1_RESOURCE, {"allowed": True, "denied": False, "reason": "team-a reads its pods"}),
], ids=["allow", "deny-user", "deny-subresource", "no-opinion-verb", "no-opinion-namespace",
        "no-opinion-rule", "allow-path-prefix", "no-opinion-path", "allow-v1beta1-group"])
def test_answers(webhook, certs, body, status):
    reply = post(webhook, certs, body)
    assert reply.status_code == 200
    answer = reply.json()
    assert answer == {"apiVersion": body["apiVersion"], "kind": "SubjectAccessReview",
                      "status": status}


def test_every_review_is_logged_with_subject_attributes_and_decision(webhook, certs):
    post(webhook, certs, V1_RESOURCE)
    post(webhook, certs, review(V1_RESOURCE, user="jwt:mallory"))
    post(webhook, certs, V1_NON_RESOURCE)
    records = webhook.log.records()
    assert [(r["path"], r["status"], r["decision"], r["rule"]) for r in records] == [
        ("/authorize", 200, "allow", 1), ("/authorize", 200, "deny", 0),
        ("/authorize", 200, "allow", 3)]
    first = records[0]
    assert first["subject"] == {"user": "jwt:alice", "groups": ["jwt:team-a",
                                                                "system:authenticated"],
                                "uid": "alice-uid", "extra": V1_RESOURCE["spec"]["extra"]}
    assert first["resourceAttributes"] == V1_RESOURCE["spec"]["resourceAttributes"]
    assert first["reason"] == "team-a reads its pods"
    assert first["apiVersion"] == "authorization.k8s.io/v1"
    assert first["client"].startswith("127.0.0.1:") and first["time"].endswith("Z")
    assert records[2]["nonResourceAttributes"] == {"path": "/metrics/slis", "verb": "get"}


def test_no_bearer_token_reaches_the_log(webhook, certs):
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    requests.post(webhook.review_url, json=V1_RESOURCE, verify=str(certs[0].cert_path),
                  headers={"Authorization": f"Bearer {token}"}, timeout=5)
    records = webhook.log.records()
    assert len(records) == 1
    assert token not in repr(records) and token not in str(records)


@pytest.mark.parametrize(("body", "error"), [
    ({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1"},
     "body is not a SubjectAccessReview"),
    ({**V1_RESOURCE, "apiVersion": "authorization.k8s.io/v2"},
     "apiVersion 'authorization.k8s.io/v2' is not one of"),
    (review(V1_RESOURCE, nonResourceAttributes={"path": "/", "verb": "get"}),
     "exactly one of resourceAttributes and nonResourceAttributes"),
])
def test_malformed_reviews_are_400_and_logged(webhook, certs, body, error):
    reply = post(webhook, certs, body)
    assert reply.status_code == 400
    assert error in reply.json()["error"]
    assert error in webhook.log.records()[-1]["error"]


def test_other_paths_and_methods(webhook, certs):
    verify = str(certs[0].cert_path)
    assert requests.get(webhook.review_url, verify=verify, timeout=5).status_code == 405
    assert requests.post(webhook.url + "/", json=V1_RESOURCE, verify=verify,
                         timeout=5).status_code == 404


def test_stopped_webhook_refuses_and_frees_its_port(certs):
    server = Authorizer(certs[1], "127.0.0.1", parse_policy({"rules": []}))
    server.start()
    port = server.port
    assert post(server, certs, V1_RESOURCE).json()["status"]["denied"] is False
    server.stop()
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"https://127.0.0.1:{port}/authorize", json=V1_RESOURCE,
                      verify=str(certs[0].cert_path), timeout=5)
    with Authorizer(certs[1], "127.0.0.1", parse_policy({"rules": []}), port) as again:
        assert again.port == port


@pytest.mark.parametrize(("text", "line"), [
    ("rules:\n  - {usr: alice, decision: allow, reason: r}\n",
     "rules[0]: unknown keys ['usr']; a rule matches on user, group, verb"),
    ("rules:\n  - {user: alice, decision: permit, reason: r}\n",
     "rules[0]: unknown decision 'permit'; write one of allow, deny, no-opinion"),
    ("rules:\n  - {user: alice, decision: allow}\n", "rules[0]: needs a 'reason'"),
    ("rules:\n  - {path: /x, resource: pods, decision: allow, reason: r}\n",
     "rules[0]: 'path' matches non-resource requests only"),
    ("rules:\n  - {user: [], decision: allow, reason: r}\n",
     "rules[0].user: must be a string or a non-empty list"),
    ("rules: []\ndefault: allow-all\n", "default: unknown decision 'allow-all'"),
    ("rule: []\n", "policy: unknown keys ['rule']"),
    ("rules: [\n", "not valid YAML at line"),
])
def test_malformed_policy_file_is_one_line(tmp_path, text, line):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(AuthprobeError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert line in message and "\n" not in message
    assert message.startswith(str(path))


def test_policy_file_loads(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    policy = load_policy(path)
    assert [rule.decision for rule in policy.rules] == [
        "deny", "allow", "deny", "allow", "no-opinion"]
    assert policy.rules[1].match == {"group": ("jwt:team-a",), "verb": ("get", "list"),
                                     "resource": ("pods",), "namespace": ("team-a",)}


def test_kubeconfig_points_at_the_webhook_through_the_cluster_ca(certs, tmp_path):
    authority = certs[0]
    path = write_webhook_kubeconfig(tmp_path / "webhook.kubeconfig",
                                    "https://172.18.0.1:40123/authorize", authority.cert_pem)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config == webhook_kubeconfig("https://172.18.0.1:40123/authorize",
                                        authority.cert_pem)
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://172.18.0.1:40123/authorize"
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == \
        authority.cert_pem
    context = config["contexts"][0]["context"]
    assert config["current-context"] == config["contexts"][0]["name"]
    assert context["cluster"] == config["clusters"][0]["name"]
    assert context["user"] == config["users"][0]["name"]
