"""The profile oidc-flags: the cluster's issuer through kube-apiserver's --oidc-* flags. Its
flags per minor, the kind config rendered with the pending issuer URL and again with the
running issuer's, the hash that stays that of the pending rendering, the profile checks that
mirror what kube-apiserver refuses, and usernames written with the issuer's URL by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.harness import servers as cluster_servers
from authprobe.harness.handle import ClusterHandle
from authprobe.harness.render import (
    AUTH_DIR,
    PENDING_ENDPOINTS,
    Endpoints,
    HostFacts,
    RenderInput,
    render,
    server_files,
    with_endpoints,
)
from authprobe.harness.state import ClusterState
from authprobe.model.profiles import ISSUER_CA_FILE, load_profile
from authprobe.model.versions import KubeVersion, supported, version_table
from authprobe.paths import clusters_dir

PROFILES = clusters_dir() / "profiles"
RUNNING = Endpoints("https://172.18.0.1:40123", "-----BEGIN CERTIFICATE-----\nx\n", "")
# The flags of the profile on every minor: kube-apiserver has each of them from 1.19 to 1.37
# (pkg/kubeapiserver/options/authentication.go), none deprecated.
FLAGS = {
    "oidc-issuer-url": "{issuerURL}",
    "oidc-ca-file": "{authFile:issuer-ca.crt}",
    "oidc-client-id": "authprobe-oidc-flags",
    "oidc-groups-claim": "groups",
    "oidc-groups-prefix": "jwt:",
    "oidc-required-claim": "tenant=authprobe",
    "oidc-signing-algs": "ES256",
}


def at(profile_id: str, version: str):
    return load_profile(PROFILES / f"{profile_id}.yaml").at(KubeVersion.parse(version))


def render_input(profile_id: str, version: str = "1.34.12") -> RenderInput:
    kube = KubeVersion.parse(version)
    return RenderInput(at(profile_id, version), kube, version_table().facts_for(kube),
                       "authprobe/node:test", "v0.33.0", HostFacts())


def cluster_args(kind_config: str) -> dict:
    """The kube-apiserver extraArgs of the kind config's ClusterConfiguration patch."""
    for patch in yaml.safe_load(kind_config)["kubeadmConfigPatches"]:
        doc = yaml.safe_load(patch)
        if doc["kind"] == "ClusterConfiguration":
            return doc["apiServer"]["extraArgs"]
    raise AssertionError("no ClusterConfiguration patch in the kind config")


@pytest.mark.parametrize("minor", sorted(supported()))
def test_the_profile_runs_on_every_supported_minor_with_the_same_flags(minor):
    profile = at("oidc-flags", str(supported()[minor].patch))
    assert profile.na is None
    assert dict(profile.extra_args) == FLAGS
    assert profile.issuer_by_flags and profile.generated_files == (ISSUER_CA_FILE,)
    assert profile.jwt_audience == "authprobe-oidc-flags"
    assert profile.note


def test_the_audience_of_a_jwt_entry_is_its_first():
    assert at("jwt-authn", "1.34.12").jwt_audience == "authprobe-jwt-authn"
    assert not at("jwt-authn", "1.34.12").issuer_by_flags
    assert at("anon-on", "1.34.12").jwt_audience == ""


def test_rendered_before_the_issuer_runs_the_flags_name_the_pending_issuer():
    rendered = render(render_input("oidc-flags"), "/p")
    args = cluster_args(rendered.kind_config)
    assert args["oidc-issuer-url"] == PENDING_ENDPOINTS.issuer_url
    assert args["oidc-ca-file"] == f"{AUTH_DIR}/{ISSUER_CA_FILE}"
    assert rendered.expected["args"]["oidc-issuer-url"] == PENDING_ENDPOINTS.issuer_url
    assert rendered.auth_files[ISSUER_CA_FILE] == ""
    assert "authentication-config.yaml" not in rendered.auth_files
    assert ISSUER_CA_FILE in rendered.expected["auth_files"]


@pytest.mark.parametrize("version", ["1.19.16", "1.30.14", "1.34.12", "1.37.2"])
def test_rendered_again_the_kind_config_names_the_running_issuer_and_the_hash_stays(version):
    pending = render(render_input("oidc-flags", version), "/p")
    again = with_endpoints(pending, RUNNING)
    assert cluster_args(again.kind_config)["oidc-issuer-url"] == RUNNING.issuer_url
    assert again.expected["args"]["oidc-issuer-url"] == RUNNING.issuer_url
    assert again.auth_files[ISSUER_CA_FILE] == RUNNING.ca_pem
    assert again.config_hash == pending.config_hash
    # Nothing else of the kind config changes.
    assert again.kind_config.replace(RUNNING.issuer_url, PENDING_ENDPOINTS.issuer_url) == (
        pending.kind_config)


def test_a_profile_with_a_jwt_entry_keeps_its_kind_config_when_rendered_again():
    pending = render(render_input("jwt-authn"), "/p")
    again = with_endpoints(pending, RUNNING)
    assert again.kind_config == pending.kind_config
    assert again.config_hash == pending.config_hash
    authn = yaml.safe_load(again.auth_files["authentication-config.yaml"])
    assert authn["jwt"][0]["issuer"]["url"] == RUNNING.issuer_url


def test_the_servers_step_renders_the_kind_config_again_before_create(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_servers, "kind_gateway", lambda: "127.0.0.1")
    inp = render_input("oidc-flags")
    pending = render(inp, str(tmp_path / "cluster"))
    provider = SimpleNamespace(directory=tmp_path / "cluster")
    run = ClusterState(name="c", profile=inp.profile, version=inp.version, image=None,
                       image_source="build", kind_version="v0.33.0", rendered=pending,
                       provider=provider, node=None, expected_down=False)
    env = SimpleNamespace(register_secret=lambda _: None, logs_root=lambda: tmp_path / "logs")
    said = cluster_servers.start(env, run)
    try:
        url = run.servers.issuer.issuer_url
        assert said == f"issuer {url}" and run.servers.authorizer is None
        assert cluster_args(run.rendered.kind_config)["oidc-issuer-url"] == url
        assert run.rendered.expected["args"]["oidc-issuer-url"] == url
        ca = (provider.directory / "servers" / "ca.crt").read_text()
        assert run.rendered.auth_files[ISSUER_CA_FILE] == ca
        assert run.rendered.config_hash == pending.config_hash
    finally:
        run.end()


def profile_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


FLAGS_PROFILE = """
description: d
issuer: {claims: {tenant: t}}
apiserver:
  extraArgs:
"""


@pytest.mark.parametrize("args, message", [
    ({"oidc-client-id": "a"}, "add --oidc-issuer-url"),
    ({"oidc-issuer-url": "{issuerURL}"}, "add --oidc-client-id"),
    ({"oidc-issuer-url": "https://elsewhere.example", "oidc-client-id": "a"},
     "'oidc-issuer-url' must be \"{issuerURL}\""),
    ({"oidc-issuer-url": "{issuerURL}", "oidc-client-id": "a",
      "oidc-username-prefix": "{issuerURL}"}, "only oidc-issuer-url may"),
])
def test_an_issuer_without_a_jwt_entry_needs_its_flags(tmp_path, args, message):
    text = FLAGS_PROFILE + "".join(f"    {name}: '{value}'\n" for name, value in args.items())
    with pytest.raises(AuthprobeError, match=message) as raised:
        load_profile(profile_file(tmp_path, text))
    assert "\n" not in str(raised.value)


def test_the_oidc_flags_beside_an_authentication_config_are_refused(tmp_path):
    path = profile_file(tmp_path, """
description: d
issuer: {jwt: {issuer: {audiences: [a]}, claimMappings: {username: {claim: sub}}}}
apiserver:
  extraArgs:
    authentication-config: "{authFile:authentication-config.yaml}"
    oidc-groups-prefix: "x:"
""")
    with pytest.raises(AuthprobeError, match="--oidc-groups-prefix cannot be combined with "
                                             "--authentication-config"):
        load_profile(path)


def test_the_issuer_url_without_an_issuer_by_flags_is_refused(tmp_path):
    path = profile_file(tmp_path, """
description: d
apiserver:
  extraArgs: {oidc-issuer-url: "{issuerURL}", oidc-client-id: a}
""")
    with pytest.raises(AuthprobeError, match="only oidc-issuer-url may, in a profile whose "
                                             "issuer part has no jwt entry"):
        load_profile(path)


@pytest.mark.parametrize("algs", [None, "RS256"])
def test_signing_algorithms_leaving_out_the_issuer_s_are_one_line(tmp_path, algs):
    text = FLAGS_PROFILE + "    oidc-issuer-url: '{issuerURL}'\n    oidc-client-id: a\n" + (
        f"    oidc-signing-algs: {algs}\n" if algs else "")
    profile = load_profile(profile_file(tmp_path, text)).at(KubeVersion.parse("1.34.12"))
    with pytest.raises(AuthprobeError, match="signs with ES256, which --oidc-signing-algs=RS256 "
                                             "leaves out"):
        server_files(profile, KubeVersion.parse("1.34.12"), PENDING_ENDPOINTS)


def handle_with_issuer(url: str | None) -> ClusterHandle:
    issuer = SimpleNamespace(issuer_url=url) if url else None
    record = SimpleNamespace(servers=SimpleNamespace(issuer=issuer) if url else None)
    return ClusterHandle(record)


def test_a_username_is_recorded_with_the_issuer_url_by_name():
    cluster = handle_with_issuer(RUNNING.issuer_url)
    assert cluster.by_name(f"{RUNNING.issuer_url}#alice") == "{issuerURL}#alice"
    assert cluster.by_name(f'User "{RUNNING.issuer_url}#carol" cannot list') == (
        'User "{issuerURL}#carol" cannot list')
    assert cluster.by_name("https://172.18.0.1:40999#alice") == "https://172.18.0.1:40999#alice"
    assert cluster.by_name("jwt:alice") == "jwt:alice"
    assert cluster.by_name(None) is None
    assert handle_with_issuer(None).by_name(f"{RUNNING.issuer_url}#alice") == (
        f"{RUNNING.issuer_url}#alice")
