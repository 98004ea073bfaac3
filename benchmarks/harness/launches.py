"""Launch a provider the way Terraform does and time how long it takes to become usable.

Two moments are timed from the ``exec``: the go-plugin handshake line on stdout (what Terraform
waits for before it dials), and a completed TLS handshake on the announced socket, verified against
the pinned certificate (what Terraform's first RPC needs), which shows a server that prints its line
before it can really serve. The TLS check uses the standard library's OpenSSL rather than grpcio:
go-plugin's Go servers sign with ECDSA P-521, which grpcio's BoringSSL client does not offer, so a
grpcio client cannot reach a Go provider at all.

Then the provider is stopped as Terraform stops it, with ``plugin.GRPCController/Shutdown``; one
that is still running after that gets SIGTERM, then SIGKILL, and a socket it leaves in the
temporary directory is removed, so a few hundred launches leave nothing behind.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import selectors
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
HANDSHAKE_TIMEOUT_SECONDS = 30.0
TLS_TIMEOUT_SECONDS = 10.0
SHUTDOWN_RPC_TIMEOUT_SECONDS = 2.0
EXIT_TIMEOUT_SECONDS = 3.0
STDERR_HEAD_BYTES = 2000


class LaunchError(RuntimeError):
    """A provider did not start as go-plugin expects; the message says how, with its stderr."""


@dataclass(frozen=True)
class ClientIdentity:
    """The certificate Terraform hands every provider in ``PLUGIN_CLIENT_CERT``, with its key.

    Like Terraform's: ECDSA P-521, CN and DNS name ``localhost``, CA:TRUE. The same pair
    authenticates our side of the TLS check, so Go servers (which verify it) accept us.
    """

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def generate(cls) -> ClientIdentity:
        key = ec.generate_private_key(ec.SECP521R1())
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
            .sign(key, hashes.SHA512())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), key_pem)


@dataclass(frozen=True)
class ProviderCommand:
    """How to start one provider: its argv and the environment it needs beyond Terraform's own."""

    label: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchTiming:
    handshake_seconds: float
    """From exec to the handshake line."""
    tls_ready_seconds: float
    """From exec to a completed TLS handshake with the server on its announced address."""
    stderr_head: str = ""
    """The start of what the provider wrote to stderr (e.g. a launcher's trace line)."""


@dataclass(frozen=True)
class Handshake:
    """The fields of a go-plugin handshake line that a client needs to dial."""

    app_protocol: int
    network: str
    address: str
    server_cert_der: bytes | None

    @classmethod
    def parse(cls, line: str) -> Handshake:
        fields = line.strip().split("|")
        if len(fields) < 5 or fields[0] != "1" or fields[4] != "grpc" or not fields[1].isdigit():
            raise LaunchError(f"not a go-plugin gRPC handshake line: {line.strip()[:200]!r}")
        cert_text = fields[5] if len(fields) > 5 else ""
        cert = base64.b64decode(cert_text + "=" * (-len(cert_text) % 4)) if cert_text else None
        return cls(int(fields[1]), fields[2], fields[3], cert)

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.address}" if self.network == "unix" else self.address


def terraform_environment(client: ClientIdentity, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment Terraform gives a provider it launches (TLS on), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TF_", "PLUGIN_"))}
    env.update(
        TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="5,6",
        PLUGIN_MIN_PORT="10000",
        PLUGIN_MAX_PORT="25000",
        PLUGIN_CLIENT_CERT=client.cert_pem.decode(),
    )
    env.update(extra)
    return env


class Launcher:
    """Launches providers with one client identity; keeps its key files for the TLS checks."""

    def __init__(self, client: ClientIdentity, workdir: Path) -> None:
        self.client = client
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._cert_file = workdir / "client.pem"
        self._key_file = workdir / "client.key"
        self._cert_file.write_bytes(client.cert_pem)
        self._key_file.touch(mode=0o600)
        self._key_file.write_bytes(client.key_pem)

    def launch_once(self, command: ProviderCommand) -> LaunchTiming:
        """Start ``command``, time its handshake and TLS readiness, and see it exit."""
        env = terraform_environment(self.client, command.env)
        with tempfile.TemporaryFile() as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(
                list(command.argv),
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
            handshake: Handshake | None = None
            try:
                line = _first_line(process, HANDSHAKE_TIMEOUT_SECONDS)
                handshake_seconds = time.perf_counter() - started
                if not line:
                    raise LaunchError(f"exited {process.wait()} without a handshake; stderr: {_tail(stderr)}")
                handshake = Handshake.parse(line.decode(errors="replace"))
                try:
                    self._tls_check(handshake)
                except (OSError, ssl.SSLError) as error:
                    message = f"TLS to {handshake.address} failed: {error}; stderr: {_tail(stderr)}"
                    raise LaunchError(message) from error
                tls_ready_seconds = time.perf_counter() - started
            finally:
                _stop(process, handshake, self.client)
                assert process.stdout is not None
                process.stdout.close()
            stderr.seek(0)
            head = stderr.read(STDERR_HEAD_BYTES).decode(errors="replace")
        return LaunchTiming(handshake_seconds, tls_ready_seconds, head)

    def _tls_check(self, handshake: Handshake) -> None:
        if handshake.server_cert_der is None:
            raise LaunchError("the handshake carries no server certificate although TLS was offered")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # Terraform's Go client accepts any key size; OpenSSL's default level refuses RSA-1024.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(handshake.server_cert_der))
        context.load_cert_chain(self._cert_file, self._key_file)
        context.set_alpn_protocols(["h2"])
        if handshake.network == "unix":
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = handshake.address
        else:
            host, _, port = handshake.address.rpartition(":")
            raw = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            address = (host.strip("[]"), int(port))
        raw.settimeout(TLS_TIMEOUT_SECONDS)
        with raw, context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            tls.connect(address)
            tls.do_handshake()


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Bytes up to the first newline on stdout; empty if stdout closed first."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LaunchError(f"no handshake line within {timeout:g}s")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            buffer += chunk
    return buffer.split(b"\n", 1)[0]


def _stop(process: subprocess.Popen[bytes], handshake: Handshake | None, client: ClientIdentity) -> None:
    """Stop the provider the way Terraform does, harder if it does not go."""
    asked = handshake is not None and process.poll() is None and _send_shutdown(handshake, client)
    steps = ((None, EXIT_TIMEOUT_SECONDS if asked else 0.0), (signal.SIGTERM, 1.0), (signal.SIGKILL, None))
    for sig, wait_seconds in steps:
        if process.poll() is not None:
            break
        if sig is not None:
            # Its whole session: a launcher script may have started the provider as a child.
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
        try:
            process.wait(wait_seconds)
        except subprocess.TimeoutExpired:
            continue
    if handshake is not None and handshake.network == "unix":
        _remove_leftover_socket(Path(handshake.address))


def _send_shutdown(handshake: Handshake, client: ClientIdentity) -> bool:
    """``plugin.GRPCController/Shutdown`` over grpcio; true if the server took it.

    Go servers refuse grpcio's TLS, so they fail fast here and are stopped by signal instead.
    """
    if handshake.server_cert_der is None:
        return False
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ssl.DER_cert_to_PEM_cert(handshake.server_cert_der).encode(),
        private_key=client.key_pem,
        certificate_chain=client.cert_pem,
    )
    options = [("grpc.ssl_target_name_override", "localhost"), ("grpc.default_authority", "localhost")]
    with grpc.secure_channel(handshake.grpc_target, credentials, options=options) as channel:
        shutdown = channel.unary_unary("/plugin.GRPCController/Shutdown")
        try:
            shutdown(b"", timeout=SHUTDOWN_RPC_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            # A server may stop before its answer gets out; it still took the request.
            return "Cancelling all calls" in (error.details() or "")
    return True


def _remove_leftover_socket(path: Path) -> None:
    """Delete a socket a killed provider left in the temporary directory (and its own folder)."""
    temp_root = Path(tempfile.gettempdir()).resolve()
    if not path.resolve().is_relative_to(temp_root):
        return
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode):
            return
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)
    parent = path.parent.resolve()
    if parent != temp_root and parent.parent == temp_root:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only if empty: a folder the provider made for its socket


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    stream.seek(0)
    return stream.read()[-limit:].decode(errors="replace")
