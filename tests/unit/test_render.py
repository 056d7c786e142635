"""Rendering profiles into kind configs: unversioned patches, mounts, naming and hashing."""

import re
from pathlib import Path

import pytest
import yaml

from authprobe.profiles import load_all
from authprobe.render import (
    MAX_NAME,
    NAME_RE,
    HostFacts,
    RenderInput,
    cluster_name,
    render,
    token_file_text,
)
from authprobe.versions import KubeVersion

V134 = KubeVersion(1, 34, 12)
V136 = KubeVersion(1, 36, 4)
PROFILES = load_all()


def rendered(profile="anon-on", version=V134, image="authprobe/node:v1.34.12", cgroup=2,
             private=Path("/var/tmp/authprobe-x"), **kw):
    inp = RenderInput(PROFILES[profile], version, image, "v0.32.0", HostFacts(cgroup), **kw)
    return render(inp, private)


def patches(result):
    config = yaml.safe_load(result.kind_config)
    return config, [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]


@pytest.mark.parametrize("version", [V134, V136])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_patches_are_unversioned(profile, version):
    config, docs = patches(rendered(profile, version))
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    for doc in docs:
        assert "apiVersion" not in doc
        assert doc["kind"] in {"ClusterConfiguration", "InitConfiguration", "KubeletConfiguration"}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_has_admin_token_file(profile):
    config, docs = patches(rendered(profile))
    api = docs[0]["apiServer"]
    assert api["extraArgs"]["token-auth-file"] == "/etc/authprobe/auth/tokens.csv"
    assert api["extraVolumes"][0]["hostPath"] == "/etc/authprobe/auth"
    assert api["extraVolumes"][0]["readOnly"] is True
    mounts = config["nodes"][0]["extraMounts"]
    assert {"hostPath": "/var/tmp/authprobe-x/auth", "containerPath": "/etc/authprobe/auth",
            "readOnly": True} in mounts
    assert all(Path(m["hostPath"]).is_absolute() for m in mounts)
    assert all(isinstance(v, str) for v in api["extraArgs"].values())


def test_anon_off_args():
    _, docs = patches(rendered("anon-off"))
    assert docs[0]["apiServer"]["extraArgs"]["anonymous-auth"] == "false"


def test_health_only_points_at_mounted_auth_config():
    result = rendered("anon-health-only")
    _, docs = patches(result)
    args = docs[0]["apiServer"]["extraArgs"]
    assert args["authentication-config"] == "/etc/authprobe/auth/authentication-config.yaml"
    assert "anonymous-auth" not in args
    doc = yaml.safe_load(result.auth_files["authentication-config.yaml"])
    assert doc["anonymous"]["enabled"] is True


def test_probe_profile_patch_directory_and_named_port():
    r134 = rendered("anon-off-probe-8080", V134)
    config, docs = patches(r134)
    assert {"kind": "InitConfiguration",
            "patches": {"directory": "/etc/authprobe/patches"}} in docs
    assert any(m["containerPath"] == "/etc/authprobe/patches"
               for m in config["nodes"][0]["extraMounts"])
    strategic = yaml.safe_load(r134.patch_files["kube-apiserver0+strategic.yaml"])
    container = strategic["spec"]["containers"][0]
    assert container["name"] == "kube-apiserver"
    assert container["livenessProbe"]["httpGet"] == {
        "host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    ops = yaml.safe_load(r134.patch_files["kube-apiserver1+json.yaml"])
    assert {"op": "test", "path": "/spec/containers/0/ports/0/name", "value": "probe-port"} in ops
    assert ops[-1] == {"op": "replace", "path": "/spec/containers/0/ports/0/containerPort",
                       "value": 8080}
    assert r134.expected["named_port"] == 8080


def test_named_port_patch_only_from_1_34():
    result = rendered("anon-off-probe-8080", KubeVersion(1, 33, 5))
    assert list(result.patch_files) == ["kube-apiserver0+strategic.yaml"]
    assert result.expected["named_port"] is None


def test_profiles_without_probe_changes_have_no_patch_dir():
    config, docs = patches(rendered("anon-on"))
    assert not rendered("anon-on").patch_files
    assert all(d["kind"] != "InitConfiguration" for d in docs)
    assert len(config["nodes"][0]["extraMounts"]) == 1


@pytest.mark.parametrize(("cgroup", "version", "wanted"), [
    (1, V134, False), (1, V136, True), (2, V136, False), (1, KubeVersion(1, 35, 0), True)])
def test_fail_cgroup_v1_patch(cgroup, version, wanted):
    _, docs = patches(rendered(version=version, cgroup=cgroup))
    has = {"kind": "KubeletConfiguration", "failCgroupV1": False} in docs
    assert has is wanted


def test_default_cni_switch():
    config, _ = patches(rendered(default_cni=False))
    assert config["networking"]["disableDefaultCNI"] is True
    config, _ = patches(rendered())
    assert "disableDefaultCNI" not in config["networking"]
    assert config["networking"]["apiServerAddress"] == "127.0.0.1"
    assert config["networking"]["apiServerPort"] == -1


def test_name_rules_for_every_profile_and_version():
    for profile in PROFILES:
        for version in (V134, V136):
            name = rendered(profile, version).name
            assert len(name) <= MAX_NAME
            assert re.fullmatch(r"[a-z0-9.-]+", name)
            assert NAME_RE.match(name), name
            assert name.startswith(f"authprobe-{profile}-1{version.minor}-")


def test_long_profile_ids_are_cut_to_fit():
    name = cluster_name("x" * 80, V134, "0123456789abcdef")
    assert len(name) <= MAX_NAME and name.endswith("-134-01234567") and NAME_RE.match(name)


def test_hash_is_stable_and_tracks_inputs_not_locations():
    base = rendered()
    assert rendered().name == base.name
    assert rendered(private=Path("/elsewhere")).name == base.name
    assert rendered(image="authprobe/node:v1.34.12-aaaaaaaaaaaa").name != base.name
    assert rendered(version=V136).name != base.name
    assert rendered("anon-off").config_hash != base.config_hash
    assert rendered(cgroup=1, version=V136).name != rendered(cgroup=2, version=V136).name
    assert rendered(image_id="sha256:aa").name != rendered(image_id="sha256:bb").name


def test_name_is_in_the_config():
    result = rendered()
    assert yaml.safe_load(result.kind_config)["name"] == result.name


def test_token_never_in_rendered_output():
    token = "s3cr3t-token-value-0123456789"
    line = token_file_text(token)
    assert line == f"{token},admin,authprobe-admin\n"
    for profile in PROFILES:
        result = rendered(profile)
        everything = result.kind_config + "".join(result.auth_files.values()) + "".join(
            result.patch_files.values()) + repr(result.expected)
        assert token not in everything


def test_token_file_rejects_weak_tokens():
    with pytest.raises(ValueError):
        token_file_text("short")
    with pytest.raises(ValueError):
        token_file_text("has,comma-and-more-chars")
