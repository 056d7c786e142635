"""A certificate authority and serving certificates made for one cluster.

kube-apiserver reaches the issuer and the webhook authorizer over HTTPS and trusts them
through the CA certificate written into its config files (``certificateAuthority``,
``certificate-authority-data``). Every cluster gets its own CA, so no two clusters, and no
two runs, trust each other's servers. Keys are ECDSA P-256 made by ``cryptography`` and
written with mode 0600 from the start; they never appear in a repr, a log or a report.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..paths import write_private

# A cluster lives for minutes to hours; a week leaves room for a kept cluster's next run.
VALIDITY = datetime.timedelta(days=7)
# Clocks of the node and of this machine may differ by a little.
BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Authority:
    """A cluster's CA: its certificate (PEM, shareable) and key (kept in memory, 0600 on disk)."""

    cert_pem: str
    cert_path: Path
    key_path: Path
    key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())


@dataclass(frozen=True)
class ServingCert:
    """A server's certificate chain file and key file, for ``ssl.SSLContext.load_cert_chain``."""

    cert_pem: str
    cert_path: Path
    key_path: Path
    ips: tuple[str, ...]
    dns_names: tuple[str, ...]


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def make_authority(directory: Path, common_name: str) -> Authority:
    """Make a CA for one cluster in ``directory``: ``ca.crt`` and ``ca.key`` (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    write_private(key_path, _key_pem(key))
    cert_pem = _cert_pem(cert)
    cert_path.write_text(cert_pem)
    return Authority(cert_pem, cert_path, key_path, key)


def issue_serving(authority: Authority, directory: Path, name: str, *,
                  ips: list[str] | tuple[str, ...] = (),
                  dns_names: list[str] | tuple[str, ...] = ()) -> ServingCert:
    """Issue a serving certificate for ``ips`` and ``dns_names`` (its subject alternative
    names: clients check the address they dialled against them), written as
    ``<name>.crt`` (the certificate, then the CA's) and ``<name>.key`` (0600)."""
    if not ips and not dns_names:
        raise ValueError("a serving certificate needs at least one IP address or DNS name")
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = authority.cert
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    names += [x509.DNSName(dns) for dns in dns_names]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=False, crl_sign=False,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    write_private(key_path, _key_pem(key))
    cert_pem = _cert_pem(cert)
    cert_path.write_text(cert_pem + authority.cert_pem)
    return ServingCert(cert_pem, cert_path, key_path, tuple(ips), tuple(dns_names))
