"""What a profile's rbac part adds to its clusters: a static token line for each user of its
access table (and a member of each of its groups), those users' requests in the audit log,
and a cluster hash that changes with the folder and the users."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from authprobe.harness.render import (
    AUDIT_POLICY,
    HostFacts,
    RenderInput,
    access_token_text,
    audit_policy,
    render,
    users_of_token_file,
)
from authprobe.model.access import REVOCATION_USER
from authprobe.model.profiles import load_dirs, load_profile
from authprobe.model.versions import KubeVersion, version_table
from authprobe.paths import clusters_dir

V = KubeVersion.parse
TABLE = """\
subjects:
  alice: {user: alice, groups: [team-a-devs]}
  sre: {group: sre}
  builder: {serviceAccount: team-a/builder}
entries:
  - {subject: alice, verb: get, resource: pods, namespace: team-a, name: web, expect: allowed}
  - {subject: sre, verb: list, resource: nodes, expect: allowed}
  - {subject: builder, verb: get, path: /version, expect: allowed}
"""
MANIFESTS = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sre-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: Group, name: sre}]
"""


@pytest.fixture
def team(tmp_path):
    (tmp_path / "access.yaml").write_text(TABLE)
    (tmp_path / "rbac").mkdir()
    (tmp_path / "rbac" / "all.yaml").write_text(MANIFESTS)
    (tmp_path / "profiles").mkdir()
    path = tmp_path / "profiles" / "team.yaml"
    path.write_text("description: a team\nrbac: {manifests: ../rbac, access: ../access.yaml}\n")
    return load_profile(path).at(V("1.34.12"))


def team_input(profile_at) -> RenderInput:
    version = V("1.34.12")
    return RenderInput(profile_at, version, version_table().facts_for(version),
                       "kindest/node:v1.34.12", "v0.33.0", HostFacts())


def test_the_token_users_are_the_tables_users_its_groups_members_and_the_revocation_user(
        team):
    assert team.rbac.token_users() == {"alice": ("team-a-devs",),
                                       "authprobe-member-of-sre": ("sre",),
                                       REVOCATION_USER: ()}


def test_the_audit_policy_records_the_tables_users(team):
    policy = audit_policy(team)
    assert policy["rules"][:-1] == [*AUDIT_POLICY["rules"][:-1], {
        "level": "Metadata", "users": ["alice", "authprobe-member-of-sre", REVOCATION_USER,
                                       "system:serviceaccount:team-a:builder"]}]
    assert policy["rules"][-1] == {"level": "None"}
    rendered = render(team_input(team))
    assert yaml.safe_load(rendered.auth_files["audit-policy.yaml"]) == policy


def test_a_profile_without_rbac_keeps_the_shipped_audit_policy():
    profile = load_dirs([clusters_dir() / "profiles"])["anon-on"].at(V("1.34.12"))
    assert audit_policy(profile) is AUDIT_POLICY


def test_the_clusters_hash_changes_with_the_tables_users_and_the_folder(team):
    rbac = team.rbac
    table = dataclasses.replace(rbac.access, subjects=tuple(
        dataclasses.replace(s, groups=("sre",)) if s.key == "alice" else s
        for s in rbac.access.subjects))
    regrouped = dataclasses.replace(team, rbac=dataclasses.replace(rbac, access=table))
    fewer = dataclasses.replace(team, rbac=dataclasses.replace(
        rbac, manifests=rbac.manifests[:-1]))
    hashes = {render(team_input(p)).config_hash for p in (team, regrouped, fewer)}
    assert len(hashes) == 3


def test_access_token_lines_carry_the_groups_and_read_back():
    line = access_token_text("t" * 20, "alice", ("team-a-devs", "sre"))
    assert line == f'{"t" * 20},alice,access:alice,"team-a-devs,sre"\n'
    assert users_of_token_file(line) == {}
    assert users_of_token_file(line, ("alice",)) == {"alice": "t" * 20}
    with pytest.raises(ValueError, match="one of the clusters' own token users"):
        access_token_text("t" * 20, "admin", ())

