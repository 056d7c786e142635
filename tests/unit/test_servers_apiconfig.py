"""The AuthenticationConfiguration and AuthorizationConfiguration a profile renders, per minor."""

from __future__ import annotations

import pytest
import yaml

from authprobe.errors import AuthprobeError
from authprobe.model.profiles import load_dirs
from authprobe.model.versions import KubeVersion, supported
from authprobe.paths import clusters_dir
from authprobe.servers import apiconfig
from authprobe.servers.apiconfig import (
    AUTHENTICATION,
    AUTHORIZATION,
    authentication_configuration,
    authorization_configuration,
    authorizer,
    config_api,
    jwt_authenticator,
    webhook_authorizer,
)

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
ISSUER = "https://172.18.0.1:40443"
GROUP = "apiserver.config.k8s.io/"

# The evidence table of clusters/apiserver-config.yaml: minor -> (written authn, written
# authz, authn versions decoded, authz versions decoded).
TABLE = {
    "1.29": ("v1alpha1", "v1alpha1", ["v1alpha1"], ["v1alpha1"]),
    "1.30": ("v1beta1", "v1beta1", ["v1alpha1", "v1beta1"], ["v1alpha1", "v1beta1"]),
    "1.31": ("v1beta1", "v1beta1", ["v1alpha1", "v1beta1"], ["v1alpha1", "v1beta1"]),
    "1.32": ("v1beta1", "v1", ["v1alpha1", "v1beta1"], ["v1alpha1", "v1beta1", "v1"]),
    "1.33": ("v1beta1", "v1", ["v1alpha1", "v1beta1"], ["v1alpha1", "v1beta1", "v1"]),
    **{minor: ("v1", "v1", ["v1alpha1", "v1beta1", "v1"], ["v1alpha1", "v1beta1", "v1"])
       for minor in ("1.34", "1.35", "1.36", "1.37")},
}

SPEC = {
    "issuer": {"audiences": ["authprobe"]},
    "claimValidationRules": [{"claim": "hd", "requiredValue": "example.test"},
                             {"expression": "claims.exp - claims.nbf <= 3600",
                              "message": "tokens live at most an hour"}],
    "claimMappings": {"username": {"claim": "sub", "prefix": "jwt:"},
                      "groups": {"claim": "groups", "prefix": "jwt:"},
                      "uid": {"claim": "sub"},
                      "extra": [{"key": "example.test/team", "valueExpression": "claims.team"}]},
    "userValidationRules": [{"expression": "!user.username.startsWith('system:')",
                             "message": "no system: users from this issuer"}],
}


def version(text: str) -> KubeVersion:
    return KubeVersion.parse(text)


@pytest.mark.parametrize("minor", sorted(TABLE))
def test_api_versions_per_minor(minor):
    authn, authz, authn_served, authz_served = TABLE[minor]
    got_authn = config_api(AUTHENTICATION, version(minor))
    got_authz = config_api(AUTHORIZATION, version(minor))
    assert (got_authn.api_version, got_authz.api_version) == (GROUP + authn, GROUP + authz)
    assert (list(got_authn.served), list(got_authz.served)) == (authn_served, authz_served)
    assert (got_authn.gate is None) == (got_authz.gate is None) == (minor != "1.29")


def test_stages_and_gates():
    stages = {minor: (config_api(AUTHENTICATION, version(minor)).stage,
                      config_api(AUTHORIZATION, version(minor)).stage) for minor in TABLE}
    assert stages["1.29"] == ("alpha", "alpha")
    assert stages["1.31"] == ("beta", "beta")
    assert stages["1.32"] == ("beta", "GA")
    assert stages["1.34"] == ("GA", "GA")
    assert config_api(AUTHENTICATION, version("1.29")).gate == \
        "StructuredAuthenticationConfiguration"
    assert config_api(AUTHORIZATION, version("1.29")).gate == \
        "StructuredAuthorizationConfiguration"


def test_every_supported_minor_resolves_or_says_why():
    for minor in supported():
        v = version(minor)
        if v < version("1.29"):
            with pytest.raises(AuthprobeError, match=rf"Kubernetes {minor} has no "
                               r"AuthenticationConfiguration \(alpha in 1.29\); run"):
                config_api(AUTHENTICATION, v)
        else:
            assert config_api(AUTHENTICATION, v).api_version.startswith(GROUP)
            assert config_api(AUTHORIZATION, v).api_version.startswith(GROUP)


def test_patch_versions_take_their_minors_row():
    assert config_api(AUTHORIZATION, version("1.32.9")).api_version == GROUP + "v1"
    assert config_api(AUTHENTICATION, version("1.33.13")).api_version == GROUP + "v1beta1"


def test_jwt_authentication_configuration_renders_the_profile():
    entry = jwt_authenticator(ISSUER, CA, SPEC)
    document = authentication_configuration(version("1.34"), [entry])
    assert document == {
        "apiVersion": GROUP + "v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [{
            "issuer": {"url": ISSUER, "certificateAuthority": CA, "audiences": ["authprobe"]},
            "claimValidationRules": SPEC["claimValidationRules"],
            "claimMappings": SPEC["claimMappings"],
            "userValidationRules": SPEC["userValidationRules"],
        }],
    }
    text = apiconfig.to_yaml(document)
    assert yaml.safe_load(text) == document
    assert text.startswith("apiVersion: apiserver.config.k8s.io/v1\nkind: "
                           "AuthenticationConfiguration\n")


def test_same_profile_on_1_30_takes_v1beta1():
    document = authentication_configuration(version("1.30"), [jwt_authenticator(ISSUER, CA,
                                                                                 SPEC)])
    assert document["apiVersion"] == GROUP + "v1beta1"


def test_fields_later_than_the_minor_are_one_line():
    spec = {**SPEC, "issuer": {"audiences": ["a"], "egressSelectorType": "cluster"}}
    entry = jwt_authenticator(ISSUER, CA, spec)
    with pytest.raises(AuthprobeError, match=r"field jwt\[0\]\.issuer\.egressSelectorType is "
                                             r"in Kubernetes 1\.34 and later, not in 1\.33"):
        authentication_configuration(version("1.33"), [entry])
    assert authentication_configuration(version("1.34"), [entry])["jwt"][0]["issuer"][
        "egressSelectorType"] == "cluster"
    plain = jwt_authenticator(ISSUER, CA, SPEC)
    anonymous = {"enabled": True, "conditions": [{"path": "/livez"}]}
    with pytest.raises(AuthprobeError, match="^AuthenticationConfiguration field anonymous is "
                                             "in Kubernetes 1.31 and later, not in 1.30: take"):
        authentication_configuration(version("1.30"), [plain], anonymous=anonymous)
    assert authentication_configuration(version("1.31"), [plain],
                                        anonymous=anonymous)["anonymous"] == anonymous


def test_unknown_fields_are_named_with_their_place():
    spec = {**SPEC, "claimMappings": {"username": {"claim": "sub", "prefx": ""}}}
    with pytest.raises(AuthprobeError, match=r"^AuthenticationConfiguration has no field "
                                             r"jwt\[0\]\.claimMappings\.username\.prefx: take"):
        authentication_configuration(version("1.35"), [jwt_authenticator(ISSUER, CA, spec)])
    rules = {**SPEC, "claimValidationRules": [{"claim": "a", "requiredValue": "b"},
                                              {"expr": "true"}]}
    with pytest.raises(AuthprobeError, match=r"no field jwt\[0\]\.claimValidationRules\[1\]"
                                             r"\.expr:"):
        authentication_configuration(version("1.35"), [jwt_authenticator(ISSUER, CA, rules)])


def test_unchecked_render_keeps_a_file_as_a_team_wrote_it():
    """A file kept from an older minor, or one the minor must refuse, renders as given."""
    spec = {**SPEC, "issuer": {"audiences": ["a"], "egressSelectorType": "cluster"}}
    document = authentication_configuration(
        version("1.30"), [jwt_authenticator(ISSUER, CA, spec)],
        api_version=GROUP + "v1", check=False)
    assert document["apiVersion"] == GROUP + "v1"
    assert document["jwt"][0]["issuer"]["egressSelectorType"] == "cluster"


def test_1_29_limits_one_issuer_and_one_audience():
    two_audiences = jwt_authenticator(ISSUER, CA, {**SPEC, "issuer": {
        "audiences": ["a", "b"], "audienceMatchPolicy": "MatchAny"}})
    with pytest.raises(AuthprobeError, match="field jwt\\[0\\].issuer.audienceMatchPolicy is in "
                                             "Kubernetes 1.30"):
        authentication_configuration(version("1.29"), [two_audiences])
    one = jwt_authenticator(ISSUER, CA, {**SPEC, "issuer": {"audiences": ["a", "b"]}})
    with pytest.raises(AuthprobeError, match="takes 1 audience per issuer, the profile lists 2"):
        authentication_configuration(version("1.29"), [one])
    single = jwt_authenticator(ISSUER, CA, SPEC)
    with pytest.raises(AuthprobeError, match="takes at most 1 jwt authenticators, the profile "
                                             "has 2"):
        authentication_configuration(version("1.29"), [single, single])
    assert len(authentication_configuration(version("1.30"), [two_audiences, single])["jwt"]) == 2


@pytest.mark.parametrize(("spec", "line"), [
    ({"issuer": {"url": "https://x", "audiences": ["a"]}, "claimMappings": {}},
     "jwt issuer url: the harness fills these"),
    ({"issuer": {}, "claimMappings": {}}, "needs at least one audience"),
    ({"issuer": {"audiences": ["a"]}}, "needs at least the username mapping"),
])
def test_jwt_spec_mistakes_are_one_line(spec, line):
    with pytest.raises(AuthprobeError, match=line):
        jwt_authenticator(ISSUER, CA, spec)


def test_authorization_chain_node_webhook_rbac():
    kubeconfig = "/etc/kubernetes/authprobe/webhook.kubeconfig"
    webhook = webhook_authorizer("authprobe-webhook", kubeconfig,
                                 {"failurePolicy": "Deny", "matchConditions": [
                                     {"expression": "request.user.startsWith('jwt:')"}]})
    document = authorization_configuration(version("1.32"),
                                           [authorizer("Node"), webhook, authorizer("RBAC")])
    assert document == {
        "apiVersion": GROUP + "v1",
        "kind": "AuthorizationConfiguration",
        "authorizers": [
            {"type": "Node", "name": "node"},
            {"type": "Webhook", "name": "authprobe-webhook", "webhook": {
                "timeout": "3s", "authorizedTTL": "1s", "unauthorizedTTL": "1s",
                "subjectAccessReviewVersion": "v1",
                "matchConditionSubjectAccessReviewVersion": "v1",
                "failurePolicy": "Deny",
                "matchConditions": [{"expression": "request.user.startsWith('jwt:')"}],
                "connectionInfo": {"type": "KubeConfigFile", "kubeConfigFile":
                                   "/etc/kubernetes/authprobe/webhook.kubeconfig"}}},
            {"type": "RBAC", "name": "rbac"},
        ],
    }
    assert authorization_configuration(version("1.31"), document["authorizers"])[
        "apiVersion"] == GROUP + "v1beta1"


def test_webhook_cache_switches_are_1_34_fields():
    webhook = webhook_authorizer("w", "/k", {"cacheAuthorizedRequests": False,
                                             "cacheUnauthorizedRequests": False})
    with pytest.raises(AuthprobeError, match=r"authorizers\[0\]\.webhook\."
                                             r"cacheAuthorizedRequests is in Kubernetes 1\.34"):
        authorization_configuration(version("1.33"), [webhook])
    assert authorization_configuration(version("1.34"), [webhook])["authorizers"][0][
        "webhook"]["cacheAuthorizedRequests"] is False


@pytest.mark.parametrize(("call", "line"), [
    (lambda: webhook_authorizer("w", "/k", {"connectionInfo": {"type": "InClusterConfig"}}),
     "webhook w connectionInfo: the harness writes it"),
    (lambda: authorization_configuration(version("1.34"), [
         webhook_authorizer("w", "/k", {"failurPolicy": "Deny"})]),
     r"has no field authorizers\[0\]\.webhook\.failurPolicy"),
    (lambda: authorizer("Webhook"), "a webhook is made by webhook_authorizer"),
    (lambda: authorizer("Nodes"), "authorizer type 'Nodes': write one of Node, RBAC"),
    (lambda: authorization_configuration(version("1.34"), [authorizer("Node"),
                                                           authorizer("RBAC", "node")]),
     r"authorizer names \['node'\] repeat"),
])
def test_authorization_mistakes_are_one_line(call, line):
    with pytest.raises(AuthprobeError, match=line):
        call()


@pytest.mark.parametrize("minor", sorted(supported()))
def test_shipped_auth_files_are_what_the_table_writes(minor):
    """Every AuthenticationConfiguration a shipped profile already writes by hand takes the
    apiVersion this table gives for its minor, and uses only fields the minor's types have."""
    checked = []
    for profile in load_dirs([clusters_dir() / "profiles"]).values():
        at = profile.at(version(minor))
        if at.na is not None:
            continue
        for document in at.auth_files.values():
            if document.get("kind") not in apiconfig.KINDS:
                continue
            kind = document["kind"]
            assert document["apiVersion"] == config_api(kind, version(minor)).api_version
            body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
            assert apiconfig.missing_fields(kind, body, version(minor)) == []
            checked.append(profile.id)
    # anon-health-only writes one from 1.31 on.
    assert ("anon-health-only" in checked) == (version(minor) >= version("1.31"))
