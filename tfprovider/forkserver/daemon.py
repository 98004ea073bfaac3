"""The fork-server daemon: a warm, single-threaded interpreter that forks one provider per launch.

``python -m tfprovider.forkserver.daemon DIRECTORY KEY_DIGEST`` (started by a launcher, see
``spawn.py``). Start-up: give up unless this installation's key matches ``KEY_DIGEST``, the
directory is private, and no other daemon holds the lock for this key; import the provider and
what it loads lazily; check the key again (files changed meanwhile: give up); bind
``DIRECTORY/KEY_DIGEST.sock`` (0600) and remove the launchers' ``.starting`` marker (which keeps
them from starting daemon after daemon while one warms up or when one cannot start).

Then one loop, one thread, ``poll()`` on the listening socket, the launchers' connections and a
signal wake-up pipe:

- a connection from another uid is closed unanswered (``SO_PEERCRED``);
- a launch request for another installation is refused, and so is any fork while the process
  has more than one thread (a fork copies only the calling thread, so locks held by others would
  stay locked forever in the child); otherwise fork, close our copies of the launcher's
  descriptors, answer with the child's pid;
- a launcher's "signal" message is delivered to its child, which cannot have been reaped yet, so
  the pid cannot belong to another process;
- a launcher connection that closes means Terraform killed the launcher: SIGTERM the child, then
  SIGKILL if it is still there :data:`KILL_GRACE_SECONDS` later;
- SIGCHLD: reap, and send each launcher its child's exit status;
- no launch and no child for the idle time (``PULUMISERVICE_FORKSERVER_IDLE``, default 300 s),
  or our socket file replaced or removed: remove the socket and exit;
- SIGTERM, SIGHUP, SIGINT: stop accepting at once, exit when the last child has ended.

The daemon never configures a provider, reads credentials, or creates gRPC objects; its
environment is the cut-down one ``spawn.py`` gives it, and each child replaces it entirely.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Sequence
from types import FrameType

from tfprovider.forkserver import identity, private_dir, settings, wire
from tfprovider.forkserver.child import Handler, ServeCall, become_provider
from tfprovider.forkserver.launcher import SPAWN_MARKER_SUFFIX

KILL_GRACE_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 1.0
SOCKET_CHECK_SECONDS = 30.0
LISTEN_BACKLOG = 64
RELAYABLE_SIGNALS = frozenset({signal.SIGTERM, signal.SIGHUP, signal.SIGINT})
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
_FRESH_IGNORED = frozenset({signal.SIGPIPE, signal.SIGXFSZ})  # what CPython ignores at start-up

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_STALE = 3
EXIT_UNSAFE = 4


def thread_count() -> int:
    """Threads of this process as the kernel sees them (gRPC's C threads included)."""
    return len(os.listdir("/proc/self/task"))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m tfprovider.forkserver.daemon DIRECTORY KEY_DIGEST", file=sys.stderr)
        return EXIT_USAGE
    directory, expected_digest = args
    signal_defaults = _fresh_signal_defaults()
    key = identity.installation_key()
    if identity.digest(key) != expected_digest or private_dir.problem(directory) is not None:
        return EXIT_STALE
    lock_fd = _lock(os.path.join(directory, expected_digest + ".lock"))
    if lock_fd is None:
        return EXIT_OK  # another daemon serves (or is starting for) this installation
    from tfprovider.forkserver.warm import warm_up

    serve = warm_up()
    if identity.installation_key() != key:
        return EXIT_STALE  # the installation changed while we were loading it
    if thread_count() != 1:
        return EXIT_UNSAFE
    socket_path = os.path.join(directory, expected_digest + ".sock")
    try:
        listener = _listen(socket_path)
    except OSError:
        return EXIT_UNSAFE
    with contextlib.suppress(OSError):  # started: launchers may start another if this one dies
        os.unlink(os.path.join(directory, expected_digest + SPAWN_MARKER_SUFFIX))
    os.chdir("/")
    daemon = Daemon(
        listener,
        socket_path,
        key,
        serve,
        signal_defaults,
        idle_seconds=settings.idle_seconds(os.environ),
    )
    try:
        return daemon.run()
    finally:
        daemon.stop_listening()
        os.close(lock_fd)


def _fresh_signal_defaults() -> dict[int, Handler]:
    """Undo dispositions inherited through exec, so this process (and every child) starts from
    what a fresh interpreter has; return those for the signals the daemon itself will handle."""
    for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) == signal.SIG_IGN and sig not in _FRESH_IGNORED:
                signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    defaults: dict[int, Handler] = {}
    for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
        handler = signal.getsignal(sig)
        defaults[sig] = signal.SIG_DFL if handler is None else handler
    return defaults


def _lock(path: str) -> int | None:
    """Hold an exclusive lock on ``path`` for the life of the process; None if another has it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _listen(socket_path: str) -> socket.socket:
    """Bind ``socket_path`` afresh (a leftover from a dead daemon is removed: we hold the lock)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        previous = os.umask(0o177)
        try:
            listener.bind(socket_path)
        finally:
            os.umask(previous)
        os.chmod(socket_path, 0o600)
        listener.listen(LISTEN_BACKLOG)
    except BaseException:
        listener.close()
        raise
    return listener


class _Launch:
    """A forked child and the connection of the launcher waiting for it."""

    __slots__ = ("conn", "inbox", "kill_at", "pid")

    def __init__(self, conn: socket.socket | None, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        self.inbox = b""
        self.kill_at: float | None = None


class Daemon:
    """The accept/fork/reap loop described in the module docstring."""

    def __init__(
        self,
        listener: socket.socket,
        socket_path: str,
        key: bytes,
        serve: ServeCall,
        signal_defaults: dict[int, Handler],
        *,
        idle_seconds: float,
    ) -> None:
        self._listener: socket.socket | None = listener
        self._socket_path = socket_path
        info = os.stat(socket_path)
        self._socket_id = (info.st_dev, info.st_ino)
        self._key = key
        self._serve = serve
        self._signal_defaults = signal_defaults
        self._idle_seconds = idle_seconds
        self._launches: dict[int, _Launch] = {}
        self._by_fd: dict[int, _Launch] = {}
        self._poller = select.poll()
        self._poller.register(listener, select.POLLIN)
        self._last_activity = time.monotonic()
        self._next_socket_check = self._last_activity + SOCKET_CHECK_SECONDS
        self._wakeup_read, self._wakeup_write = os.pipe()
        os.set_blocking(self._wakeup_read, False)
        os.set_blocking(self._wakeup_write, False)
        self._poller.register(self._wakeup_read, select.POLLIN)

    def run(self) -> int:
        self._handle_signals()
        while True:
            self._reap()
            now = time.monotonic()
            self._escalate(now)
            if self._listener is not None:
                if not self._launches and now - self._last_activity >= self._idle_seconds:
                    self.stop_listening()
                elif now >= self._next_socket_check:
                    self._next_socket_check = now + SOCKET_CHECK_SECONDS
                    if not self._socket_is_ours():
                        self.stop_listening()
            if self._listener is None and not self._launches:
                return EXIT_OK
            for fd, _events in self._poller.poll(self._poll_timeout_ms(now)):
                if fd == self._wakeup_read:
                    self._on_signals()
                elif self._listener is not None and fd == self._listener.fileno():
                    self._accept()
                else:
                    launch = self._by_fd.get(fd)
                    if launch is not None:
                        self._on_launcher(launch)

    def stop_listening(self) -> None:
        """Stop accepting and remove the socket file if it is still ours. Idempotent."""
        if self._listener is None:
            return
        self._poller.unregister(self._listener)
        if self._socket_is_ours():
            with contextlib.suppress(OSError):
                os.unlink(self._socket_path)
        self._listener.close()
        self._listener = None

    # -- signals ---------------------------------------------------------------------------

    def _handle_signals(self) -> None:
        # The handlers do nothing: the C-level handler writes the signal number to the wake-up
        # pipe, which the loop reads. A Python handler must exist for that to happen at all.
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        for sig in (signal.SIGCHLD, *_STOP_SIGNALS):
            signal.signal(sig, _note_signal)

    def _on_signals(self) -> None:
        try:
            received = os.read(self._wakeup_read, 256)
        except BlockingIOError:
            return
        if any(number in received for number in _STOP_SIGNALS):
            self.stop_listening()

    # -- launches --------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        try:
            launch = self._start(conn)
        except BaseException:
            conn.close()
            raise
        if launch is None:
            conn.close()
            return
        self._last_activity = time.monotonic()
        self._launches[launch.pid] = launch
        try:
            conn.sendall(wire.pack_message(wire.STARTED, launch.pid))
        except OSError:
            self._launcher_gone(launch)
            return
        conn.setblocking(False)
        self._by_fd[conn.fileno()] = launch
        self._poller.register(conn, select.POLLIN)

    def _start(self, conn: socket.socket) -> _Launch | None:
        """Read the request on ``conn`` and fork its child; None (after answering, if the peer
        deserves an answer) when there is nothing to fork."""
        conn.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            _pid, uid = wire.peer_ids(conn)
            if uid != os.geteuid():
                return None
            request, fds = wire.receive_request(conn)
        except (OSError, wire.ProtocolError):
            _answer(conn, wire.REFUSED, wire.REASON_BAD_REQUEST)
            return None
        try:
            reason = self._refusal(request)
            if reason is not None:
                _answer(conn, wire.REFUSED, reason)
                return None
            pid = self._fork(request, fds, conn)
        finally:
            wire.close_all(fds)  # the child has its copies; ours would keep Terraform's pipes open
        if pid is None:
            _answer(conn, wire.REFUSED, wire.REASON_FORK_FAILED)
            return None
        return _Launch(conn, pid)

    def _refusal(self, request: wire.LaunchRequest) -> int | None:
        if request.key != self._key:
            return wire.REASON_WRONG_INSTALLATION
        try:
            single = thread_count() == 1
        except OSError:
            single = False
        return None if single else wire.REASON_NOT_SINGLE_THREADED

    def _fork(self, request: wire.LaunchRequest, fds: list[int], conn: socket.socket) -> int | None:
        forget = [conn, *(launch.conn for launch in self._launches.values() if launch.conn is not None)]
        if self._listener is not None:
            forget.append(self._listener)
        try:
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:
            become_provider(request, fds, self._serve, self._signal_defaults, forget)
        return pid

    def _on_launcher(self, launch: _Launch) -> None:
        assert launch.conn is not None
        try:
            data = launch.conn.recv(256)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._launcher_gone(launch)
            return
        launch.inbox += data
        while len(launch.inbox) >= wire.MESSAGE_SIZE:
            kind, value = wire.unpack_message(launch.inbox[: wire.MESSAGE_SIZE])
            launch.inbox = launch.inbox[wire.MESSAGE_SIZE :]
            if kind == wire.SIGNAL and value in RELAYABLE_SIGNALS:
                with contextlib.suppress(OSError):
                    os.kill(launch.pid, value)

    def _launcher_gone(self, launch: _Launch) -> None:
        """Terraform killed the launcher (or it died): stop the child it stood in for."""
        self._drop_connection(launch)
        if launch.kill_at is None:
            with contextlib.suppress(OSError):
                os.kill(launch.pid, signal.SIGTERM)
            launch.kill_at = time.monotonic() + KILL_GRACE_SECONDS

    def _drop_connection(self, launch: _Launch) -> None:
        if launch.conn is None:
            return
        fd = launch.conn.fileno()
        if self._by_fd.pop(fd, None) is not None:
            self._poller.unregister(fd)
        launch.conn.close()
        launch.conn = None

    # -- children --------------------------------------------------------------------------

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            launch = self._launches.pop(pid, None)
            if launch is None:
                continue
            self._last_activity = time.monotonic()
            if launch.conn is not None:
                code = os.waitstatus_to_exitcode(status)
                if code < 0:
                    _answer(launch.conn, wire.KILLED, -code)
                else:
                    _answer(launch.conn, wire.EXITED, code)
                self._drop_connection(launch)

    def _escalate(self, now: float) -> None:
        for launch in self._launches.values():
            if launch.kill_at is not None and now >= launch.kill_at:
                with contextlib.suppress(OSError):
                    os.kill(launch.pid, signal.SIGKILL)
                launch.kill_at = None

    def _poll_timeout_ms(self, now: float) -> int:
        deadlines = [launch.kill_at for launch in self._launches.values() if launch.kill_at is not None]
        if self._listener is not None:
            deadlines.append(self._next_socket_check)
            if not self._launches:
                deadlines.append(self._last_activity + self._idle_seconds)
        if not deadlines:
            return 1000
        return max(0, min(1000 * 60, int((min(deadlines) - now) * 1000) + 1))

    def _socket_is_ours(self) -> bool:
        try:
            info = os.stat(self._socket_path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._socket_id


def _answer(conn: socket.socket, kind: int, value: int) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(wire.pack_message(kind, value))


def _note_signal(signum: int, frame: FrameType | None) -> None:
    """See :meth:`Daemon._handle_signals`."""


if __name__ == "__main__":
    raise SystemExit(main())
