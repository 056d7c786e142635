"""The profiles that run the cluster's servers (jwt-authn, authz-webhook): their files per
minor, the files rendered again with the servers' endpoints, the flags kubeadm must leave out,
the step that starts the servers and the cleanups that stop them, and their logs in a report
(scrubbed)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness import servers as cluster_servers
from authprobe.harness.render import (
    AUTH_DIR,
    PENDING_ENDPOINTS,
    Endpoints,
    HostFacts,
    RenderInput,
    render,
    server_files,
)
from authprobe.harness.state import ClusterState
from authprobe.harness.verify import differences
from authprobe.model.profiles import load_profile
from authprobe.model.versions import KubeVersion, version_table
from authprobe.paths import clusters_dir
from authprobe.report import scrub

PROFILES = clusters_dir() / "profiles"


def at(profile_id: str, version: str):
    return load_profile(PROFILES / f"{profile_id}.yaml").at(KubeVersion.parse(version))


def files(profile_id: str, version: str, endpoints: Endpoints = PENDING_ENDPOINTS) -> dict:
    return {name: yaml.safe_load(text) for name, text in
            server_files(at(profile_id, version), KubeVersion.parse(version), endpoints).items()}


@pytest.mark.parametrize("version, api", [("1.30.14", "v1beta1"), ("1.33.13", "v1beta1"),
                                          ("1.34.12", "v1"), ("1.37.2", "v1")])
def test_jwt_authn_writes_the_authentication_configuration_each_minor_takes(version, api):
    rendered = files("jwt-authn", version)
    assert list(rendered) == ["authentication-config.yaml"]
    document = rendered["authentication-config.yaml"]
    assert document["apiVersion"] == f"apiserver.config.k8s.io/{api}"
    [jwt] = document["jwt"]
    assert jwt["issuer"]["audiences"] == ["authprobe-jwt-authn"]
    assert jwt["claimMappings"]["username"] == {"claim": "sub", "prefix": "jwt:"}
    assert jwt["claimMappings"]["groups"] == {"claim": "groups", "prefix": "jwt:"}
    assert jwt["claimValidationRules"][0]["expression"]
    assert jwt["userValidationRules"][0]["expression"]


@pytest.mark.parametrize("version, authn, authz", [("1.30.14", "v1beta1", "v1beta1"),
                                                   ("1.31.4", "v1beta1", "v1beta1"),
                                                   ("1.32.9", "v1beta1", "v1"),
                                                   ("1.34.12", "v1", "v1")])
def test_authz_webhook_writes_the_chain_in_the_apiversion_each_minor_takes(version, authn,
                                                                           authz):
    rendered = files("authz-webhook", version)
    assert rendered["authentication-config.yaml"]["apiVersion"].endswith("/" + authn)
    chain = rendered["authorization-config.yaml"]
    assert chain["apiVersion"] == f"apiserver.config.k8s.io/{authz}"
    assert [entry["type"] for entry in chain["authorizers"]] == [
        "Node", "Webhook", "Webhook", "RBAC"]
    first, strict = (chain["authorizers"][i]["webhook"] for i in (1, 2))
    assert (first["failurePolicy"], strict["failurePolicy"]) == ("NoOpinion", "Deny")
    assert len(first["matchConditions"]) == len(strict["matchConditions"]) == 2
    assert "jwt:strict-" in strict["matchConditions"][0]["expression"]
    for webhook in (first, strict):
        assert webhook["connectionInfo"] == {
            "type": "KubeConfigFile", "kubeConfigFile": f"{AUTH_DIR}/webhook-kubeconfig.yaml"}


@pytest.mark.parametrize("profile_id", ["jwt-authn", "authz-webhook"])
def test_the_server_profiles_are_na_before_1_30_with_the_reason(profile_id):
    profile = at(profile_id, "1.19.16")
    assert profile.na and "1.30" in profile.na


def test_the_files_rendered_again_name_the_running_servers_and_their_ca():
    endpoints = Endpoints("https://172.18.0.1:40001", "-----BEGIN CERTIFICATE-----\nx\n",
                          "https://172.18.0.1:40002/authorize")
    rendered = files("authz-webhook", "1.34.12", endpoints)
    issuer = rendered["authentication-config.yaml"]["jwt"][0]["issuer"]
    assert issuer["url"] == endpoints.issuer_url
    assert issuer["certificateAuthority"] == endpoints.ca_pem
    kubeconfig = rendered["webhook-kubeconfig.yaml"]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == endpoints.webhook_url


def render_input(profile_id: str, version: str = "1.34.12") -> RenderInput:
    kube = KubeVersion.parse(version)
    return RenderInput(at(profile_id, version), kube, version_table().facts_for(kube),
                       "authprobe/node:test", "v0.33.0", HostFacts())


def test_the_hash_does_not_depend_on_the_servers_ports():
    """Rendered with the pending endpoints, a cluster's hash is the same on every run."""
    first, again = render(render_input("authz-webhook")), render(render_input("authz-webhook"))
    assert first.config_hash == again.config_hash
    assert {"authentication-config.yaml", "authorization-config.yaml",
            "webhook-kubeconfig.yaml"} <= set(first.auth_files)


def test_authorization_mode_beside_authorization_config_is_a_difference():
    expected = render(render_input("authz-webhook")).expected
    assert expected["absent_args"] == ["authorization-mode"]
    flags = [f"--{name}={value}" for name, value in expected["args"].items()]
    manifest = {"spec": {"containers": [{
        "name": "kube-apiserver", "command": ["kube-apiserver", *flags],
        "volumeMounts": [{"mountPath": path} for path in expected["mounts"]]}]}}
    assert differences(manifest, expected, {}) == []
    manifest["spec"]["containers"][0]["command"].append("--authorization-mode=Node,RBAC")
    assert differences(manifest, expected, {}) == [
        "--authorization-mode=Node,RBAC is set, profile leaves it out"]


def profile_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_a_profile_may_not_write_a_file_the_harness_writes(tmp_path):
    path = profile_file(tmp_path, """
description: d
issuer: {jwt: {issuer: {audiences: [a]}, claimMappings: {username: {claim: sub}}}}
authFiles:
  authentication-config.yaml: {apiVersion: v1, kind: X}
""")
    with pytest.raises(AuthprobeError, match="written by authprobe"):
        load_profile(path)


def test_a_chain_needs_a_webhook(tmp_path):
    path = profile_file(tmp_path, """
description: d
authorizer: {chain: [{type: Node}, {type: RBAC}]}
""")
    with pytest.raises(AuthprobeError, match="has no Webhook entry"):
        load_profile(path)


def test_two_webhook_entries_need_their_own_names(tmp_path):
    path = profile_file(tmp_path, """
description: d
authorizer: {chain: [{type: Webhook}, {type: Webhook, webhook: {failurePolicy: Deny}}]}
""")
    profile = load_profile(path).at(KubeVersion.parse("1.34.12"))
    with pytest.raises(AuthprobeError, match=r"authorizer names \['webhook'\] repeat"):
        server_files(profile, KubeVersion.parse("1.34.12"), PENDING_ENDPOINTS)


def test_the_issuer_s_jwks_is_its_signing_keys_or_mismatched(tmp_path):
    path = profile_file(tmp_path, """
description: d
issuer: {jwks: stale, jwt: {issuer: {audiences: [a]}, claimMappings: {username: {claim: sub}}}}
""")
    with pytest.raises(AuthprobeError, match="issuer.jwks 'stale': write one of signing, "
                                             "mismatched"):
        load_profile(path)


def test_a_bad_policy_rule_is_one_line_at_render(tmp_path):
    path = profile_file(tmp_path, """
description: d
authorizer:
  chain: [{type: Webhook, name: w}]
  policy: {rules: [{user: x, decision: maybe, reason: r}]}
""")
    profile = load_profile(path).at(KubeVersion.parse("1.34.12"))
    with pytest.raises(AuthprobeError, match=r"rules\[0\]: unknown decision 'maybe'"):
        server_files(profile, KubeVersion.parse("1.34.12"), PENDING_ENDPOINTS)


def test_kind_s_ipv6_subnet_and_the_oldest_network_s_gateway():
    assert cluster_servers.kind_ipv6_subnet("kind") == "fc00:f853:ccd:e793::/64"
    inspected = [
        {"Id": "b", "Created": "2026-12-06T10:00:01Z",
         "IPAM": {"Config": [{"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}]}},
        {"Id": "a", "Created": "2026-12-06T10:00:00Z",
         "IPAM": {"Config": [{"Subnet": "fc00::/64", "Gateway": "fc00::1"},
                             {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}},
    ]
    assert cluster_servers.gateway_of(inspected) == "172.18.0.1"
    assert cluster_servers.gateway_of([]) is None


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_servers_step_starts_both_and_the_cluster_s_end_stops_them(tmp_path, monkeypatch):
    """The step binds the gateway, makes the CA in the private folder (0700, keys 0600),
    renders the files with the real endpoints and registers one cleanup per server: after the
    cluster's end the ports are closed and each log is in the report's folder."""
    monkeypatch.setattr(cluster_servers, "kind_gateway", lambda: "127.0.0.1")
    kube = KubeVersion.parse("1.34.12")
    inp = render_input("authz-webhook")
    secrets: list[str] = []
    provider = SimpleNamespace(directory=tmp_path / "cluster")
    run = ClusterState(name="c", profile=inp.profile, version=kube, image=None,
                       image_source="build", kind_version="v0.33.0", rendered=render(inp),
                       provider=provider, node=None, expected_down=False)
    env = SimpleNamespace(register_secret=secrets.append, logs_root=lambda: tmp_path / "logs")
    said = cluster_servers.start(env, run)
    assert "issuer https://127.0.0.1:" in said and "webhook https://127.0.0.1:" in said
    ports = [run.servers.issuer.port, run.servers.authorizer.port]
    assert all(port_open(port) for port in ports)
    folder = provider.directory / "servers"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {p.name for p in folder.glob("*.key")} == {"ca.key", "servers.key"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.glob("*.key"))
    authn = yaml.safe_load(run.rendered.auth_files["authentication-config.yaml"])
    assert authn["jwt"][0]["issuer"]["url"] == run.servers.issuer.issuer_url
    token = run.servers.mint("alice", "authprobe-authz-webhook")
    assert secrets == [token]
    lines = run.end()
    assert not any(port_open(port) for port in ports)
    assert any(line.startswith("webhook authorizer stopped") for line in lines)
    assert any(line.startswith("issuer stopped") for line in lines)
    logs = tmp_path / "logs" / "c"
    minted = [json.loads(line) for line in (logs / "issuer.jsonl").read_text().splitlines()]
    assert [record["sub"] for record in minted if record.get("record") == "minted"] == ["alice"]
    assert token not in (logs / "issuer.jsonl").read_text()
    assert (logs / "webhook-authorizer.jsonl").exists()


def test_a_server_log_holding_a_registered_token_is_scrubbed_in_the_report(tmp_path):
    """A server's log passes through the report's scrubbing like every log: a minted token
    that reached a record (a reason quoting it) is replaced."""
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
    scrub.register_secret(token)
    path = tmp_path / "logs" / "c" / cluster_servers.WEBHOOK_LOG
    path.parent.mkdir(parents=True)
    cluster_servers.write_log(path, [{"decision": "deny", "reason": f"saw {token}"}],
                              {"minted": [{"sub": "alice", "kid": "k1"}]})
    scrub.scrub_tree(tmp_path / "logs")
    text = path.read_text()
    assert token not in text
    assert scrub.REDACTED in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[1] == {"record": "minted", "sub": "alice", "kid": "k1"}


class FakeDocker:
    """``docker`` as the network questions see it: no kind network until one is created,
    and a create with IPv6 refused when ``ipv6`` is false."""

    def __init__(self, ipv6: bool) -> None:
        self.ipv6, self.calls, self.network = ipv6, [], None

    def __call__(self, *argv, timeout=None):
        self.calls.append(argv)
        if argv[:2] == ("network", "inspect") and argv[2] == "bridge":
            return SimpleNamespace(returncode=0, stdout="1500\n", stderr="")
        if argv[:2] == ("network", "inspect"):
            if self.network is None:
                return SimpleNamespace(returncode=1, stdout="[]", stderr="no such network")
            return SimpleNamespace(returncode=0, stdout=json.dumps([self.network]), stderr="")
        if argv[:2] == ("network", "create"):
            if "--ipv6" in argv and not self.ipv6:
                return SimpleNamespace(returncode=1, stdout="", stderr="IPv6 unavailable")
            self.network = {"Id": "n", "Created": "2026-12-06T10:00:00Z", "IPAM": {
                "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}}
            return SimpleNamespace(returncode=0, stdout="n\n", stderr="")
        raise AssertionError(f"unexpected docker {argv}")


@pytest.mark.parametrize("ipv6", [True, False])
def test_the_kind_network_is_made_as_kind_makes_it_when_missing(monkeypatch, ipv6):
    fake = FakeDocker(ipv6)
    monkeypatch.setattr(cluster_servers, "docker", fake)
    assert cluster_servers.kind_gateway() == "172.18.0.1"
    creates = [argv for argv in fake.calls if argv[:2] == ("network", "create")]
    assert creates[0] == ("network", "create", "-d=bridge", "-o",
                          "com.docker.network.bridge.enable_ip_masquerade=true", "-o",
                          "com.docker.network.driver.mtu=1500", "--ipv6", "--subnet",
                          "fc00:f853:ccd:e793::/64", "kind")
    assert len(creates) == (1 if ipv6 else 2)
    assert cluster_servers.kind_gateway() == "172.18.0.1"
    assert len([a for a in fake.calls if a[:2] == ("network", "create")]) == len(creates)
