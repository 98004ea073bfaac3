"""A grpcio provider's start-up written the obvious way, and nothing else: the launch baseline.

It imports grpc and cryptography, makes a P-256 self-signed certificate with cryptography, serves
TLS on a unix socket in a private directory, prints the go-plugin handshake line, and answers only
``plugin.GRPCController/Shutdown``. No protobuf modules, no provider code: a Python provider that
takes these steps cannot start faster than this.
"""

from __future__ import annotations

import base64
import datetime
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def main() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stop = threading.Event()

    def shutdown(request: bytes, context: grpc.ServicerContext) -> bytes:
        stop.set()
        return b""  # an empty protobuf message

    controller = grpc.method_handlers_generic_handler(
        "plugin.GRPCController", {"Shutdown": grpc.unary_unary_rpc_method_handler(shutdown)}
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=4), handlers=[controller])
    directory = tempfile.mkdtemp(prefix="skeleton-")
    socket_path = os.path.join(directory, "plugin.sock")
    credentials = grpc.ssl_server_credentials([(key_pem, cert.public_bytes(serialization.Encoding.PEM))])
    server.add_secure_port(f"unix:{socket_path}", credentials)
    server.start()
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode().rstrip("=")
    print(f"1|6|unix|{socket_path}|grpc|{der}", flush=True)
    stop.wait()
    server.stop(0.2).wait()
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
