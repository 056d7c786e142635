"""The OIDC issuer over real HTTPS on 127.0.0.1: discovery, JWKS, tokens good and bad, its log."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
import requests
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
)
from joserfc.jwk import ECKey, KeySet

from authprobe.errors import AuthprobeError
from authprobe.servers import pki
from authprobe.servers.issuer import DISCOVERY_PATH, WRONG_AUDIENCE, Issuer
from authprobe.wait import until

AUDIENCE = "authprobe"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("issuer-pki")
    authority = pki.make_authority(directory, "authprobe-test-ca")
    serving = pki.issue_serving(authority, directory, "issuer", ips=["127.0.0.1"])
    return authority, serving


@pytest.fixture
def issuer(certs):
    server = Issuer(certs[1], "127.0.0.1")
    server.start()
    yield server
    server.stop()


def get(issuer, certs, path):
    return requests.get(issuer.url + path, verify=str(certs[0].cert_path), timeout=5)


def served_keys(issuer, certs) -> KeySet:
    discovery = get(issuer, certs, DISCOVERY_PATH).json()
    document = requests.get(discovery["jwks_uri"], verify=str(certs[0].cert_path), timeout=5)
    return KeySet.import_key_set(document.json())


def claims_check(**kwargs) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE}, **kwargs)


def test_discovery_names_issuer_and_jwks(issuer, certs):
    reply = get(issuer, certs, DISCOVERY_PATH)
    assert reply.status_code == 200
    document = reply.json()
    assert document["issuer"] == issuer.issuer_url == f"https://127.0.0.1:{issuer.port}"
    assert document["jwks_uri"] == issuer.issuer_url + "/openid/v1/jwks"
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["response_types_supported"] == ["id_token"]
    assert document["subject_types_supported"] == ["public"]


def test_issuer_path_is_under_the_url(certs):
    with Issuer(certs[1], "127.0.0.1", path="/team-a/") as server:
        assert server.issuer_url == f"https://127.0.0.1:{server.port}/team-a"
        assert get(server, certs, "/team-a" + DISCOVERY_PATH).json()["issuer"] == \
            server.issuer_url
        assert get(server, certs, DISCOVERY_PATH).status_code == 404


def test_tls_is_refused_without_the_cluster_ca(issuer):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(issuer.url + DISCOVERY_PATH, timeout=5)


def test_minted_token_verifies_with_the_served_jwks(issuer, certs):
    token = issuer.mint("alice", AUDIENCE, groups=["team-a"],
                        claims={"email": "alice@example.test", "team": "a"})
    decoded = jwt.decode(token, served_keys(issuer, certs))
    assert decoded.header["kid"] == issuer.signing_kid
    assert decoded.header["alg"] == "ES256"
    claims = decoded.claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (issuer.issuer_url, "alice", AUDIENCE)
    assert claims["groups"] == ["team-a"] and claims["team"] == "a"
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == 600
    claims_check(iss={"essential": True, "value": issuer.issuer_url}).validate(claims)


def test_rs256_issuer_mints_rs256(certs):
    with Issuer(certs[1], "127.0.0.1", algorithm="RS256") as server:
        decoded = jwt.decode(server.mint("bob", AUDIENCE), served_keys(server, certs))
        assert decoded.header["alg"] == "RS256"
        assert get(server, certs, DISCOVERY_PATH).json()[
            "id_token_signing_alg_values_supported"] == ["RS256"]


def test_unknown_algorithm_is_one_line(certs):
    with pytest.raises(AuthprobeError, match="'HS256' is not one of ES256, RS256"):
        Issuer(certs[1], "127.0.0.1", algorithm="HS256")


def test_expired_token_is_expired_and_nothing_else(issuer, certs):
    token = issuer.mint("alice", AUDIENCE, flaw="expired")
    decoded = jwt.decode(token, served_keys(issuer, certs))  # the signature is good
    assert decoded.claims["exp"] < time.time()
    with pytest.raises(ExpiredTokenError):
        claims_check().validate(decoded.claims)


def test_wrong_audience_token_has_another_audience(issuer, certs):
    token = issuer.mint("alice", AUDIENCE, flaw="wrong-audience")
    decoded = jwt.decode(token, served_keys(issuer, certs))
    assert decoded.claims["aud"] == WRONG_AUDIENCE
    with pytest.raises(InvalidClaimError):
        claims_check().validate(decoded.claims)


def test_unknown_key_token_does_not_verify(issuer, certs):
    token = issuer.mint("alice", AUDIENCE, flaw="unknown-key")
    keys = served_keys(issuer, certs)
    assert issuer.unknown_kid not in [key.kid for key in keys.keys]
    assert issuer.minted()[-1]["kid"] == issuer.unknown_kid
    unknown_public = ECKey.import_key(issuer._unknown.as_dict(private=False))
    assert jwt.decode(token, unknown_public).claims["sub"] == "alice"  # well made otherwise
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(token, keys)


def test_claims_passed_override_and_break_rules(issuer, certs):
    token = issuer.mint("alice", AUDIENCE, claims={"hd": "other.example", "sub": "root"})
    claims = jwt.decode(token, served_keys(issuer, certs)).claims
    assert (claims["hd"], claims["sub"]) == ("other.example", "root")


def test_unknown_flaw_is_one_line(issuer):
    with pytest.raises(AuthprobeError, match="token flaw 'late' is not one of expired, "):
        issuer.mint("alice", AUDIENCE, flaw="late")


def test_rotation_keeps_or_drops_old_key(issuer, certs):
    old_token = issuer.mint("alice", AUDIENCE)
    old_kid = issuer.signing_kid
    new_kid = issuer.rotate_key()
    assert issuer.signing_kid == new_kid != old_kid
    keys = served_keys(issuer, certs)
    assert jwt.decode(old_token, keys).header["kid"] == old_kid
    assert jwt.decode(issuer.mint("alice", AUDIENCE), keys).header["kid"] == new_kid
    added = issuer.add_key()
    assert issuer.published_kids() == [old_kid, new_kid, added]
    issuer.rotate_key(keep_old=False)
    assert issuer.published_kids() == [issuer.signing_kid]
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(old_token, served_keys(issuer, certs))


def test_mismatched_jwks_verifies_nothing_until_undone(issuer, certs):
    token = issuer.mint("alice", AUDIENCE)
    issuer.serve_mismatched_jwks()
    keys = served_keys(issuer, certs)
    assert issuer.signing_kid not in [key.kid for key in keys.keys]
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(token, keys)
    issuer.serve_mismatched_jwks(False)
    assert jwt.decode(token, served_keys(issuer, certs)).claims["sub"] == "alice"


def test_a_same_kid_wrong_key_fails_the_signature(issuer, certs):
    """The JWKS check kube-apiserver does is by signature, not by kid alone."""
    token = issuer.mint("alice", AUDIENCE)
    served = served_keys(issuer, certs).as_dict()
    forged = issuer._unknown.as_dict(private=False)
    forged["kid"] = issuer.signing_kid
    served["keys"] = [forged]
    with pytest.raises(BadSignatureError):
        jwt.decode(token, KeySet.import_key_set(served))


def test_log_records_requests_but_never_a_token(issuer, certs):
    tokens = [issuer.mint("alice", AUDIENCE, groups=["g"]),
              issuer.mint("alice", AUDIENCE, flaw="expired"),
              issuer.mint("alice", AUDIENCE, flaw="unknown-key")]
    get(issuer, certs, DISCOVERY_PATH)
    get(issuer, certs, "/openid/v1/jwks")
    get(issuer, certs, "/nothing?token=" + tokens[0])
    records = issuer.log.records()
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", DISCOVERY_PATH, 200), ("GET", "/openid/v1/jwks", 200), ("GET", "/nothing", 404)]
    assert records[1]["kids"] == [issuer.signing_kid]
    assert all(r["client"].startswith("127.0.0.1:") and r["time"].endswith("Z")
               for r in records)
    minted = issuer.minted()
    assert [m["flaw"] for m in minted] == [None, "expired", "unknown-key"]
    assert minted[2]["kid"] == issuer.unknown_kid and minted[0]["sub"] == "alice"
    text = repr(records) + repr(minted) + str(records) + repr(issuer.log)
    for token in tokens:
        for part in token.split("."):
            assert part not in text


def test_a_refused_handshake_is_a_record(issuer):
    context = ssl.create_default_context()  # does not trust the cluster's CA
    with socket.create_connection(("127.0.0.1", issuer.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="127.0.0.1")
    record = until(lambda: next((r for r in issuer.log.records() if r.get("error")), None),
                   timeout=5, interval=0.05, what="the issuer's record of the refused handshake",
                   quiet=True)
    assert record["path"] is None and "SSL" in record["error"]


def test_stop_is_idempotent_and_frees_the_port(certs):
    server = Issuer(certs[1], "127.0.0.1")
    server.stop()  # before start: nothing to do
    server.start()
    server.start()  # a second start keeps the same server
    port = server.port
    assert get(server, certs, DISCOVERY_PATH).status_code == 200
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"https://127.0.0.1:{port}{DISCOVERY_PATH}",
                     verify=str(certs[0].cert_path), timeout=5)
    again = Issuer(certs[1], "127.0.0.1", port)
    again.start()
    try:
        assert again.port == port
        assert get(again, certs, DISCOVERY_PATH).status_code == 200
    finally:
        again.stop()


def test_a_taken_port_is_one_line(issuer, certs):
    with pytest.raises(AuthprobeError, match=r"cannot listen on 127\.0\.0\.1:\d+: .*pick"):
        Issuer(certs[1], "127.0.0.1", issuer.port).start()


def test_port_before_start_is_one_line(certs):
    with pytest.raises(AuthprobeError, match="not running: start it"):
        Issuer(certs[1], "127.0.0.1").url  # noqa: B018 - the property raises
