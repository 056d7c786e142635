"""A team's rbac part as bad input: an access table entry naming a resource no minor's
kube-apiserver serves, and a manifest of a kind the RBAC folder does not hold, end the run
with one line naming the entry or the document, before anything is asked of Docker and with
no report written."""

from __future__ import annotations

import pytest

from .test_plugin_refusals import assert_refused

PROFILE = "description: a team's cluster\nrbac: {manifests: ../rbac, access: ../access.yaml}\n"
ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: team-a}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
"""
TABLE = """\
subjects: {alice: {user: alice, groups: [team-a-devs]}}
entries:
  - {subject: alice, verb: get, resource: pods, namespace: team-a, name: web, expect: allowed}
  - {subject: alice, verb: list, apiGroup: apps, resource: deploymnets, namespace: team-a,
     expect: allowed}
"""


def team_folder(project, table: str = TABLE, manifests: str = ROLE) -> None:
    (project.mkdir("profiles") / "team.yaml").write_text(PROFILE)
    (project.mkdir("rbac") / "roles.yaml").write_text(manifests)
    (project.path / "access.yaml").write_text(table)


@pytest.mark.parametrize("collect_only", [False, True])
def test_an_entry_naming_an_unknown_resource_is_one_line_and_nothing_written(project,
                                                                             collect_only):
    team_folder(project)
    result = project.run("--profiles-dir", "profiles", "--profile", "team",
                         *(["--collect-only"] if collect_only else []))
    assert_refused(project, result,
                   "access.yaml: entry 2 (alice list deploymnets.apps in team-a): "
                   "kube-apiserver serves no resource deploymnets in API group apps on any "
                   "minor authprobe supports (api-resources.yaml): did you mean deployments? "
                   "correct the entry's apiGroup and resource, or remove the entry")
    assert not (project.path / "reports").exists()


def test_a_manifest_of_another_kind_is_one_line_naming_its_document(project):
    team_folder(project, manifests=ROLE + "---\napiVersion: v1\nkind: Secret\n"
                                          "metadata: {name: s, namespace: team-a}\n")
    result = project.run("--profiles-dir", "profiles")
    assert_refused(project, result,
                   "roles.yaml document 2: kind 'Secret' is not one the RBAC folder holds "
                   "(Namespace, ServiceAccount, ClusterRole, Role, ClusterRoleBinding, "
                   "RoleBinding): move it out of the folder")
    assert not (project.path / "reports").exists()
