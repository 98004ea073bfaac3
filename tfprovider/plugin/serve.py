"""The life of one provider process, as Terraform's go-plugin client expects it.

Launch check, signals, gRPC server, private socket, handshake line, wait, orderly stop. Heavy
imports happen inside :func:`serve_plugin` after the launch check, so running the binary by hand
fails fast, and nothing here starts a thread or touches the file system before it is called (the
module can be imported in a process that later forks).

Terraform starts the provider several times per command and waits for each handshake, so only
what the handshake needs loads before it: grpc (without asyncio, see ``grpc_import.py``), the
certificate maker and the socket directory. The services' code, ours and the provider's, is
routed from the start but loaded in the background right after the handshake (``deferred.py``).

TLS: when Terraform offers a client certificate we serve TLS with a fresh self-signed server
certificate, which Terraform pins. We do not verify Terraform's certificate: grpcio's TLS offers
no P-521 signature algorithm in its TLS 1.3 CertificateRequest, so Terraform's Go client sends no
certificate and ``require_client_auth=True`` would fail every connection, while grpcio's Python API
cannot cap the server at TLS 1.2 where verification works. Access control comes from the socket
instead: it lives in a fresh 0700 directory and is itself 0600 (see ``socket_dir.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING

from tfprovider.plugin.launch import (
    LaunchRefused,
    LaunchSettings,
    handshake_line,
    read_launch,
    reattach_line,
)

if TYPE_CHECKING:
    import grpc

    from tfprovider.plugin.socket_dir import PrivateSocketDirectory

Register = Callable[["grpc.Server"], None]

DEFAULT_PROVIDER_ADDRESS = "registry.terraform.io/pulumi/pulumiservice"
# What add_plugin_services (services.py) registers, named here so calls can be routed to it
# before that module (and the generated protobuf code it needs) is loaded.
PLUGIN_SERVICES = ("grpc.health.v1.Health", "plugin.GRPCController", "plugin.GRPCStdio")
# Terraform runs up to 10 operations in parallel by default (-parallelism), each an RPC, plus
# the odd long-lived stream; 64 leaves ample room for users who raise it.
WORKER_THREADS = 64
# terraform-plugin-go's limit: large plans and states must not fail on message size.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# Long enough for the Shutdown answer (or an RPC finishing) to get out, short enough that
# Terraform never reaches its two-second kill.
STOP_GRACE_SECONDS = 0.5

_SHUTDOWN_RPC_BYTE = 0  # written by the Shutdown RPC; signals write their own number


def serve_plugin(
    register: Register,
    *,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    provider_address: str = DEFAULT_PROVIDER_ADDRESS,
) -> int:
    """Serve until Terraform says Shutdown (or SIGTERM; Ctrl-C in debug mode); return the exit code.

    ``register`` adds the provider's own services to the server before it starts.
    """
    try:
        settings = read_launch(os.environ if environ is None else environ, debug=debug)
    except LaunchRefused as refusal:
        _tell(str(refusal))
        return 1
    with _StopRequests(stop_on_interrupt=debug) as stops:
        return _serve(register, settings, stops, debug=debug, provider_address=provider_address)


def _serve(
    register: Register,
    settings: LaunchSettings,
    stops: _StopRequests,
    *,
    debug: bool,
    provider_address: str,
) -> int:
    from tfprovider.plugin.grpc_import import import_grpc

    import_grpc()  # before anything else imports grpc, so that it loads without asyncio
    from concurrent import futures

    import grpc

    from tfprovider.plugin.deferred import DeferredServices, preload_deferred_services
    from tfprovider.plugin.socket_dir import PrivateSocketDirectory
    from tfprovider.plugin.stream_gate import StreamGate

    executor = futures.ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="tfprovider-rpc")
    server = grpc.server(
        executor,
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    gate = StreamGate()
    on_shutdown = _ignore_shutdown if debug else stops.request

    def register_plugin_services(target: grpc.Server) -> None:
        from tfprovider.plugin.services import add_plugin_services

        add_plugin_services(target, gate, on_shutdown)

    server.add_generic_rpc_handlers((DeferredServices(PLUGIN_SERVICES, register_plugin_services),))
    register(server)
    credentials, cert_der = _credentials(settings)

    try:
        directory = PrivateSocketDirectory.create(settings.socket_parent)
    except OSError as exc:
        _tell(f"[ERROR] cannot create a private directory for the plugin socket: {exc}")
        return 1
    atexit.register(directory.remove)
    try:
        if not _listen(server, directory, credentials):
            return 1
        server.start()
        try:
            if debug:
                _announce_debug(provider_address, directory.socket_path)
            else:
                sys.stdout.write(handshake_line(directory.socket_path, cert_der) + "\n")
                sys.stdout.flush()
            # The client connects now; meanwhile the services' code loads (see deferred.py).
            preload_deferred_services()
            stops.wait()
        finally:
            gate.close()
            server.stop(STOP_GRACE_SECONDS).wait()
            executor.shutdown(wait=False)
    finally:
        directory.remove()
        atexit.unregister(directory.remove)
    return 0


def _credentials(settings: LaunchSettings) -> tuple[grpc.ServerCredentials | None, bytes | None]:
    """Server credentials and the certificate DER for the handshake; ``(None, None)`` for plaintext."""
    if not settings.tls:
        return None, None
    import grpc

    from tfprovider.plugin.tls import make_server_certificate

    certificate = make_server_certificate()
    # require_client_auth=False on purpose: see the module docstring.
    credentials = grpc.ssl_server_credentials(
        [(certificate.key_pem, certificate.cert_pem)], require_client_auth=False
    )
    return credentials, certificate.cert_der


def _listen(
    server: grpc.Server, directory: PrivateSocketDirectory, credentials: grpc.ServerCredentials | None
) -> bool:
    """Bind the socket (0600 from the start); on failure tell the user why and return False."""
    try:
        with directory.binding():
            if credentials is None:
                server.add_insecure_port(directory.address)
            else:
                server.add_secure_port(directory.address, credentials)
    except RuntimeError as exc:
        _tell(
            f"[ERROR] cannot listen on unix socket {directory.socket_path}: {exc}\n"
            "Unix socket paths are limited to 107 bytes: point TMPDIR at a short, writable directory."
        )
        return False
    return True


def _announce_debug(provider_address: str, socket_path: str) -> None:
    sys.stdout.write(reattach_line(provider_address, os.getpid(), socket_path) + "\n")
    sys.stdout.flush()
    _tell(
        "Provider serving in debug mode: export the TF_REATTACH_PROVIDERS line above in the shell "
        "that runs terraform. Ctrl-C stops the provider."
    )


def _ignore_shutdown() -> None:
    # go-plugin's client never sends Shutdown to a provider attached with "Test": true; if some
    # client does, the person debugging still wants the server for their next command.
    _tell("[INFO] debug mode: ignoring a Shutdown request; stop the provider with Ctrl-C")


def _tell(message: str) -> None:
    """A line for the person (or Terraform's log) reading stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class _StopRequests:
    """Carries "please stop" to the main thread from RPC threads and from signals.

    Both write one byte to a pipe the main thread blocks on: the Shutdown RPC writes
    ``_SHUTDOWN_RPC_BYTE``; signals arrive through :func:`signal.set_wakeup_fd`, which writes the
    signal number from whichever thread the kernel interrupted. That matters because gRPC's own
    threads may receive the signal, which would leave a main thread blocked on an Event asleep.
    Nothing here takes a lock inside a signal handler.

    On entry (when on the main thread): SIGTERM requests a stop; SIGINT is ignored, because
    Terraform forwards Ctrl-C to the whole process group and cancels work through StopProvider
    instead, unless ``stop_on_interrupt`` (debug mode, where Ctrl-C is the way to stop). On exit
    the previous handlers and wakeup fd are restored and the pipe is closed.
    """

    def __init__(self, *, stop_on_interrupt: bool) -> None:
        self._stop_on_interrupt = stop_on_interrupt
        self._read_fd = -1
        self._write_fd = -1
        self._stop_bytes = {_SHUTDOWN_RPC_BYTE, int(signal.SIGTERM)}
        if stop_on_interrupt:
            self._stop_bytes.add(int(signal.SIGINT))

    def __enter__(self) -> _StopRequests:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # required by set_wakeup_fd; a full pipe is enough
        self._previous: tuple[_Handler, _Handler, int] | None = None
        if _on_main_thread():
            self._previous = (
                signal.signal(signal.SIGTERM, _note_signal),
                signal.signal(signal.SIGINT, _note_signal if self._stop_on_interrupt else signal.SIG_IGN),
                signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False),
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            previous_term, previous_int, previous_fd = self._previous
            signal.set_wakeup_fd(previous_fd)
            signal.signal(signal.SIGTERM, previous_term)
            signal.signal(signal.SIGINT, previous_int)
        os.close(self._read_fd)
        os.close(self._write_fd)

    def request(self) -> None:
        """Ask the main thread to stop; returns at once, callable from any thread."""
        with contextlib.suppress(BlockingIOError):  # a full pipe already holds a request
            os.write(self._write_fd, bytes([_SHUTDOWN_RPC_BYTE]))

    def wait(self) -> None:
        """Block until a stop is requested."""
        while True:
            received = os.read(self._read_fd, 64)
            if not self._stop_bytes.isdisjoint(received):
                return


_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def _note_signal(signum: int, frame: FrameType | None) -> None:
    """Python-level half of a stop signal: the wakeup byte already did the work; installing a
    handler at all is what keeps the default action (termination) away."""


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
