"""A throwaway certificate authority and a `*.googleapis.com` server certificate it signs.

The emulator's proxy terminates TLS for Google API hosts with this certificate, and client
processes trust only this CA (REQUESTS_CA_BUNDLE, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), so an
unmodified client believes it talks to Google. The CA's private key is never written: nothing
else can ever be signed with it, and a new CA is made whenever the files need renewing.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Artifact Registry's KFP repositories (<region>-kfp.pkg.dev) serve `make deploy`'s templates.
SERVER_DNS_NAMES = ("*.googleapis.com", "googleapis.com", "*.pkg.dev", "localhost")
SERVER_IP_ADDRESSES = ("127.0.0.1",)

_VALIDITY = datetime.timedelta(days=30)
_RENEW_BEFORE = datetime.timedelta(days=1)
_CLOCK_SKEW = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA certificate clients trust, the server certificate and its key."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_certificates(directory: Path) -> Certificates:
    """Write a CA and a server certificate into `directory`, or reuse valid ones found there."""
    directory.mkdir(parents=True, exist_ok=True)
    certificates = Certificates(
        ca_path=directory / "ca.pem",
        cert_path=directory / "server.pem",
        key_path=directory / "server-key.pem",
    )
    # A lock: two emulators starting at once must not mix one's CA with the other's leaf.
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_valid(certificates):
            _write_new(certificates)
    return certificates


def _is_valid(certificates: Certificates) -> bool:
    """The files parse, chain, match their private key (kept 0600), name the hosts, are current."""
    try:
        if certificates.key_path.stat().st_mode & 0o077:
            return False
        ca = x509.load_pem_x509_certificate(certificates.ca_path.read_bytes())
        leaf = x509.load_pem_x509_certificate(certificates.cert_path.read_bytes())
        key = serialization.load_pem_private_key(certificates.key_path.read_bytes(), None)
        leaf.verify_directly_issued_by(ca)
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    dns_names = set(names.get_values_for_type(x509.DNSName))
    ip_addresses = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    now = datetime.datetime.now(datetime.UTC)
    return (
        key.public_key() == leaf.public_key()
        and dns_names == set(SERVER_DNS_NAMES)
        and ip_addresses == set(SERVER_IP_ADDRESSES)
        and all(cert.not_valid_after_utc - _RENEW_BEFORE > now for cert in (ca, leaf))
        and all(cert.not_valid_before_utc <= now for cert in (ca, leaf))
    )


def _write_new(certificates: Certificates) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vertex AI emulator CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_DNS_NAMES[0])])
    alternative_names = [x509.DNSName(name) for name in SERVER_DNS_NAMES] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IP_ADDRESSES
    ]
    leaf = (
        _builder(server_name, ca_name, server_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(certificates.key_path, key_pem, mode=0o600)
    _write_atomically(certificates.cert_path, leaf.public_bytes(serialization.Encoding.PEM))
    _write_atomically(certificates.ca_path, ca.public_bytes(serialization.Encoding.PEM))


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write beside `path` and rename, so that a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
