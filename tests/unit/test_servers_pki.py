"""The per-cluster CA and serving certificates: what they certify, and their keys' modes."""

from __future__ import annotations

import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from authprobe.servers import pki


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    authority = pki.make_authority(directory, "authprobe-test-ca")
    serving = pki.issue_serving(authority, directory, "issuer", ips=["127.0.0.1", "172.18.0.1"],
                                dns_names=["localhost"])
    return directory, authority, serving


def test_keys_are_0600_and_certs_readable(made):
    directory, authority, serving = made
    for key in (authority.key_path, serving.key_path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in directory.iterdir()) == [
        "ca.crt", "ca.key", "issuer.crt", "issuer.key"]


def test_ca_is_a_ca_and_serving_cert_serves_its_names(made):
    _, authority, serving = made
    ca = authority.cert
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    leaf = x509.load_pem_x509_certificate(serving.cert_pem.encode())
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("172.18.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)


def test_chain_file_is_leaf_then_ca(made):
    _, authority, serving = made
    chain = x509.load_pem_x509_certificates(serving.cert_path.read_bytes())
    assert [c.subject for c in chain] == [
        x509.load_pem_x509_certificate(serving.cert_pem.encode()).subject, authority.cert.subject]


def test_repr_holds_no_key(made):
    _, authority, serving = made
    key_text = authority.key_path.read_text()
    body = key_text.splitlines()[1]
    assert body not in repr(authority) and "key=" not in repr(authority)
    assert serving.key_path.read_text().splitlines()[1] not in repr(serving)


def test_serving_cert_needs_a_name(made, tmp_path):
    _, authority, _ = made
    with pytest.raises(ValueError, match="at least one IP address or DNS name"):
        pki.issue_serving(authority, tmp_path, "nameless")
