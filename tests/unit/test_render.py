"""Rendering a profile at one Kubernetes version into a kind config, patches and node files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from authprobe.harness.render import (
    AUDIT_ARGS,
    AUDIT_DIR,
    AUDIT_POLICY,
    AUTH_DIR,
    PATCHES_DIR,
    TOKEN_USERS,
    HostFacts,
    RenderInput,
    render,
    token_file_text,
)
from authprobe.model.profiles import load_dirs, load_profile
from authprobe.model.versions import KubeVersion, supported, version_table
from authprobe.paths import clusters_dir

PROFILES = load_dirs([clusters_dir() / "profiles"])
TABLE = version_table()
PATCHES = {minor: row.patch for minor, row in supported().items()}
V134, V135, V136 = PATCHES["1.34"], PATCHES["1.35"], PATCHES["1.36"]
V133 = PATCHES["1.33"]
KUBEADM_KINDS = {"ClusterConfiguration", "InitConfiguration", "KubeletConfiguration"}


def make_input(profile="anon-on", version=V134, cgroup=2, image=None, facts=None, **kw):
    if isinstance(profile, str):
        profile = PROFILES[profile]
    return RenderInput(profile.at(version), version, facts or TABLE.facts_for(version),
                       image or f"authprobe/node:{version.tag}", "v0.33.0", HostFacts(cgroup),
                       **kw)


def rendered(profile="anon-on", version=V134, private="/var/tmp/authprobe-x", **kw):
    return render(make_input(profile, version, **kw), private)


def docs_of(result):
    config = yaml.safe_load(result.kind_config)
    docs = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
    return config, {doc["kind"]: doc for doc in docs}, docs


def applying():
    """(profile, version) for every shipped profile on every supported minor where it runs."""
    return [(pid, version) for version in PATCHES.values() for pid in sorted(PROFILES)
            if PROFILES[pid].at(version).na is None]


def test_applying_covers_every_minor_and_skips_health_only_on_1_30():
    pairs = applying()
    assert {str(v.as_minor) for _, v in pairs} == {"1.19"} | {f"1.{m}" for m in range(30, 38)}
    assert ("anon-health-only", PATCHES["1.30"]) not in pairs
    assert ("anon-health-only", PATCHES["1.31"]) in pairs


@pytest.mark.parametrize(("profile", "version"), applying(), ids=str)
def test_patches_are_unversioned(profile, version):
    result = rendered(profile, version)
    config, by_kind, docs = docs_of(result)
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["kind"] == "Cluster"
    assert len(by_kind) == len(docs)  # one patch per kind
    for doc in docs:
        assert "apiVersion" not in doc
        assert doc["kind"] in KUBEADM_KINDS
    for text in result.patch_files.values():
        assert "apiVersion" not in text and "kubeadm.k8s.io" not in text
    assert "kubeadm.k8s.io" not in result.kind_config


@pytest.mark.parametrize(("profile", "version"), applying(), ids=str)
def test_admin_token_and_audit_on_every_profile(profile, version):
    result = rendered(profile, version)
    config, by_kind, _ = docs_of(result)
    api = by_kind["ClusterConfiguration"]["apiServer"]
    args = api["extraArgs"]
    assert args["token-auth-file"] == f"{AUTH_DIR}/tokens.csv"
    assert args["audit-policy-file"] == f"{AUTH_DIR}/audit-policy.yaml"
    assert args["audit-log-path"] == f"{AUDIT_DIR}/audit.log"
    assert {k: args[k] for k in AUDIT_ARGS} == AUDIT_ARGS
    assert all(isinstance(v, str) for v in args.values())
    volumes = {v["name"]: v for v in api["extraVolumes"]}
    assert volumes["authprobe-auth"] == {"name": "authprobe-auth", "hostPath": AUTH_DIR,
                                         "mountPath": AUTH_DIR, "readOnly": True,
                                         "pathType": "Directory"}
    assert volumes["authprobe-audit"] == {"name": "authprobe-audit", "hostPath": AUDIT_DIR,
                                          "mountPath": AUDIT_DIR, "readOnly": False,
                                          "pathType": "DirectoryOrCreate"}
    assert yaml.safe_load(result.auth_files["audit-policy.yaml"]) == AUDIT_POLICY
    mounts = config["nodes"][0]["extraMounts"]
    assert {"hostPath": "/var/tmp/authprobe-x/auth", "containerPath": AUTH_DIR,
            "readOnly": True} in mounts
    assert all(Path(m["hostPath"]).is_absolute() for m in mounts)
    assert all(m["readOnly"] is True for m in mounts)
    assert result.expected["mounts"] == [AUTH_DIR, AUDIT_DIR]
    assert "tokens.csv" in result.expected["auth_files"]
    assert "audit-policy.yaml" in result.expected["auth_files"]


@pytest.mark.parametrize(("profile", "version"), applying(), ids=str)
def test_kubelet_logs_failed_probes(profile, version):
    _, by_kind, _ = docs_of(rendered(profile, version))
    registration = by_kind["InitConfiguration"]["nodeRegistration"]
    assert registration["kubeletExtraArgs"] == {"v": "1"}


def test_audit_policy_records_the_story_and_nothing_else():
    rules = AUDIT_POLICY["rules"]
    assert rules[-1] == {"level": "None"}
    paths = next(r["nonResourceURLs"] for r in rules if "nonResourceURLs" in r)
    assert {"/", "/livez", "/statusz", "/flagz"} <= set(paths)
    assert any("system:anonymous" in r.get("users", ()) for r in rules)
    assert any("system:unauthenticated" in r.get("userGroups", ()) for r in rules)
    assert any(set(TOKEN_USERS) <= set(r.get("users", ())) for r in rules)


def test_audit_policy_keeps_review_bodies_but_never_a_token_review_body():
    """The reviews come first, before the rules by user would record them with less: a
    SubjectAccessReview with its bodies (who, what, the answer); a TokenReview, whose body
    holds the token under review, at Metadata only."""
    reviews, tokens = AUDIT_POLICY["rules"][:2]
    assert reviews["level"] == "RequestResponse"
    assert reviews["resources"] == [{"group": "authorization.k8s.io", "resources": [
        "subjectaccessreviews", "selfsubjectaccessreviews"]}]
    assert tokens == {"level": "Metadata", "resources": [
        {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]}


def test_without_audit_nothing_of_it_is_rendered():
    result = rendered(audit=False)
    _, by_kind, _ = docs_of(result)
    api = by_kind["ClusterConfiguration"]["apiServer"]
    assert not set(AUDIT_ARGS) & set(api["extraArgs"])
    assert [v["name"] for v in api["extraVolumes"]] == ["authprobe-auth"]
    assert "audit-policy.yaml" not in result.auth_files
    assert result.expected["mounts"] == [AUTH_DIR]


def test_anon_off_args():
    result = rendered("anon-off")
    _, by_kind, _ = docs_of(result)
    assert by_kind["ClusterConfiguration"]["apiServer"]["extraArgs"]["anonymous-auth"] == "false"
    assert result.expected["args"]["anonymous-auth"] == "false"


@pytest.mark.parametrize("version", [PATCHES[m] for m in ("1.31", "1.32", "1.34", "1.37")],
                         ids=str)
def test_health_only_points_at_mounted_auth_config(version):
    result = rendered("anon-health-only", version)
    _, by_kind, _ = docs_of(result)
    args = by_kind["ClusterConfiguration"]["apiServer"]["extraArgs"]
    assert args["authentication-config"] == f"{AUTH_DIR}/authentication-config.yaml"
    assert "anonymous-auth" not in args
    assert ("feature-gates" in args) is (version.minor == 31)
    doc = yaml.safe_load(result.auth_files["authentication-config.yaml"])
    assert doc["anonymous"]["enabled"] is True
    wanted = "v1" if version.minor >= 34 else "v1beta1"
    assert doc["apiVersion"] == f"apiserver.config.k8s.io/{wanted}"
    assert result.expected["auth_files"] == sorted(
        ["tokens.csv", "audit-policy.yaml", "authentication-config.yaml"])


def test_probe_profile_patch_directory_and_named_port():
    result = rendered("anon-off-probe-8080", V134)
    config, by_kind, _ = docs_of(result)
    assert by_kind["InitConfiguration"]["patches"] == {"directory": PATCHES_DIR}
    assert {"hostPath": "/var/tmp/authprobe-x/patches", "containerPath": PATCHES_DIR,
            "readOnly": True} in config["nodes"][0]["extraMounts"]
    strategic = yaml.safe_load(result.patch_files["kube-apiserver0+strategic.yaml"])
    (container,) = strategic["spec"]["containers"]
    assert container["name"] == "kube-apiserver"
    assert container["livenessProbe"] == {"httpGet": {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}}
    ops = yaml.safe_load(result.patch_files["kube-apiserver1+json.yaml"])
    assert ops[0] == {"op": "test", "path": "/spec/containers/0/name", "value": "kube-apiserver"}
    assert {"op": "test", "path": "/spec/containers/0/ports/0/name", "value": "probe-port"} in ops
    assert ops[-1] == {"op": "replace", "path": "/spec/containers/0/ports/0/containerPort",
                       "value": 8080}
    assert result.expected["named_port"] == 8080
    assert result.expected["probes"] == {"livenessProbe": {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}}


@pytest.mark.parametrize("version", list(PATCHES.values()), ids=str)
def test_named_port_patch_only_where_the_fact_says(version):
    result = rendered("anon-off-probe-8080", version)
    named = TABLE.facts_for(version).named_probe_port
    assert named is (version.minor >= 34)
    assert ("kube-apiserver1+json.yaml" in result.patch_files) is named
    if TABLE.facts_for(version).kubeadm_patches:
        assert "kube-apiserver0+strategic.yaml" in result.patch_files
    else:  # v1beta2 has no patches: the harness edits the manifest after kubeadm init
        assert not result.patch_files and result.manifest_probes["livenessProbe"]["port"] == 8080
    assert result.expected["named_port"] == (8080 if named else None)


def test_profiles_without_probe_changes_have_no_patch_dir():
    result = rendered("anon-on")
    config, by_kind, _ = docs_of(result)
    assert not result.patch_files
    assert "patches" not in by_kind["InitConfiguration"]
    assert [m["containerPath"] for m in config["nodes"][0]["extraMounts"]] == [AUTH_DIR]
    assert result.expected["probes"] == {} and result.expected["named_port"] is None


def test_probe_timing_fields_reach_the_strategic_patch(tmp_path):
    path = tmp_path / "slow-start.yaml"
    path.write_text("""\
description: x
probes:
  startupProbe: {failureThreshold: 30, periodSeconds: 5}
  livenessProbe: {path: /livez, timeoutSeconds: 4}
""")
    result = rendered(load_profile(path), V136)
    strategic = yaml.safe_load(result.patch_files["kube-apiserver0+strategic.yaml"])
    (container,) = strategic["spec"]["containers"]
    assert container["startupProbe"] == {"failureThreshold": 30, "periodSeconds": 5}
    assert container["livenessProbe"] == {"httpGet": {"path": "/livez"}, "timeoutSeconds": 4}
    assert "readinessProbe" not in container
    assert result.expected["probes"] == {
        "startupProbe": {"failureThreshold": 30, "periodSeconds": 5},
        "livenessProbe": {"path": "/livez", "timeoutSeconds": 4}}
    assert "kube-apiserver1+json.yaml" not in result.patch_files  # no namedPort


@pytest.mark.parametrize(("cgroup", "version", "wanted"), [
    (1, V134, False), (1, V135, True), (1, V136, True), (1, PATCHES["1.37"], True),
    (2, V135, False), (2, V136, False), (1, PATCHES["1.30"], False)], ids=str)
def test_fail_cgroup_v1_only_for_cgroup_1_hosts_from_1_35(cgroup, version, wanted):
    _, by_kind, _ = docs_of(rendered(version=version, cgroup=cgroup))
    if wanted:
        assert by_kind["KubeletConfiguration"] == {"kind": "KubeletConfiguration",
                                                   "failCgroupV1": False}
    else:
        assert "KubeletConfiguration" not in by_kind


def test_default_cni_switch():
    config, _, _ = docs_of(rendered(default_cni=False))
    assert config["networking"]["disableDefaultCNI"] is True
    config, _, _ = docs_of(rendered())
    assert "disableDefaultCNI" not in config["networking"]
    assert config["networking"]["apiServerAddress"] == "127.0.0.1"
    assert config["networking"]["apiServerPort"] == -1


def test_node_image_and_role():
    config, _, _ = docs_of(rendered(image="authprobe/node:v1.34.12-aaaaaaaaaaaa"))
    (node,) = config["nodes"]
    assert node["role"] == "control-plane"
    assert node["image"] == "authprobe/node:v1.34.12-aaaaaaaaaaaa"


def test_hash_is_stable_and_tracks_inputs_not_locations():
    base = rendered()
    assert rendered().config_hash == base.config_hash
    elsewhere = rendered(private="/elsewhere/x")
    assert elsewhere.config_hash == base.config_hash
    assert elsewhere.kind_config != base.kind_config
    assert "/elsewhere/x/auth" in elsewhere.kind_config
    assert render(make_input()).config_hash == base.config_hash  # the default placeholder
    different = [
        rendered(image="authprobe/node:v1.34.12-aaaaaaaaaaaa"),
        rendered(version=V136),
        rendered(version=KubeVersion(1, 34, 11)),
        rendered("anon-off"),
        rendered(image_id="sha256:aa"),
        rendered(default_cni=False),
        rendered(audit=False),
    ]
    hashes = [r.config_hash for r in different]
    assert base.config_hash not in hashes
    assert len(set(hashes)) == len(hashes)
    assert rendered(image_id="sha256:aa").config_hash != rendered(image_id="sha256:bb").config_hash
    assert (rendered(cgroup=1, version=V136).config_hash
            != rendered(cgroup=2, version=V136).config_hash)
    # cgroup v1 makes no difference where kubelet accepts it anyway
    assert rendered(cgroup=1).config_hash == rendered(cgroup=2).config_hash
    kind = dataclasses.replace(make_input(), kind_version="v0.32.0")
    assert render(kind).config_hash != base.config_hash


def test_probe_changes_go_to_the_manifest_where_kubeadm_cannot_patch():
    facts = dataclasses.replace(TABLE.facts_for(V134), kubeadm_patches=False,
                                named_probe_port=False)
    result = render(make_input("anon-off-probe-8080", facts=facts))
    assert result.patch_files == {}
    assert result.manifest_probes["livenessProbe"] == {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    config, _, docs = docs_of(result)
    assert all(m["containerPath"] != "/etc/authprobe/patches"
               for m in config["nodes"][0]["extraMounts"])
    assert not any("patches" in doc for doc in docs)
    assert result.expected["probes"]["livenessProbe"]["port"] == 8080  # verify still checks
    by_kubeadm = render(make_input("anon-off-probe-8080"))
    assert by_kubeadm.manifest_probes == {} and by_kubeadm.patch_files
    assert result.config_hash != by_kubeadm.config_hash


def test_probes_merge_into_the_manifest_like_a_strategic_patch():
    from authprobe.harness.manifest import probe_spec, with_probes

    manifest = {"spec": {"containers": [{"name": "kube-apiserver", "livenessProbe": {
        "httpGet": {"host": "172.18.0.2", "path": "/livez", "port": 6443, "scheme": "HTTPS"},
        "initialDelaySeconds": 10, "failureThreshold": 8}}]}}
    changed = with_probes(manifest, {
        "livenessProbe": {"host": "127.0.0.1", "port": 8080, "path": "/healthz",
                          "scheme": "HTTP"},
        "startupProbe": {"path": "/healthz", "port": 8080, "failureThreshold": 30}})
    spec = probe_spec(changed["spec"]["containers"][0])
    assert spec["livenessProbe"] == {"host": "127.0.0.1", "port": 8080, "path": "/healthz",
                                     "scheme": "HTTP", "initialDelaySeconds": 10,
                                     "failureThreshold": 8}
    assert spec["startupProbe"]["failureThreshold"] == 30
    assert spec["startupProbe"]["path"] == "/healthz"


def test_token_never_in_rendered_output():
    token = "s3cr3t-token-value-0123456789"
    assert token_file_text(token) == f"{token},admin,authprobe-admin\n"
    for pid, version in applying():
        result = rendered(pid, version)
        everything = (result.kind_config + "".join(result.auth_files.values())
                      + "".join(result.patch_files.values()) + repr(result.expected)
                      + result.config_hash)
        assert token not in everything
        assert "tokens.csv" not in result.auth_files  # the harness writes it, not render


@pytest.mark.parametrize("bad", ["short", "has,comma-and-more-chars", "new\nline-0123456789",
                                 "spaces are not ok 0123"])
def test_token_file_rejects_weak_tokens(bad):
    with pytest.raises(ValueError):
        token_file_text(bad)
