"""Comparing a kube-apiserver manifest with what a rendered profile expects."""

from __future__ import annotations

import pytest

from authprobe.errors import AuthprobeError
from authprobe.harness.render import AUDIT_ARGS, AUDIT_DIR, AUTH_DIR, HostFacts, RenderInput, render
from authprobe.harness.verify import apiserver_container, differences, flags_of, probe_spec
from authprobe.model.profiles import load_dirs, load_profile
from authprobe.model.versions import KubeVersion, version_table
from authprobe.paths import clusters_dir

PROFILES = load_dirs([clusters_dir() / "profiles"])
V134 = KubeVersion(1, 34, 12)
V133 = KubeVersion(1, 33, 13)
ALL_FLAGS: dict[str, set[str]] = {}
for _profile in PROFILES.values():
    for _flag, _value in _profile.at(V134).extra_args.items():
        ALL_FLAGS.setdefault(_flag, set()).add(_value)
AUDIT_FLAGS = [f"--{name}={value}" for name, value in AUDIT_ARGS.items()]
LIVE_8080 = {"host": "127.0.0.1", "port": 8080, "path": "/healthz", "scheme": "HTTP"}
PROBE_FLAGS = ["--anonymous-auth=false", "--insecure-bind-address=127.0.0.1",
               "--insecure-port=8080"]


def expected(profile, version=V134) -> dict:
    if isinstance(profile, str):
        profile = PROFILES[profile]
    inp = RenderInput(profile.at(version), version, version_table().facts_for(version), "img",
                      "v0.33.0", HostFacts(2))
    return render(inp, "/p").expected


def manifest(extra_flags=(), liveness=None, probe_port=6443, startup=None) -> dict:
    https = {"host": "172.18.0.2", "path": "/livez", "port": "probe-port", "scheme": "HTTPS"}
    return {"spec": {"containers": [{
        "name": "kube-apiserver",
        "command": ["kube-apiserver", "--advertise-address=172.18.0.2",
                    f"--token-auth-file={AUTH_DIR}/tokens.csv", *AUDIT_FLAGS, *extra_flags],
        "livenessProbe": {"httpGet": liveness or dict(https), "failureThreshold": 8,
                          "initialDelaySeconds": 10, "periodSeconds": 10,
                          "timeoutSeconds": 15},
        "readinessProbe": {"httpGet": dict(https, path="/readyz"), "failureThreshold": 3,
                           "periodSeconds": 1, "timeoutSeconds": 15},
        "startupProbe": startup or {"httpGet": dict(https), "failureThreshold": 24,
                                    "initialDelaySeconds": 10, "periodSeconds": 10,
                                    "timeoutSeconds": 15},
        "ports": [{"name": "probe-port", "containerPort": probe_port, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": AUTH_DIR, "name": "authprobe-auth"},
                         {"mountPath": AUDIT_DIR, "name": "authprobe-audit"}],
    }]}}


def test_flags_of():
    found = flags_of({"command": ["x", "--a=1", "--b", "--c=d=e"], "args": ["--f=g", "h"]})
    assert found == {"a": "1", "b": "", "c": "d=e", "f": "g"}


def test_manifest_without_the_apiserver_is_one_line():
    with pytest.raises(AuthprobeError, match="has no kube-apiserver container"):
        apiserver_container({"spec": {"containers": [{"name": "etcd"}]}})


def test_default_profile_matches():
    files = ["tokens.csv", "audit-policy.yaml"]
    assert differences(manifest(), expected("anon-on"), ALL_FLAGS, files) == []


def test_flag_of_another_profile_is_named():
    found = differences(manifest(["--anonymous-auth=false"]), expected("anon-on"), ALL_FLAGS)
    assert found == ["--anonymous-auth=false is set, profile leaves it unset"]


def test_missing_and_wrong_flags():
    assert differences(manifest(), expected("anon-off"), ALL_FLAGS) == [
        "--anonymous-auth is missing (profile sets 'false')"]
    found = differences(manifest(["--anonymous-auth=true"]), expected("anon-off"), ALL_FLAGS)
    assert found == ["--anonymous-auth is 'true', profile sets 'false'"]


def test_missing_audit_flag_is_named():
    bare = manifest()
    command = bare["spec"]["containers"][0]["command"]
    command.remove(f"--audit-log-path={AUDIT_ARGS['audit-log-path']}")
    assert differences(bare, expected("anon-on"), ALL_FLAGS) == [
        f"--audit-log-path is missing (profile sets {AUDIT_ARGS['audit-log-path']!r})"]


def test_probe_profile():
    good = manifest(PROBE_FLAGS, liveness=LIVE_8080, probe_port=8080)
    assert differences(good, expected("anon-off-probe-8080"), ALL_FLAGS) == []
    unpatched = differences(manifest(PROBE_FLAGS), expected("anon-off-probe-8080"), ALL_FLAGS)
    assert "livenessProbe.httpGet.scheme is 'HTTPS', profile sets 'HTTP'" not in unpatched
    assert "livenessProbe.scheme is 'HTTPS', profile sets 'HTTP'" in unpatched
    assert "livenessProbe.port is 'probe-port', profile sets 8080" in unpatched
    assert "port probe-port is 6443, profile sets 8080" in unpatched


def test_probe_profile_before_the_named_port():
    # Before 1.34 kubeadm probes a numeric port and there is no probe-port to move.
    want = expected("anon-off-probe-8080", V133)
    assert want["named_port"] is None
    good = manifest(PROBE_FLAGS, liveness=LIVE_8080, probe_port=6443)
    assert differences(good, want, ALL_FLAGS) == []


def test_moved_probe_on_a_profile_that_keeps_defaults():
    found = differences(manifest(liveness=LIVE_8080), expected("anon-on"), ALL_FLAGS)
    assert found == ["livenessProbe is HTTP on port 8080, profile keeps kubeadm's HTTPS probe"]


def slow_start(tmp_path):
    path = tmp_path / "slow-start.yaml"
    path.write_text("description: x\nprobes:\n"
                    "  startupProbe: {failureThreshold: 30, periodSeconds: 5}\n")
    return expected(load_profile(path))


def test_probe_timing_differences_are_named(tmp_path):
    want = slow_start(tmp_path)
    assert want["probes"] == {"startupProbe": {"failureThreshold": 30, "periodSeconds": 5}}
    found = differences(manifest(), want, ALL_FLAGS)
    assert found == ["startupProbe.failureThreshold is 24, profile sets 30",
                     "startupProbe.periodSeconds is 10, profile sets 5"]
    patched = manifest(startup={"httpGet": {"path": "/livez", "port": "probe-port",
                                            "scheme": "HTTPS"},
                                "failureThreshold": 30, "periodSeconds": 5})
    assert differences(patched, want, ALL_FLAGS) == []


def test_probe_timing_missing_from_the_manifest_is_named(tmp_path):
    want = slow_start(tmp_path)
    bare = manifest(startup={"httpGet": {"path": "/livez", "port": "probe-port",
                                         "scheme": "HTTPS"}})
    assert differences(bare, want, ALL_FLAGS) == [
        "startupProbe.failureThreshold is None, profile sets 30",
        "startupProbe.periodSeconds is None, profile sets 5"]


def test_probe_spec_returns_paths_and_timings():
    container = manifest(PROBE_FLAGS, liveness=LIVE_8080)["spec"]["containers"][0]
    spec = probe_spec(container)
    assert set(spec) == {"livenessProbe", "readinessProbe", "startupProbe"}
    assert spec["livenessProbe"] == {**LIVE_8080, "failureThreshold": 8,
                                     "initialDelaySeconds": 10, "periodSeconds": 10,
                                     "timeoutSeconds": 15}
    assert spec["startupProbe"]["failureThreshold"] == 24
    assert spec["startupProbe"]["port"] == "probe-port"
    assert spec["readinessProbe"]["path"] == "/readyz"
    assert "httpGet" not in spec["readinessProbe"]
    del container["startupProbe"]
    assert "startupProbe" not in probe_spec(container)


def test_auth_files_and_mounts():
    want = expected("anon-health-only")
    flags = [f"--authentication-config={AUTH_DIR}/authentication-config.yaml"]
    assert differences(manifest(flags), want, ALL_FLAGS,
                       ["authentication-config.yaml", "audit-policy.yaml", "tokens.csv"]) == []
    assert differences(manifest(flags), want, ALL_FLAGS, ["tokens.csv"]) == [
        "auth files missing in the node: audit-policy.yaml, authentication-config.yaml"]
    bare = manifest(flags)
    bare["spec"]["containers"][0]["volumeMounts"] = []
    assert differences(bare, want, ALL_FLAGS) == [
        f"{AUTH_DIR} is not mounted into kube-apiserver",
        f"{AUDIT_DIR} is not mounted into kube-apiserver"]


def test_a_kubeadm_default_of_a_flag_another_profile_sets_is_no_difference():
    """kubeadm 1.19 writes --insecure-port=0; only the 2017 fix's 8080 is that profile's."""
    assert differences(manifest(["--insecure-port=0"]), expected("anon-on"), ALL_FLAGS) == []
    found = differences(manifest(["--insecure-port=8080"]), expected("anon-on"), ALL_FLAGS)
    assert found == ["--insecure-port=8080 is set, profile leaves it unset"]
