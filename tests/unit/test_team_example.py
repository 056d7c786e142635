"""The example team folder (examples/team): its profile loads with its RBAC folder and an
access table of twenty entries or more mixing every kind of subject and of what is asked,
and its rows join the shipped expectations for the scenarios of a team's RBAC."""

from __future__ import annotations

from pathlib import Path

from authprobe.model.expectations import load_files
from authprobe.model.profiles import load_dirs
from authprobe.model.versions import KubeVersion
from authprobe.paths import scenarios_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "team"
V = KubeVersion.parse
SCENARIOS = ("rbac_objects_as_written", "access_table", "access_revoked")


def example():
    return load_dirs([EXAMPLE / "profiles"])["team-rbac"]


def test_the_folder_holds_every_kind_and_a_copy_of_edit_kept_from_updates():
    rbac = example().at(V("1.34.12")).rbac
    assert rbac.manifests_dir == (EXAMPLE / "rbac").resolve()
    assert rbac.access.source == (EXAMPLE / "access.yaml").resolve()
    assert {m.kind for m in rbac.manifests} == {
        "Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding",
        "RoleBinding"}
    edit = next(m for m in rbac.manifests if m.label == "ClusterRole edit")
    assert edit.document["metadata"]["annotations"][
        "rbac.authorization.kubernetes.io/autoupdate"] == "false"
    assert "aggregationRule" not in edit.document
    rules = [r for r in edit.document["rules"] if "" in r.get("apiGroups", [])]
    named = {name for r in rules for name in r["resources"]}
    assert not named & {"secrets", "pods/exec", "pods/attach"}


def test_the_table_mixes_subjects_and_what_is_asked():
    table = example().at(V("1.34.12")).rbac.access
    assert len(table.entries) >= 20
    assert {e.subject.kind for e in table.entries} == {"user", "group", "serviceAccount"}
    assert any(e.path for e in table.entries) and any(e.subresource for e in table.entries)
    assert any(e.namespace for e in table.entries) and any(e.api_group for e in table.entries)
    accounts = {s.identity.user for s in table.service_accounts()}
    made = {f"system:serviceaccount:{m.namespace}:{m.name}"
            for m in example().at(V("1.34.12")).rbac.manifests if m.kind == "ServiceAccount"}
    assert accounts <= made
    by_label = {e.label: e for e in table.entries}
    claims = by_label["alice list resourceclaims.resource.k8s.io in team-b"]
    assert (claims.expected_at(V("1.33.13")), claims.expected_at(V("1.34.12"))) == (
        "denied", "allowed")


def test_the_rows_join_the_shipped_expectations_and_name_entries_of_the_table():
    table = load_files([scenarios_dir() / "expectations.yaml", EXAMPLE / "expectations.yaml"])
    labels = {e.label for e in example().at(V("1.34.12")).rbac.access.entries}
    for minor in ("1.19.16", "1.33.13", "1.34.12", "1.37.2"):
        for scenario in SCENARIOS:
            row = table.lookup("team-rbac", scenario, V(minor))
            assert not row.na
        unserved = table.lookup("team-rbac", "access_table", V(minor)).access_unserved
        assert set(unserved) <= labels and unserved == sorted(unserved)
