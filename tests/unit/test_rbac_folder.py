"""A profile's rbac part: the folder of RBAC manifests checked before any cluster starts (one
line per document that is not one of its kinds), the objects in the order they are applied,
and what the cluster holds of each compared with its document."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.model.profiles import load_profile
from authprobe.model.rbac import differences, load_manifests, load_rbac

ROLE_DOC = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: edit
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "false"}
rules:
  - {apiGroups: [""], resources: [pods, configmaps], verbs: [get, list]}
"""
BINDING_DOC = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
  - {kind: Group, name: devs}
  - {kind: ServiceAccount, name: builder, namespace: team-a}
"""


def folder_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "rbac"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_the_objects_are_applied_namespaces_first_and_bindings_last(tmp_path):
    folder = folder_with(tmp_path, a=BINDING_DOC + "---\n" + ROLE_DOC, b=(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: team-a}\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\n"))
    found = load_manifests(folder)
    assert [m.label for m in found] == ["Namespace team-a", "ServiceAccount team-a/builder",
                                        "ClusterRole edit", "RoleBinding team-a/devs"]
    assert found[1].source.endswith("b.yaml document 1")


@pytest.mark.parametrize(("text", "complaint"), [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\n",
     "kind 'Deployment' is not one the RBAC folder holds (Namespace, ServiceAccount, "
     "ClusterRole, Role, ClusterRoleBinding, RoleBinding): move it out of the folder"),
    ("apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: Role\nmetadata: {name: r, "
     "namespace: a}\n", "Role needs apiVersion rbac.authorization.k8s.io/v1, not "
                        "'rbac.authorization.k8s.io/v1beta1'"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n",
     "Role r needs metadata.namespace (no namespace is implied)"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, "
     "namespace: a}\n", "a ClusterRole has no namespace; remove metadata.namespace"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {}\n", "Namespace needs metadata.name"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, resourceVersion: '12'}\n",
     "metadata.resourceVersion belongs to a stored object; remove it"),
    ("- not an object\n", "is not a Kubernetes object"),
    ("apiVersion: v1\nkind: List\nitems: []\n", "kind 'List' is not one the RBAC folder holds"),
])
def test_a_document_of_another_kind_is_one_line_naming_file_and_document(tmp_path, text,
                                                                          complaint):
    folder = folder_with(tmp_path, roles=ROLE_DOC + "---\n" + text)
    with pytest.raises(AuthprobeError) as caught:
        load_manifests(folder)
    line = caught.value.one_line()
    assert line.startswith(f"RBAC manifest {folder / 'roles.yaml'} document 2") or (
        "is not a Kubernetes object" in line), line
    assert complaint in line


def test_a_folder_without_files_twice_the_same_object_or_bad_yaml_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AuthprobeError, match="holds no .yaml files"):
        load_manifests(empty)
    twice = folder_with(tmp_path, a=ROLE_DOC, b=ROLE_DOC)
    with pytest.raises(AuthprobeError, match="ClusterRole edit is given more than once"):
        load_manifests(twice)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.yaml").write_text("kind: [\n")
    with pytest.raises(AuthprobeError, match=r"is not valid YAML at line 2"):
        load_manifests(broken)


@pytest.mark.parametrize(("spec", "complaint"), [
    ({"manifest": "rbac"}, "rbac may hold 'manifests'"),
    ("rbac", "rbac may hold 'manifests'"),
    ({"manifests": 3}, "rbac.manifests must be a path relative to the profile file"),
    ({"manifests": "absent"}, "rbac.manifests: folder"),
    ({"access": "absent.yaml"}, "rbac.access: file"),
])
def test_a_bad_rbac_part_is_one_line_naming_the_profile(tmp_path, spec, complaint):
    profile = tmp_path / "profiles" / "p.yaml"
    with pytest.raises(AuthprobeError) as caught:
        load_rbac(profile, spec)
    assert caught.value.one_line().startswith(f"profile file {profile}: ")
    assert complaint in caught.value.one_line()


def test_a_profile_with_an_unknown_resource_in_its_table_does_not_load(tmp_path):
    (tmp_path / "access.yaml").write_text(
        "subjects: {alice: {user: alice}}\nentries:\n"
        "- {subject: alice, verb: list, resource: deploymnets, apiGroup: apps, namespace: a,"
        " expect: allowed}\n")
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "team.yaml"
    profile.write_text("description: a team\nrbac: {access: ../access.yaml}\n")
    with pytest.raises(AuthprobeError) as caught:
        load_profile(profile)
    assert caught.value.one_line() == (
        f"access table {(tmp_path / 'access.yaml').resolve()}: entry 1 (alice list "
        "deploymnets.apps in a): kube-apiserver serves no resource deploymnets in API group "
        "apps on any minor authprobe supports (api-resources.yaml): did you mean "
        "deployments? correct the entry's apiGroup and resource, or remove the entry")


# -- what the cluster holds against the folder ---------------------------------------------


def manifest_of(tmp_path, text):
    return load_manifests(folder_with(tmp_path, one=text))[0]


def test_an_object_as_written_has_no_difference(tmp_path):
    role = manifest_of(tmp_path, ROLE_DOC)
    live = yaml.safe_load(ROLE_DOC)
    live["metadata"].update({"uid": "u", "resourceVersion": "7",
                             "labels": {"other": "x"}})
    live["rules"] = [{"verbs": ["list", "get"], "apiGroups": [""],
                      "resources": ["configmaps", "pods"]}]
    assert differences(role, live) == []


def test_rules_added_or_gone_an_annotation_and_a_gone_object_are_named(tmp_path):
    role = manifest_of(tmp_path, ROLE_DOC)
    live = yaml.safe_load(ROLE_DOC)
    live["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "true"
    live["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                     {"apiGroups": ["resource.k8s.io"], "resources": ["resourceclaims"],
                      "verbs": ["list"]}]
    assert differences(role, live) == [
        "ClusterRole edit: annotation rbac.authorization.kubernetes.io/autoupdate='true', not "
        "'false'",
        "ClusterRole edit: rule added: apiGroups [] resources [pods] verbs [get, list]",
        "ClusterRole edit: rule added: apiGroups [resource.k8s.io] resources [resourceclaims] "
        "verbs [list]",
        "ClusterRole edit: rule gone: apiGroups [] resources [configmaps, pods] verbs "
        "[get, list]"]
    assert differences(role, None) == ["ClusterRole edit: gone"]


def test_an_aggregated_role_is_compared_by_its_aggregation_rule(tmp_path):
    text = ROLE_DOC.replace("rules:\n  - {apiGroups: [\"\"], resources: [pods, configmaps], "
                            "verbs: [get, list]}\n",
                            "aggregationRule: {clusterRoleSelectors: [{matchLabels: {a: "
                            "'true'}}]}\n")
    role = manifest_of(tmp_path, text)
    live = yaml.safe_load(text)
    live["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert differences(role, live) == []
    live["aggregationRule"] = None
    assert differences(role, live) == ["ClusterRole edit: aggregationRule differs"]


def test_a_binding_takes_kube_apiservers_defaults_for_its_subjects(tmp_path):
    binding = manifest_of(tmp_path, BINDING_DOC)
    live = yaml.safe_load(BINDING_DOC)
    live["subjects"] = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                         "name": "devs"},
                        {"apiGroup": "", "kind": "ServiceAccount", "name": "builder",
                         "namespace": "team-a"}]
    assert differences(binding, live) == []
    live["subjects"] = live["subjects"][:1]
    live["roleRef"]["name"] = "view"
    lines = differences(binding, live)
    assert lines[0].startswith("RoleBinding team-a/devs: roleRef is {")
    assert lines[1].startswith("RoleBinding team-a/devs: subjects are [('Group'")
