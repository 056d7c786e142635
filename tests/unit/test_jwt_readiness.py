"""The wait for kube-apiserver to accept a token of the cluster's issuer ends, when it never
does, with one line naming the issuer and quoting kube-apiserver's own log; an issuer whose
profile says ``jwks: mismatched`` publishes a key that signs none of its tokens."""

from __future__ import annotations

from types import SimpleNamespace

from authprobe.harness import servers as cluster_servers
from authprobe.harness.render import HostFacts, RenderInput, render
from authprobe.harness.state import ClusterState
from authprobe.model.profiles import load_profile
from authprobe.model.versions import KubeVersion, version_table

ISSUER = "https://172.18.0.1:40001"
UNREACHABLE = ('E1207 01:02:03.456789       1 oidc.go:419] oidc authenticator: initializing '
               'plugin: Get "https://127.0.0.1:1/.well-known/openid-configuration": dial tcp '
               '127.0.0.1:1: connect: connection refused')
REFUSED = ('E1207 01:02:04.000000       1 authentication.go:75] "Unable to authenticate the '
           'request" err="[invalid bearer token, oidc: verify token: failed to verify '
           'signature: failed to verify id token signature]"')


def test_the_line_names_the_issuer_and_quotes_the_last_line_about_it():
    log = ["I1207 01:02:00.000000       1 server.go:1] serving", UNREACHABLE,
           "I1207 01:02:05.000000       1 controller.go:1] nothing of the issuer"]
    spec = {"issuer": {"discoveryURL": "https://127.0.0.1:1/.well-known/openid-configuration"}}
    line = cluster_servers.jwt_refused_line(ISSUER, spec, 40, 401, log)
    assert line.startswith(
        f"kube-apiserver did not accept a token of the issuer {ISSUER} (discovery at "
        "https://127.0.0.1:1/.well-known/openid-configuration) within 40s (last answer 401); "
        "its log: oidc authenticator: initializing plugin: Get ")
    assert "oidc.go:419]" not in line and "\n" not in line
    assert line.endswith("check that the node reaches the issuer and that its JWKS holds the "
                         "key its tokens are signed with")


def test_the_cause_is_quoted_before_a_later_refusal_then_the_refusal_alone():
    cause = cluster_servers.jwt_refused_line(ISSUER, {}, 120, 401, [UNREACHABLE, REFUSED])
    assert "(last answer 401); its log: oidc authenticator: initializing plugin:" in cause
    line = cluster_servers.jwt_refused_line(ISSUER, {}, 120, 401, [REFUSED])
    assert (f"issuer {ISSUER} within 120s (last answer 401); its log: \"Unable to "
            "authenticate the request\" err=\"[invalid bearer token") in line
    silent = cluster_servers.jwt_refused_line(ISSUER, {}, 120, None, ["I1 x.go:1] other"])
    assert "(last answer None); its log says nothing of it;" in silent


def test_a_mismatched_jwks_holds_no_key_the_issuer_signs_with(tmp_path, monkeypatch):
    path = tmp_path / "mismatched.yaml"
    path.write_text("""
description: d
issuer: {jwks: mismatched, jwt: {issuer: {audiences: [a]}, claimMappings: {username: {claim: sub}}}}
apiserver: {extraArgs: {authentication-config: "{authFile:authentication-config.yaml}"}}
""")
    kube = KubeVersion.parse("1.34.12")
    profile = load_profile(path).at(kube)
    inp = RenderInput(profile, kube, version_table().facts_for(kube), "authprobe/node:test",
                      "v0.33.0", HostFacts())
    monkeypatch.setattr(cluster_servers, "kind_gateway", lambda: "127.0.0.1")
    run = ClusterState(name="c", profile=profile, version=kube, image=None,
                       image_source="build", kind_version="v0.33.0", rendered=render(inp),
                       provider=SimpleNamespace(directory=tmp_path / "cluster"), node=None,
                       expected_down=False)
    env = SimpleNamespace(register_secret=lambda token: None,
                          logs_root=lambda: tmp_path / "logs")
    cluster_servers.start(env, run)
    try:
        issuer = run.servers.issuer
        published = issuer.published_kids()
        assert len(published) == 1
        assert issuer.signing_kid not in published
    finally:
        run.end()


def test_klog_s_multi_line_entry_is_one_line():
    from authprobe.harness.readiness import fold_klog

    lines = ["I1207 02:01:52.000000       1 options.go:1] starting",
             'E1207 02:01:53.016851       1 run.go:72] "command failed" err=<',
             "\tauthorizers[1].matchConditions[0].expression: Invalid value: "
             "\"request.userName.startsWith('jwt:')\": compilation failed: ERROR: <input>:1:8: "
             "undefined field 'userName'",
             "\t | request.userName.startsWith('jwt:')",
             "\t | .......^",
             " >"]
    folded = fold_klog(lines)
    assert folded[0] == lines[0] and len(folded) == 2
    assert folded[1].startswith('E1207 02:01:53.016851       1 run.go:72] "command failed" '
                                "err=<authorizers[1].matchConditions[0].expression: Invalid")
    assert folded[1].endswith("undefined field 'userName' | request.userName.startsWith("
                              "'jwt:') | .......^>")
    assert fold_klog(lines[:3]) == lines[:3]
