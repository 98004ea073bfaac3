"""The launcher's side: hand this launch to a warm daemon, then stand in for the provider process.

Terraform keeps treating the process it started as the provider: it reads the handshake from its
stdout, signals it, kills it, and reads its exit status. So once a daemon has forked a provider
child for us, this process stays until the child ends: it forwards SIGTERM, SIGHUP and SIGINT to
the child (through the daemon, which owns the pid and so cannot hit a recycled one) and exits
with the child's status. If Terraform kills this process outright, the daemon sees the connection
close and stops the child, and so does the child itself (it watches its link to us).

Everything before the commit point falls back silently: any problem at all (no daemon, a stale or
foreign socket, a refusal, a timeout) returns None and the caller starts the ordinary way. The
commit point is the "go" we send the child: until then the child has written nothing and exits
quietly if we go away, so the ordinary path can still take over; after it we never fall back.

One ``[TRACE]`` line on stderr says what happened (Terraform shows it with ``TF_LOG=trace``).
"""

from __future__ import annotations

import _socket
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import FrameType

from tfprovider.forkserver import identity, private_dir, settings, wire
from tfprovider.forkserver.spawn import start_daemon

TYPE_CHECKING = False  # `typing` itself would cost a launch ~4 ms; mypy treats this as True
if TYPE_CHECKING:
    import signal
else:  # the C module behind `signal`: same calls and numbers, without the enum import (~7 ms)
    import _signal as signal

START_BUDGET_SECONDS = 1.0
"""From connecting to the child being ready; past it the launch takes the ordinary path."""
SPAWN_RETRY_SECONDS = 10.0
"""At most one daemon start per installation in this time (see :func:`_start_daemon`)."""
SPAWN_MARKER_SUFFIX = ".starting"

RELAYED_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
# Dispositions a process inherits through exec: if Terraform (or the user's shell) ignores one of
# these, the provider it starts ignores it too, and so must a forked provider.
_INHERITABLE_IGNORES = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
)
TRACE_PREFIX = "[TRACE] tfprovider fork-server: "

_Handler = Callable[[int, FrameType | None], object] | int | None


class _Fallback(Exception):
    """This launch takes the ordinary path; ``str()`` says why (for the trace line)."""


def launch() -> int | None:
    """Serve this launch through the fork-server: the provider's exit code, or None when the
    fork-server is off or unavailable and the caller must start the provider itself."""
    environ = os.environ
    if not environ.get(settings.COOKIE_ENV):
        return None  # a person at a shell: the ordinary path explains itself, without a daemon
    reason = settings.disabled_reason(environ)
    if reason is not None:
        if environ.get(settings.SWITCH_ENV, "").strip() != "0":
            _trace(f"off: {reason}")
        return None
    try:
        session = _start(environ)
    except _Fallback as fallback:
        _trace(f"not used: {fallback}")
        return None
    except Exception as exc:  # never a visible error: the ordinary path still works
        _trace(f"not used: unexpected {type(exc).__name__}: {exc}")
        return None
    return session.run()


def _start(environ: Mapping[str, str]) -> _Session:
    deadline = time.monotonic() + START_BUDGET_SECONDS
    directory = settings.socket_directory(environ)
    key = identity.installation_key()
    key_digest = identity.digest(key)
    socket_path = os.path.join(directory, key_digest + ".sock")

    problem = private_dir.problem(directory)
    if problem is not None:
        if os.path.lexists(directory):
            raise _Fallback(problem)
        created_problem = private_dir.ensure(directory)
        if created_problem is not None:
            raise _Fallback(created_problem)
        _start_daemon(directory, key_digest, environ)
        raise _Fallback(f"no daemon yet: created {directory} and started one for the next launches")

    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        return _handover(conn, socket_path, key, deadline, directory, key_digest, environ)
    except BaseException:
        conn.close()
        raise


def _handover(
    conn: _socket.socket,
    socket_path: str,
    key: bytes,
    deadline: float,
    directory: str,
    key_digest: str,
    environ: Mapping[str, str],
) -> _Session:
    conn.settimeout(START_BUDGET_SECONDS)
    try:
        conn.connect(socket_path)
    except (FileNotFoundError, ConnectionRefusedError):
        _start_daemon(directory, key_digest, environ)
        raise _Fallback(f"no daemon answered at {socket_path}; started one for the next launches") from None
    except OSError as exc:
        raise _Fallback(f"cannot connect to {socket_path}: {exc}") from None
    daemon_pid, daemon_uid = wire.peer_ids(conn)
    if daemon_uid != os.geteuid():
        raise _Fallback(f"{socket_path} is served by uid {daemon_uid}, not by uid {os.geteuid()}")

    ours, childs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        request = wire.LaunchRequest(
            key=key,
            cwd=os.getcwdb(),
            umask=_current_umask(),
            ignored_signals=_ignored_signals(),
            argv=[os.fsencode(arg) for arg in sys.argv],
            environ=list(os.environb.items()),
        )
        _set_timeout(conn, deadline)
        wire.send_request(conn, request, [0, 1, 2, childs.fileno()])
        childs.close()
        kind, value = _receive_message(conn, deadline)
        if kind == wire.REFUSED:
            raise _Fallback(f"refused: {wire.REASONS.get(value, f'reason {value}')}")
        if kind != wire.STARTED:
            raise _Fallback(f"unexpected message {kind} from the daemon")
        child_pid = value
        _set_timeout(ours, deadline)
        try:
            ready = ours.recv(1)
        except TimeoutError:
            raise _Fallback(f"the forked provider (pid {child_pid}) was not ready in time") from None
        if ready != wire.CHILD_READY:
            raise _Fallback(f"the forked provider (pid {child_pid}) ended before it was ready")
        session = _Session(conn, ours, child_pid)
        session.relay_signals()
        try:
            ours.sendall(wire.LAUNCHER_GO)  # the commit point: see the module docstring
        except OSError as exc:
            session.restore_signals()
            raise _Fallback(f"the forked provider (pid {child_pid}) went away: {exc}") from None
    except BaseException:
        ours.close()
        childs.close()
        raise
    _trace(f"served by daemon pid {daemon_pid}: provider pid {child_pid}")
    return session


class _Session:
    """A committed launch: relays signals to the child and waits for its end."""

    def __init__(self, conn: _socket.socket, child_link: _socket.socket, child_pid: int) -> None:
        self._conn = conn
        self._child_link = child_link  # kept open: the child watches it to learn that we died
        self._child_pid = child_pid
        self._daemon_lost = False
        self._previous: dict[int, _Handler] = {}

    def relay_signals(self) -> None:
        for sig in RELAYED_SIGNALS:
            previous = signal.getsignal(sig)
            # Ignored here means ignored by the child as well (it was told at launch).
            if previous is not None and previous != signal.SIG_IGN:
                self._previous[sig] = previous
                signal.signal(sig, self._forward)

    def restore_signals(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        if not self._daemon_lost:
            try:
                self._conn.sendall(wire.pack_message(wire.SIGNAL, signum))
                return
            except OSError:
                self._daemon_lost = True
        _signal_quietly(self._child_pid, signum)

    def run(self) -> int:
        """Wait for the child's end; return its exit code (or die of the signal that killed it)."""
        self._conn.settimeout(None)
        try:
            while True:
                kind, value = wire.unpack_message(wire.receive_exactly(self._conn, wire.MESSAGE_SIZE))
                if kind == wire.EXITED:
                    return value
                if kind == wire.KILLED:
                    return _end_like(value)
        except (OSError, wire.ProtocolError):
            pass
        # The daemon is gone, and with it the exit status. The child lives on (it serves
        # Terraform without the daemon); its link to us closes when it ends.
        self._daemon_lost = True
        _trace(f"lost the daemon; waiting for provider pid {self._child_pid} to end")
        self._child_link.settimeout(None)
        try:
            while self._child_link.recv(64):
                pass
        except OSError:
            pass
        return 1


def _start_daemon(directory: str, key_digest: str, environ: Mapping[str, str]) -> None:
    """Start a daemon unless one was started less than :data:`SPAWN_RETRY_SECONDS` ago.

    The daemon removes the marker file once it listens, so the marker's age is how long a start
    has been under way or since one failed. Without this, a daemon that cannot start (or is still
    warming up) would be started again by every launch in the meantime.
    """
    marker = os.path.join(directory, key_digest + SPAWN_MARKER_SUFFIX)
    try:
        age = time.time() - os.stat(marker).st_mtime
    except FileNotFoundError:
        age = None
    if age is not None and 0 <= age < SPAWN_RETRY_SECONDS:
        raise _Fallback(f"a daemon was started {age:.1f} s ago and is not answering yet")
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        os.close(fd)
        os.utime(marker)
        start_daemon(directory, key_digest, environ)
    except OSError as exc:
        raise _Fallback(f"cannot start a daemon: {exc}") from None


def _receive_message(conn: _socket.socket, deadline: float) -> tuple[int, int]:
    _set_timeout(conn, deadline)
    try:
        return wire.unpack_message(wire.receive_exactly(conn, wire.MESSAGE_SIZE))
    except TimeoutError:
        raise _Fallback("the daemon did not answer in time") from None
    except wire.ProtocolError as exc:
        raise _Fallback(f"the daemon went away: {exc}") from None


def _set_timeout(sock: _socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Fallback(f"no answer within {START_BUDGET_SECONDS} s")
    sock.settimeout(remaining)


def _ignored_signals() -> list[int]:
    return [int(sig) for sig in _INHERITABLE_IGNORES if signal.getsignal(sig) == signal.SIG_IGN]


def _current_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _signal_quietly(pid: int, signum: int) -> None:
    try:  # noqa: SIM105 - contextlib is not loaded at start-up; the launcher stays import-free
        os.kill(pid, signum)
    except OSError:
        pass


def _end_like(signum: int) -> int:
    """Die of ``signum`` as the child did, so Terraform sees the same end as without the
    fork-server; 128 + signum if the signal does not end this process."""
    try:  # noqa: SIM105 - as above
        signal.signal(signum, signal.SIG_DFL)
    except (OSError, ValueError):
        pass  # SIGKILL and SIGSTOP have no handler to reset
    try:  # noqa: SIM105 - as above
        os.kill(os.getpid(), signum)
    except OSError:
        pass
    return 128 + signum


def _trace(message: str) -> None:
    try:  # noqa: SIM105 - as above
        os.write(2, (TRACE_PREFIX + message + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass
