"""The access table as data: parsing and its checks before any cluster starts (one line per
mistake, naming the entry), the SubjectAccessReview and the real request of each entry, and
the verdicts the two checks give."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness.render import TOKEN_USERS
from authprobe.model import access
from authprobe.model.access import (
    HARNESS_USERS,
    PLACEHOLDER_NAME,
    REVOCATION_USER,
    Checked,
    Identity,
    load_table,
    parse_table,
    request_for,
    review_body,
    summary,
    verdict_of_review,
    verdict_of_status,
)
from authprobe.model.versions import KubeVersion

V = KubeVersion.parse
SOURCE = Path("team/access.yaml")
SUBJECTS = {
    "alice": {"user": "alice", "groups": ["team-a-devs"]},
    "devs": {"group": "team-a-devs"},
    "builder": {"serviceAccount": "team-a/builder"},
}


def table(*entries: dict, subjects: dict | None = None):
    return parse_table({"subjects": subjects or SUBJECTS, "entries": list(entries)}, SOURCE)


def entry(**fields):
    return table({"subject": "alice", "expect": "allowed", **fields}).entries[0]


def test_the_harness_users_are_the_clusters_own_token_users():
    assert set(HARNESS_USERS) == set(TOKEN_USERS)


def test_each_subject_is_whom_kube_apiserver_takes_its_token_for():
    found = {s.key: s.identity for s in table(
        {"subject": "alice", "verb": "get", "path": "/version", "expect": "allowed"}).subjects}
    assert found["alice"] == Identity("alice", ("team-a-devs", "system:authenticated"))
    assert found["devs"] == Identity("authprobe-member-of-team-a-devs",
                                     ("team-a-devs", "system:authenticated"))
    assert found["builder"] == Identity(
        "system:serviceaccount:team-a:builder",
        ("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"))


def test_token_users_audited_users_and_service_accounts():
    parsed = table({"subject": "builder", "verb": "get", "path": "/version", "expect": "allowed"})
    assert parsed.token_users() == {"alice": ("team-a-devs",),
                                    "authprobe-member-of-team-a-devs": ("team-a-devs",),
                                    REVOCATION_USER: ()}
    assert parsed.audited_users() == sorted([
        "alice", "authprobe-member-of-team-a-devs", REVOCATION_USER,
        "system:serviceaccount:team-a:builder"])
    assert [s.key for s in parsed.service_accounts()] == ["builder"]


@pytest.mark.parametrize(("fields", "label"), [
    ({"verb": "get", "resource": "pods", "namespace": "team-a", "name": "web"},
     "alice get pods web in team-a"),
    ({"verb": "create", "apiGroup": "apps", "resource": "deployments/scale", "name": "web",
      "namespace": "team-a"}, "alice create deployments.apps/scale web in team-a"),
    ({"verb": "list", "resource": "nodes"}, "alice list nodes"),
    ({"verb": "get", "path": "/metrics"}, "alice get /metrics"),
])
def test_an_entry_reads_as_one_line(fields, label):
    assert entry(**fields).label == label


def bad(text: str) -> str:
    with pytest.raises(AuthprobeError) as caught:
        parse_table(yaml.safe_load(text), SOURCE)
    line = caught.value.one_line()
    assert "\n" not in line and line.startswith(f"access table {SOURCE}: ")
    return line.removeprefix(f"access table {SOURCE}: ")


ALICE = "subjects: {alice: {user: alice}}\nentries:\n"


@pytest.mark.parametrize(("entries", "complaint"), [
    ("- {subject: alice, verb: get, resource: pods/exce, namespace: a, expect: allowed}",
     "entry 1 (alice get pods/exce in a): kube-apiserver serves no resource pods/exce in the "
     "core API group on any minor authprobe supports (api-resources.yaml): did you mean "
     "pods/exec? correct the entry's apiGroup and resource, or remove the entry"),
    ("- {subject: alice, verb: list, resource: deployments, namespace: a, expect: allowed}",
     "entry 1 (alice list deployments in a): kube-apiserver serves no resource deployments in "
     "the core API group on any minor authprobe supports (api-resources.yaml); it does in API "
     "group apps: give apiGroup: apps"),
    ("- {subject: alice, verb: get, resource: nodes/metrics, expect: allowed}",
     "entry 1 (alice get nodes/metrics): nodes/metrics is a subresource the kubelet serves on "
     "its own port (and asks kube-apiserver about), not one kube-apiserver serves: the access "
     "table checks requests to kube-apiserver: remove the entry"),
    ("- {subject: bob, verb: get, path: /version, expect: allowed}",
     "entry 1: subject 'bob' is not among the table's subjects (alice): add it under subjects"),
    ("- {subject: alice, verb: escalate, resource: clusterroles, apiGroup: "
     "rbac.authorization.k8s.io, expect: allowed}", "verb 'escalate': the access table checks"),
    ("- {subject: alice, verb: get, resource: nodes, namespace: a, name: n, expect: allowed}",
     "nodes in the core API group is not namespaced: leave namespace out"),
    ("- {subject: alice, verb: get, resource: pods, name: web, expect: allowed}",
     "pods is namespaced and a get of it addresses one object: give the namespace"),
    ("- {subject: alice, verb: create, resource: configmaps, expect: allowed}",
     "configmaps is namespaced and a create of it makes one: give the namespace"),
    ("- {subject: alice, verb: list, resource: pods, name: web, expect: allowed}",
     "a list names no object: leave name out"),
    ("- {subject: alice, verb: create, resource: pods, namespace: a, name: web, "
     "expect: allowed}", "a create names no object"),
    ("- {subject: alice, verb: get, resource: namespaces, namespace: a, name: b, "
     "expect: allowed}", "a namespace's namespace is itself: leave namespace out"),
    ("- {subject: alice, verb: get, path: /version, expect: maybe}",
     "entry 1: expect since 1.0: give value: allowed or denied"),
    ("- {subject: alice, verb: get, path: /version}", "entry 1: needs expect"),
    ("- {subject: alice, verb: get, path: /version, resource: pods, expect: denied}",
     "give either resource (with apiGroup, namespace, name) or a non-resource path"),
    ("- {subject: alice, verb: post, path: /version, expect: denied}",
     "verb 'post': a non-resource path is checked with get"),
    ("- {subject: alice, verb: get, path: version, expect: denied}", "must start with /"),
    ("- {subject: alice, verb: get, path: /version, namespace: a, expect: denied}",
     "a non-resource path has no apiGroup, namespace or name"),
    ("- {subject: alice, verb: get, path: /version, expect: allowed, why: x}",
     "entry 1: unknown key(s) why"),
    ("- {subject: alice, verb: get, path: /version, expect: allowed}\n"
     "- {subject: alice, verb: get, path: /version, expect: denied}",
     "entry 2 (alice get /version): repeats entry 1: give each check once"),
    ("- {subject: alice, verb: get, path: /version, expect: [{since: '1.34', value: allowed},"
     " {since: '1.19', value: denied}]}", "rows must be in increasing 'since' order"),
])
def test_a_bad_entry_is_one_line_naming_it(entries, complaint):
    assert complaint in bad(ALICE + entries)


@pytest.mark.parametrize(("subjects", "complaint"), [
    ("{admin: {user: admin}}", "user admin is one of authprobe's own"),
    ("{x: {user: authprobe-member-of-sre}}", "is one of authprobe's own"),
    ("{x: {user: 'a,b'}}", "without spaces, commas or quotes"),
    ("{x: {user: a, groups: ['g 1']}}", "without spaces, commas or quotes"),
    ("{x: {group: g, groups: [h]}}", "only a user has groups"),
    ("{x: {user: a, group: g}}", "give exactly one of user (with groups), group or "
                                 "serviceAccount"),
    ("{x: {serviceAccount: builder}}", "serviceAccount 'builder' must be NAMESPACE/NAME"),
    ("{x: {user: 'system:serviceaccount:a:b'}}", "given as serviceAccount: NAMESPACE/NAME"),
    ("{x: {group: 'system:unauthenticated'}}", "a token's holder is never in it"),
    ("{x: {user: a}, y: {user: a}}", "subject y: is the same as subject x"),
])
def test_a_bad_subject_is_one_line_naming_it(subjects, complaint):
    line = bad(f"subjects: {subjects}\nentries:\n- {{subject: x, verb: get, path: /v, "
               "expect: allowed}")
    assert complaint in line


def test_a_missing_or_broken_file_is_one_line(tmp_path):
    with pytest.raises(AuthprobeError, match=r"cannot be read"):
        load_table(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("subjects: [\n")
    with pytest.raises(AuthprobeError, match=r"is not valid YAML at line 2"):
        load_table(broken)
    with pytest.raises(AuthprobeError, match=r"top level: must be a mapping of subjects"):
        parse_table(["x"], SOURCE)


# -- the review and the request -----------------------------------------------------------


def test_the_review_asks_about_the_identity_and_what_the_request_does():
    body = review_body(entry(verb="create", resource="pods/exec", namespace="team-a"))
    assert body == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "groups": ["team-a-devs", "system:authenticated"],
                 "resourceAttributes": {"resource": "pods", "subresource": "exec",
                                        "namespace": "team-a", "name": PLACEHOLDER_NAME,
                                        "verb": "create"}}}
    grouped = table({"subject": "devs", "verb": "list", "apiGroup": "apps",
                     "resource": "deployments", "expect": "denied"}).entries[0]
    assert review_body(grouped)["spec"] == {
        "user": "authprobe-member-of-team-a-devs",
        "groups": ["team-a-devs", "system:authenticated"],
        "resourceAttributes": {"group": "apps", "resource": "deployments", "verb": "list"}}


def test_a_namespace_is_authorized_in_itself():
    found = entry(verb="get", resource="namespaces", name="team-b")
    assert review_body(found)["spec"]["resourceAttributes"] == {
        "resource": "namespaces", "namespace": "team-b", "name": "team-b", "verb": "get"}
    assert request_for(found, "v1").path == "/api/v1/namespaces/team-b"


def test_a_non_resource_review_and_request():
    found = entry(verb="get", path="/metrics")
    assert review_body(found)["spec"]["nonResourceAttributes"] == {"path": "/metrics",
                                                                   "verb": "get"}
    assert request_for(found, None) == access.Request("GET", "/metrics")


@pytest.mark.parametrize(("fields", "version", "wanted"), [
    ({"verb": "get", "resource": "pods", "namespace": "a", "name": "web"}, "v1",
     access.Request("GET", "/api/v1/namespaces/a/pods/web")),
    ({"verb": "get", "resource": "secrets", "namespace": "a"}, "v1",
     access.Request("GET", f"/api/v1/namespaces/a/secrets/{PLACEHOLDER_NAME}")),
    ({"verb": "list", "resource": "pods"}, "v1", access.Request("GET", "/api/v1/pods")),
    ({"verb": "watch", "resource": "nodes"}, "v1",
     access.Request("GET", "/api/v1/nodes", (("watch", "true"), ("timeoutSeconds", "1")),
                    stream=True)),
    ({"verb": "create", "apiGroup": "apps", "resource": "deployments", "namespace": "a"},
     "v1", access.Request("POST", "/apis/apps/v1/namespaces/a/deployments",
                          (("dryRun", "All"),), "{}", "application/json")),
    ({"verb": "patch", "apiGroup": "apps", "resource": "deployments/scale", "namespace": "a",
      "name": "web"}, "v1",
     access.Request("PATCH", "/apis/apps/v1/namespaces/a/deployments/web/scale",
                    (("dryRun", "All"),), "{}", "application/merge-patch+json")),
    ({"verb": "update", "resource": "configmaps", "namespace": "a", "name": "c"}, "v1",
     access.Request("PUT", "/api/v1/namespaces/a/configmaps/c", (("dryRun", "All"),), "{}",
                    "application/json")),
    ({"verb": "delete", "resource": "namespaces", "name": "a"}, "v1",
     access.Request("DELETE", "/api/v1/namespaces/a", (("dryRun", "All"),))),
    ({"verb": "get", "resource": "nodes/proxy"}, "v1",
     access.Request("GET", f"/api/v1/nodes/{PLACEHOLDER_NAME}/proxy")),
    ({"verb": "list", "apiGroup": "resource.k8s.io", "resource": "resourceclaims",
      "namespace": "a"}, None,
     access.Request("GET", "/apis/resource.k8s.io/v1/namespaces/a/resourceclaims")),
    ({"verb": "list", "apiGroup": "resource.k8s.io", "resource": "resourceclaims",
      "namespace": "a"}, "v1beta2",
     access.Request("GET", "/apis/resource.k8s.io/v1beta2/namespaces/a/resourceclaims")),
])
def test_the_real_request_of_an_entry(fields, version, wanted):
    assert request_for(entry(**fields), version) == wanted


def test_a_request_reads_as_its_method_path_and_query():
    found = request_for(entry(verb="watch", resource="nodes"), "v1")
    assert found.reads() == "GET /api/v1/nodes?watch=true&timeoutSeconds=1"


# -- verdicts --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "verdict"), [
    (200, "allowed"), (201, "allowed"), (404, "allowed"), (400, "allowed"), (422, "allowed"),
    (500, "allowed"), (403, "denied"), (401, "unauthenticated")])
def test_a_status_is_a_verdict(status, verdict):
    assert verdict_of_status(status) == verdict


def test_a_review_is_allowed_only_when_it_says_so():
    assert verdict_of_review({"allowed": True}) == "allowed"
    assert verdict_of_review({"allowed": False, "denied": True}) == "denied"
    assert verdict_of_review({}) == "denied"  # no opinion: RBAC allows nothing


def checked(found, review, request, status, seen=None, expected="allowed", served=True):
    identity = found.subject.identity
    return Checked(found, expected, review, request, status,
                   seen if seen is not None else identity, served)


def test_agreeing_checks_against_the_table():
    found = entry(verb="get", path="/version")
    agree = checked(found, "allowed", "allowed", 200)
    assert agree.disagreement() is None and not agree.mismatched
    against = checked(found, "denied", "denied", 403)
    assert against.disagreement() is None and against.mismatched


def test_a_disagreement_is_its_own_failure_not_a_mismatch():
    found = entry(verb="create", resource="pods/exec", namespace="a", name="web")
    split = checked(found, "allowed", "denied", 403)
    assert split.disagreement() == "the review says allowed, the request got 403 (denied)"
    assert not split.mismatched
    refused = checked(found, "allowed", "unauthenticated", 401)
    assert "the request got 401 (unauthenticated)" in refused.disagreement()


def test_a_request_taken_for_someone_else_is_a_disagreement():
    found = entry(verb="get", path="/version")
    other = checked(found, "allowed", "allowed", 200, seen=Identity(
        "alice", ("system:authenticated",)))
    assert other.disagreement() == (
        "kube-apiserver took the request for alice (groups system:authenticated), the review "
        "asked about alice (groups team-a-devs, system:authenticated)")
    reordered = checked(found, "allowed", "allowed", 200, seen=Identity(
        "alice", ("system:authenticated", "team-a-devs")))
    assert reordered.disagreement() is None


def test_the_summary_sorts_each_list_and_the_evidence_names_the_entry():
    parsed = table(
        {"subject": "alice", "verb": "get", "path": "/version", "expect": "allowed"},
        {"subject": "alice", "verb": "get", "path": "/metrics", "expect": "allowed"},
        {"subject": "alice", "verb": "list", "apiGroup": "resource.k8s.io",
         "resource": "resourceclaims", "namespace": "a", "expect": "denied"},
        {"subject": "alice", "verb": "get", "path": "/apis", "expect": "allowed"})
    version, metrics, claims, apis = parsed.entries
    checks = [checked(version, "allowed", "allowed", 200),
              checked(metrics, "denied", "denied", 403),
              checked(claims, "denied", "denied", 403, expected="denied", served=False),
              checked(apis, "allowed", "denied", 403)]
    assert summary(checks) == {
        "access_mismatched": ["alice get /metrics"],
        "access_disagreed": ["alice get /apis"],
        "access_unserved": ["alice list resourceclaims.resource.k8s.io in a"]}
    evidence = checks[3].to_dict()
    assert evidence["entry"] == "alice get /apis"
    assert evidence["disagreement"].startswith("the review says allowed")
    assert evidence["seen"] == "alice (groups team-a-devs, system:authenticated)"


def test_an_entry_that_starts_later_has_no_decision_before():
    found = table({"subject": "alice", "verb": "get", "path": "/version",
                   "expect": [{"since": "1.30", "value": "allowed"}]}).entries[0]
    assert found.expected_at(V("1.19.16")) is None
    assert found.expected_at(V("1.34.12")) == "allowed"


def test_parsing_leaves_the_data_as_it_was():
    data = {"subjects": copy.deepcopy(SUBJECTS), "entries": [
        {"subject": "alice", "verb": "get", "path": "/version", "expect": "allowed"}]}
    before = copy.deepcopy(data)
    parse_table(data, SOURCE)
    assert data == before
