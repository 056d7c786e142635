"""Credentials never reach a report: scrubbing of text, JSON-like data and log folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authprobe.harness.render import token_file_text
from authprobe.report import scrub

KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1\nabcdEFGH\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlX2hlcmU"


@pytest.mark.parametrize("text,secret", [
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ("then sent Bearer 3f9c2a7be81d4c55a0e6 ok", "3f9c2a7be81d4c55a0e6"),
    ("Basic YWRtaW46c2VjcmV0 was sent", "YWRtaW46c2VjcmV0"),
    ("{'Authorization': 'Basic YWRtaW46cGFzcw=='}", "YWRtaW46cGFzcw=="),
    ("headers: authorization=Bearer s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("sent Bearer q1w2e3r4t5y6u7i8o9 to the server", "q1w2e3r4t5y6u7i8o9"),
    (f"key follows\n{KEY}\nafter", "MIIEowIBAAKCAQEAx1"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut by a log tail)", "MIIEvQIBADANBg"),
    ("    client-key-data: LS0tLS1CRUdJTiBSU0E=", "LS0tLS1CRUdJTiBSU0E="),
    ("users:\n- name: admin\n  user:\n    token: 0123456789abcdef", "0123456789abcdef"),
    ('{"token": "t0k3nvalu3"}', "t0k3nvalu3"),
    ("kubectl --token=abcdef123456 get pods", "abcdef123456"),
    (f"service account token {JWT} used", JWT),
    ("3f9c2a7be81d4c55a0e6b1f2c9d8e7a6,admin,1000", "3f9c2a7be81d4c55a0e6b1f2c9d8e7a6"),
    ("password: hunter2", "hunter2"),
    ("token: supersecret", "supersecret"),
    ("token: s3cret now", "s3cret"),
])
def test_secrets_in_text_are_replaced(text, secret):
    clean = scrub.scrub_text(text)
    assert secret not in clean
    assert scrub.REDACTED in clean


@pytest.mark.parametrize("text", [
    'forbidden: User "system:anonymous" cannot get path "/"',
    "Unauthorized",
    'pods is forbidden: User "admin" cannot list resource "pods" in API group "" in the '
    'namespace "kube-system"',
    '{"tokenPresent": false, "headerPresent": false, "httpsMode": true}',
    "--token-auth-file=/etc/kubernetes/tokens.csv",
    "Error: unknown flag: --insecure-port",
    "40 samples over 390s; restarts 0->4; ever ready: no",
    "no WWW-Authenticate header",
    'WWW-Authenticate: Basic realm="kubernetes-master"',
    "systemd[1]: Reached target basic.target - Basic System.",
    "Basic Authentication is not configured",
    "Unable to authenticate the request due to an error: invalid bearer token",
    'err="[invalid bearer token, oidc: verify token: failed to verify signature: no key]"',
])
def test_ordinary_evidence_is_kept(text):
    assert scrub.scrub_text(text) == text


def test_registered_secrets_are_replaced_anywhere():
    scrub.register_secret("Zq8-not-a-pattern-Wv")
    assert scrub.scrub_text("a Zq8-not-a-pattern-Wv b") == f"a {scrub.REDACTED} b"


def test_data_is_scrubbed_by_key_and_by_value():
    data = {
        "observed": {
            "status": 403,
            "headers": {"Authorization": "Bearer x", "Content-Type": "application/json"},
            "token": "abc",
            "tokenPresent": False,
            "kubeconfig": "apiVersion: v1\nusers: []",
            "message": "Bearer leaked1234567890abcdef",
        },
        "list": ["ok", "Authorization: Bearer abc123"],
    }
    clean = scrub.scrub(data)
    assert clean["observed"]["status"] == 403
    assert clean["observed"]["headers"] == {"Authorization": scrub.REDACTED,
                                            "Content-Type": "application/json"}
    assert clean["observed"]["token"] == scrub.REDACTED
    assert clean["observed"]["tokenPresent"] is False
    assert clean["observed"]["kubeconfig"] == scrub.REDACTED
    assert "leaked1234" not in clean["observed"]["message"]
    assert "abc123" not in clean["list"][1]
    assert data["observed"]["token"] == "abc"  # the input is left alone


def test_log_folders_are_scrubbed_in_place(tmp_path):
    logs = tmp_path / "logs" / "cluster-a"
    logs.mkdir(parents=True)
    (logs / "kubeconfig.log").write_text(f"client-key-data: AAAA\n{KEY}\n")
    (logs / "plain.log").write_text("nothing secret\n")
    (logs / "binary.bin").write_bytes(b"\xff\xfe Bearer zzz")
    changed = scrub.scrub_tree(tmp_path / "logs")
    assert changed == 1
    text = (logs / "kubeconfig.log").read_text()
    assert "AAAA" not in text and "MIIE" not in text
    assert (logs / "plain.log").read_text() == "nothing secret\n"
    assert scrub.scrub_tree(tmp_path / "missing") == 0


# The harness's admin token: secrets.token_urlsafe(32), 43 characters of [A-Za-z0-9_-].
ADMIN_TOKENS = ["-Xq3_9vR8kLmN2pQ7sT1uV4wY6zA0bC5dE8fG_hJ-kM", "_bZ0-x" * 7 + "a"]


@pytest.mark.parametrize("token", ADMIN_TOKENS)
def test_the_admin_token_file_line_is_scrubbed(token):
    clean = scrub.scrub_text("$ cat tokens.csv\n" + token_file_text(token))
    assert token not in clean
    assert f"{scrub.REDACTED},admin,authprobe-admin" in clean


@pytest.mark.parametrize("token", ADMIN_TOKENS)
def test_the_admin_token_as_a_bearer_header_is_scrubbed(token):
    for text in (f"Authorization: Bearer {token}", f"curl -H 'Bearer {token}' https://x",
                 f"{{'headers': {{'Authorization': 'Bearer {token}'}}}}"):
        assert token not in scrub.scrub_text(text), text


AUDIT_LOG = Path(__file__).resolve().parent / "data" / "audit-1.34.log"


def audit_copy(tmp_path: Path, extra: list[str] = ()) -> Path:
    logs = tmp_path / "logs" / "authprobe-anon-health-only-134-bddb5e"
    logs.mkdir(parents=True)
    path = logs / "kube-apiserver-audit.log"
    path.write_text(AUDIT_LOG.read_text() + "".join(line + "\n" for line in extra))
    return path


def test_a_real_audit_log_keeps_every_record_as_it_was(tmp_path):
    """A kube-apiserver audit log of a real cluster (Metadata level) holds no credential: the
    scrub leaves it byte for byte, annotations named .../authorization included."""
    path = audit_copy(tmp_path)
    assert scrub.scrub_tree(tmp_path / "logs") == 0
    assert path.read_text() == AUDIT_LOG.read_text()
    assert "apiserver.latency.k8s.io/authorization" in path.read_text()


@pytest.mark.parametrize("token", ADMIN_TOKENS)
def test_a_token_in_an_audit_record_is_scrubbed_and_the_record_still_parses(tmp_path, token):
    record = json.loads(AUDIT_LOG.read_text().splitlines()[-1])
    leaked = dict(record, requestURI=f"/api/v1/namespaces?access_token={token}",
                  annotations={**record.get("annotations", {}), "note": f"Bearer {token}"})
    scrub.register_secret(token)
    path = audit_copy(tmp_path, [json.dumps(leaked)])
    assert scrub.scrub_tree(tmp_path / "logs") == 1
    text = path.read_text()
    assert token not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[-1]["user"] == record["user"]
    assert records[:-1] == [json.loads(line) for line in AUDIT_LOG.read_text().splitlines()]
