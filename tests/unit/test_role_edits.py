"""The edits of two default roles across an upgrade: what each takes out, and the roles
kube-apiserver's log of its start says it did not reconcile."""

from __future__ import annotations

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
