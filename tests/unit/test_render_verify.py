"""Comparing a kube-apiserver manifest with what a rendered profile expects."""

from pathlib import Path

from authprobe.profiles import load_all
from authprobe.render import HostFacts, RenderInput, render
from authprobe.verify import differences, flags_of
from authprobe.versions import KubeVersion

PROFILES = load_all()
ALL_FLAGS = {flag for p in PROFILES.values() for flag in p.extra_args}


V134 = KubeVersion(1, 34, 12)


def expected(profile: str, version=V134) -> dict:
    inp = RenderInput(PROFILES[profile], version, "img", "v0.32.0", HostFacts(2))
    return render(inp, Path("/p")).expected


def manifest(extra_flags=(), liveness=None, probe_port=6443) -> dict:
    https = {"host": "172.18.0.2", "path": "/livez", "port": "probe-port", "scheme": "HTTPS"}
    return {"spec": {"containers": [{
        "name": "kube-apiserver",
        "command": ["kube-apiserver", "--advertise-address=172.18.0.2",
                    "--token-auth-file=/etc/authprobe/auth/tokens.csv", *extra_flags],
        "livenessProbe": {"httpGet": liveness or dict(https)},
        "readinessProbe": {"httpGet": dict(https, path="/readyz")},
        "startupProbe": {"httpGet": dict(https)},
        "ports": [{"name": "probe-port", "containerPort": probe_port, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/etc/authprobe/auth", "name": "authprobe-auth"}],
    }]}}


def test_flags_of():
    found = flags_of({"command": ["x", "--a=1", "--b", "--c=d=e"]})
    assert found == {"a": "1", "b": "", "c": "d=e"}


def test_default_profile_matches():
    assert differences(manifest(), expected("anon-on"), ALL_FLAGS, ["tokens.csv"]) == []


def test_flag_of_another_profile_is_named():
    found = differences(manifest(["--anonymous-auth=false"]), expected("anon-on"), ALL_FLAGS)
    assert found == ["--anonymous-auth=false is set, profile leaves it unset"]


def test_missing_and_wrong_flags():
    assert differences(manifest(), expected("anon-off"), ALL_FLAGS) == [
        "--anonymous-auth is missing (profile sets 'false')"]
    found = differences(manifest(["--anonymous-auth=true"]), expected("anon-off"), ALL_FLAGS)
    assert found == ["--anonymous-auth is 'true', profile sets 'false'"]


def test_probe_profile():
    flags = ["--anonymous-auth=false", "--insecure-bind-address=127.0.0.1",
             "--insecure-port=8080"]
    live = {"host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    good = manifest(flags, liveness=live, probe_port=8080)
    assert differences(good, expected("anon-off-probe-8080"), ALL_FLAGS) == []
    unpatched = differences(manifest(flags), expected("anon-off-probe-8080"), ALL_FLAGS)
    assert "livenessProbe.httpGet.scheme is 'HTTPS', profile sets 'HTTP'" in unpatched
    assert "port probe-port is 6443, profile sets 8080" in unpatched


def test_moved_probe_on_a_profile_that_keeps_defaults():
    live = {"host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
    found = differences(manifest(liveness=live), expected("anon-on"), ALL_FLAGS)
    assert found == ["livenessProbe is HTTP on port 8080, profile keeps kubeadm's HTTPS probe"]


def test_auth_files_and_mount():
    want = expected("anon-health-only")
    flags = ["--authentication-config=/etc/authprobe/auth/authentication-config.yaml"]
    assert differences(manifest(flags), want, ALL_FLAGS,
                       ["authentication-config.yaml", "tokens.csv"]) == []
    assert differences(manifest(flags), want, ALL_FLAGS, ["tokens.csv"]) == [
        "auth files missing in the node: authentication-config.yaml"]
    bare = manifest(flags)
    bare["spec"]["containers"][0]["volumeMounts"] = []
    assert differences(bare, want, ALL_FLAGS) == [
        "/etc/authprobe/auth is not mounted into kube-apiserver"]
