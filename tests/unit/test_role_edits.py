"""The edits of two default roles across an upgrade: what each takes out, the roles
kube-apiserver's log of its start says it did not reconcile, and the two steps against a
node that answers kubectl and crictl from memory, reconciled between them as kube-apiserver
does at its start."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from authprobe.errors import AuthprobeError
from authprobe.harness import role_edits
from authprobe.model import rbacrules

# kube-apiserver's own warning (storage_rbac.go) as klog writes it, among other lines
LOG = [
    "I1207 05:01:02.000001       1 storage_rbac.go:226] created clusterrole.rbac."
    "authorization.k8s.io/system:monitoring",
    "W1207 05:01:02.123456       1 storage_rbac.go:187] skipped reconcile-protected "
    "clusterrole.rbac.authorization.k8s.io/system:basic-user with missing permissions: "
    "[{[create] [authorization.k8s.io] [selfsubjectrulesreviews] [] []}]",
    "W1207 05:01:09.000000       1 storage_rbac.go:187] skipped reconcile-protected "
    "clusterrole.rbac.authorization.k8s.io/system:basic-user with missing permissions: "
    "[{[create] [authorization.k8s.io] [selfsubjectrulesreviews] [] []}]",
]


def test_the_roles_the_log_says_it_skipped():
    assert role_edits.protected_roles(LOG) == ["system:basic-user"]
    assert role_edits.protected_roles(LOG[:1]) == []


def test_each_edit_takes_out_one_permission_of_a_role_that_grants_it():
    basic_user = [{"apiGroups": ["authorization.k8s.io"],
                   "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                   "verbs": ["create"]}]
    viewer = [{"nonResourceURLs": ["/healthz", "/version", "/version/"], "verbs": ["get"]}]
    served = {"system:basic-user": basic_user, "system:public-info-viewer": viewer}
    assert [e.lines for e in role_edits.EDITS] == [
        ["[system:basic-user] authorization.k8s.io: selfsubjectrulesreviews (create)"],
        ["[system:public-info-viewer] url /version/ (get)"]]
    for edit in role_edits.EDITS:
        left = rbacrules.role_lines(edit.role, rbacrules.without(served[edit.role], edit.rule))
        assert set(rbacrules.role_lines(edit.role, served[edit.role])) - set(left) == set(
            edit.lines)
    assert [e.autoupdate for e in role_edits.EDITS] == [False, True]


class Node:
    """A node whose kubectl reads and replaces ClusterRoles in memory, and whose crictl
    prints kube-apiserver's log."""

    def __init__(self, roles: dict[str, dict], log: list[str]) -> None:
        self.roles, self.log = roles, log

    def kubectl(self, *argv: str, input: str | None = None, timeout=None):
        if argv[:2] == ("get", "clusterrole"):
            return SimpleNamespace(stdout=json.dumps(self.roles[argv[2]]), returncode=0)
        assert argv[:3] == ("replace", "-f", "-"), argv
        role = json.loads(input)
        self.roles[role["metadata"]["name"]] = role
        return SimpleNamespace(stdout="", returncode=0)

    def exec(self, *argv: str, check=True, timeout=None):
        assert argv[:2] == ("crictl", "logs"), argv
        return SimpleNamespace(stdout="\n".join(self.log), stderr="", returncode=0)


def served() -> dict[str, dict]:
    def role(name, rules):
        return {"metadata": {"name": name, "annotations": {role_edits.AUTOUPDATE: "true"}},
                "rules": rules}
    return {"system:basic-user": role("system:basic-user", [
                {"apiGroups": ["authorization.k8s.io"],
                 "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                 "verbs": ["create"]}]),
            "system:public-info-viewer": role("system:public-info-viewer", [
                {"nonResourceURLs": ["/healthz", "/version", "/version/"], "verbs": ["get"]}])}


def cluster(node: Node, upgrade: dict | None):
    handle = SimpleNamespace(node=node, apiserver_life=lambda: SimpleNamespace(
        runtime_container_id="c0ffee"))
    return SimpleNamespace(handle=handle, found=SimpleNamespace(upgrade=upgrade))


def reconcile(roles: dict[str, dict]) -> None:
    """kube-apiserver's start: each role not marked autoupdate "false" gets back what it
    lacks of a fresh cluster's."""
    for name, fresh in served().items():
        role = roles[name]
        if role["metadata"]["annotations"][role_edits.AUTOUPDATE] != "false":
            role["rules"] = [*role["rules"], *fresh["rules"]]


def test_the_edits_before_and_the_record_after_an_upgrade():
    node = Node(served(), LOG)
    run = cluster(node, None)
    said = role_edits.edit_before(None, run)
    assert "system:basic-user without" in said and "(autoupdate false)" in said
    for edit in role_edits.EDITS:
        lines = rbacrules.role_lines(edit.role, node.roles[edit.role]["rules"])
        assert not set(edit.lines) & set(lines)
    basic = node.roles["system:basic-user"]["metadata"]["annotations"]
    assert basic[role_edits.AUTOUPDATE] == "false"

    reconcile(node.roles)
    run.found.upgrade = {"from": "1.33.13", "to": "1.34.12"}
    said = role_edits.record_after(None, run)
    record = run.found.upgrade["role_edits"]
    assert [(e["role"], e["served_after"], e["autoupdate_after"]) for e in record["edits"]] == [
        ("system:basic-user", False, "false"), ("system:public-info-viewer", True, "true")]
    assert record["protected_roles"] == ["system:basic-user"]
    assert len(record["apiserver_protected"]) == 2 and "still taken out" in said
    # both are put back as a fresh cluster has them
    for name, fresh in served().items():
        role = node.roles[name]
        assert role["metadata"]["annotations"][role_edits.AUTOUPDATE] == "true"
        assert rbacrules.role_lines(name, role["rules"]) == rbacrules.role_lines(
            name, fresh["rules"])


def test_no_record_of_the_upgrade_is_an_error_of_the_step():
    with pytest.raises(AuthprobeError, match="no record of the upgrade"):
        role_edits.record_after(None, cluster(Node(served(), []), None))
