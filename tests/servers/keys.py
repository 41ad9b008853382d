"""Test keys and certificates, generated at test time (nothing secret is committed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def private_key(alg: str):
    if alg == "RS384":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(alg)


def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_key(key, path: Path) -> Path:
    path.write_bytes(pem(key))
    path.chmod(0o600)
    return path


def self_signed_cert(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (not trusted by default: TLS verification must reject it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_key(key, key_path)
    return str(cert_path), str(key_path)
