"""A small go-plugin client for tests: launch a provider the way Terraform does and talk gRPC to it.

:class:`PluginProcess` starts the process with the caller's environment (plus a client
certificate in ``PLUGIN_CLIENT_CERT`` when ``tls``), reads and checks the handshake line, and
dials the unix socket: over TLS pinned to the certificate from the handshake (server name
``localhost``, as go-plugin does), or plaintext. ``debug=True`` instead reads the
``TF_REATTACH_PROVIDERS`` line a ``--debug`` server prints and dials that, plaintext.

    with PluginProcess([sys.executable, "-m", "tfprovider"], env) as plugin:
        stub = ProviderStub(plugin.channel)
        ...
        assert plugin.shutdown() == 0
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import selectors
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

import grpc

from tfprovider.protocol import go_plugin_pb2, go_plugin_pb2_grpc

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
REATTACH_PREFIX = "TF_REATTACH_PROVIDERS="


class PluginLaunchError(AssertionError):
    """The plugin did not come up as go-plugin's client expects; the message has its stderr."""


@dataclass(frozen=True)
class Handshake:
    """The handshake line's fields (``cert_der`` is ``None`` when the last field is empty)."""

    line: str
    core_protocol: int
    app_protocol: int
    network: str
    address: str
    protocol: str
    cert_der: bytes | None

    @classmethod
    def parse(cls, line: str) -> Handshake:
        fields = line.split("|")
        if len(fields) != 6:
            raise PluginLaunchError(f"handshake must have exactly 6 fields, got {len(fields)}: {line!r}")
        core, app, network, address, protocol, cert = fields
        cert_der = None
        if cert:
            if cert.endswith("="):
                raise PluginLaunchError(f"handshake certificate must be unpadded base64: {cert!r}")
            cert_der = base64.b64decode(cert + "=" * (-len(cert) % 4), validate=True)
        return cls(line, int(core), int(app), network, address, protocol, cert_der)

    @property
    def cert_pem(self) -> bytes:
        if self.cert_der is None:
            raise PluginLaunchError("the handshake carries no certificate")
        body = base64.encodebytes(self.cert_der).decode("ascii")
        return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n".encode("ascii")


def terraform_like_client_cert() -> str:
    """A PEM certificate like the one Terraform offers in PLUGIN_CLIENT_CERT (ECDSA P-521,
    self-signed, CN/SAN localhost, CA:TRUE). The plugin is not expected to verify it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA512())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class PluginProcess:
    """A launched plugin: ``.proc``, ``.handshake``, ``.channel``, ``.stderr_text()``, ``.shutdown()``."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        tls: bool = True,
        *,
        debug: bool = False,
        startup_timeout: float = 15.0,
        cwd: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.tls = tls and not debug
        self.debug = debug
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        self.reattach_config: dict[str, Any] | None = None
        self._stderr_chunks: list[bytes] = []
        self._stdout_rest: list[bytes] = []
        self._channel: grpc.Channel | None = None
        self._handshake: Handshake | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> PluginProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        env = dict(self.env)
        if self.tls:
            env["PLUGIN_CLIENT_CERT"] = terraform_like_client_cert()
        else:
            env.pop("PLUGIN_CLIENT_CERT", None)
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv,
            env=env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._drain(self.proc.stderr, self._stderr_chunks)
        try:
            first = self._first_stdout_line()
            self.handshake_seconds = time.monotonic() - self.started_at
            self._handshake = self._interpret(first)
            self._drain(self.proc.stdout, self._stdout_rest)
            self._channel = self._dial(self._handshake)
            grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        except BaseException:
            self.close()
            raise

    def shutdown(self, timeout: float = 5.0) -> int:
        """Call GRPCController/Shutdown as Terraform does, then wait for the process; its exit code."""
        go_plugin_pb2_grpc.GRPCControllerStub(self.channel).Shutdown(go_plugin_pb2.Empty(), timeout=timeout)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        """Close the channel; stop the process if it is still running (SIGTERM, then SIGKILL)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stop_process()
        for reader in self._readers:
            reader.join(timeout=5)

    def _stop_process(self) -> None:
        """SIGTERM (so the plugin removes its socket directory), then SIGKILL if it lingers."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    # -- what tests look at --------------------------------------------------------------------

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise PluginLaunchError("the plugin has not been started")
        return self._proc

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            raise PluginLaunchError("no channel: the plugin is not connected")
        return self._channel

    @property
    def handshake(self) -> Handshake:
        if self._handshake is None:
            raise PluginLaunchError("no handshake read yet")
        return self._handshake

    def stderr_text(self) -> str:
        return b"".join(self._stderr_chunks).decode("utf-8", "replace")

    def stdout_after_handshake(self) -> str:
        return b"".join(self._stdout_rest).decode("utf-8", "replace")

    # -- internals -----------------------------------------------------------------------------

    def _drain(self, stream: IO[bytes] | None, into: list[bytes]) -> None:
        assert stream is not None

        def pump() -> None:
            for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
                into.append(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        self._readers.append(reader)

    def _first_stdout_line(self) -> str:
        """Read stdout up to the first newline without buffering past it (the rest is drained)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise self._failure(f"no handshake within {self.startup_timeout}s")
                byte = os.read(fd, 1)
                if not byte:
                    raise self._failure("stdout closed before a handshake line")
                data += byte
        return data.decode("utf-8").rstrip("\r\n")

    def _interpret(self, line: str) -> Handshake:
        if not self.debug:
            handshake = Handshake.parse(line)
            if self.tls and handshake.cert_der is None:
                raise self._failure(f"TLS was offered but the handshake has no certificate: {line!r}")
            if not self.tls and handshake.cert_der is not None:
                raise self._failure(f"no client certificate was offered but the handshake has one: {line!r}")
            return handshake
        if not line.startswith(REATTACH_PREFIX):
            raise self._failure(f"expected a {REATTACH_PREFIX} line, got {line!r}")
        (value,) = shlex.split(line[len(REATTACH_PREFIX) :])
        self.reattach_config = json.loads(value)
        assert self.reattach_config is not None
        (config,) = self.reattach_config.values()
        addr = config["Addr"]
        return Handshake(
            line, 1, config["ProtocolVersion"], addr["Network"], addr["String"], config["Protocol"], None
        )

    def _dial(self, handshake: Handshake) -> grpc.Channel:
        if handshake.network != "unix":
            raise self._failure(f"only unix sockets are supported, got {handshake.network!r}")
        target = "unix:" + handshake.address
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ]
        if handshake.cert_der is None:
            return grpc.insecure_channel(target, options=options)
        credentials = grpc.ssl_channel_credentials(root_certificates=handshake.cert_pem)
        options.append(("grpc.ssl_target_name_override", "localhost"))
        return grpc.secure_channel(target, credentials, options=options)

    def _failure(self, what: str) -> PluginLaunchError:
        self._stop_process()
        for reader in self._readers:
            reader.join(timeout=2)
        return PluginLaunchError(f"{what}\n--- plugin stderr ---\n{self.stderr_text()}")
