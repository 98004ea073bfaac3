"""The server certificate made fresh for each launch when Terraform asks for TLS.

go-plugin's client pins exactly the certificate we put in the handshake and dials with server
name ``localhost``, so the certificate must name ``localhost`` (CN and DNS SAN) and be usable as
its own trust anchor (self-signed, CA:TRUE). P-256 keeps generation cheap: this runs on every
launch, several times per Terraform command. The private key exists only in memory and is handed
to gRPC as bytes; it is never written to disk.

Certificate making sits behind :func:`make_server_certificate` so its implementation can change
(``cryptography`` is a heavy import for a start-up path) without touching the server.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

SERVER_NAME = "localhost"
# go-plugin's client and we run on the same machine, so a small back-dating is enough to absorb
# clock adjustments; the lifetime only has to outlast the longest Terraform command.
BACKDATE = datetime.timedelta(minutes=5)
LIFETIME = datetime.timedelta(days=30)


@dataclass(frozen=True)
class ServerCertificate:
    """A self-signed server certificate and its private key.

    ``cert_pem``/``key_pem`` are what ``grpc.ssl_server_credentials`` takes; ``cert_der`` is what
    goes into the handshake line.
    """

    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes


def make_server_certificate() -> ServerCertificate:
    """A new ECDSA P-256 key and a self-signed certificate for ``localhost`` (see module doc)."""
    # Imported here: only TLS launches pay for it, and never the refuse-to-run path.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServerCertificate(
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_der=certificate.public_bytes(serialization.Encoding.DER),
    )
