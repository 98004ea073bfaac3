"""Serve a directory over HTTPS on loopback, as a team serves a provider network mirror.

A fresh test certificate authority signs the server's certificate (``localhost`` and
``127.0.0.1``); point a client at :attr:`HttpsMirror.ca_file` (``SSL_CERT_FILE`` for Terraform,
which reads it on Linux) and it trusts the server and nothing else new. :attr:`HttpsMirror.paths`
records every requested path, so a test can show what the client fetched.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def write_test_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA certificate and a server certificate and key it signed: (ca, cert, key) PEM paths."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provider mirror test CA")])
    ca = (
        _certificate(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        _certificate(name, ca_name, key)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, paths: list[str], **kwargs: Any) -> None:
        self._paths = paths
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._paths.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        return


class HttpsMirror:
    """``with HttpsMirror(root, pki_dir) as mirror:`` serves ``root`` at :attr:`url`."""

    def __init__(self, root: Path, pki_dir: Path) -> None:
        self.ca_file, cert, key = write_test_pki(pki_dir)
        self.paths: list[str] = []
        handler = functools.partial(_Handler, directory=str(root), paths=self.paths)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpsMirror:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
