"""The forked child: turn a copy of the warm daemon into the process Terraform thinks it started.

Everything that differs between the daemon and a launch is replaced from the launch request
before the provider code runs: stdio (the launcher's own descriptors), working directory, the
whole environment (the daemon's is discarded, so nothing leaks between launches), umask, argv,
signal dispositions (fresh-interpreter defaults, plus whatever the launcher inherited as
ignored), and every other descriptor the daemon had is closed. Then the child tells the launcher
it is ready, waits for "go" (until then it has written nothing, so the launcher can still take
the ordinary path), and runs the same ``serve(register)`` as the ordinary start-up.

What a fork cannot make fresh, and so is shared with the daemon: the hash seed of ``str`` keys,
resource limits and nice value (those of the launch that started the daemon), cgroup, session,
and whatever a library read from the environment when it was imported (the daemon's cut-down
environment then; e.g. protobuf's ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION``). The provider's own
code reads the environment when it needs it, never at import time. ``random`` reseeds itself
after a fork; the server key comes from ``os.urandom`` in the child and none exists before.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import NoReturn

from tfprovider.forkserver import wire

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers
ServeCall = Callable[[], int]

LINK_FD = 3
"""Where the child keeps its link to the launcher (stdio is 0-2; everything above is closed)."""
LAUNCHER_GONE_GRACE_SECONDS = 2.0
"""After the launcher dies: time for an orderly SIGTERM stop before the child exits anyway."""


def become_provider(
    request: wire.LaunchRequest,
    fds: Sequence[int],
    serve: ServeCall,
    signal_defaults: Mapping[int, Handler],
    forget: Sequence[socket.socket],
) -> NoReturn:
    """Run in the child right after ``fork()``: never returns into the daemon's code.

    ``fds`` are the launcher's stdin, stdout, stderr and link, as received; ``signal_defaults``
    the dispositions of a fresh interpreter for the signals the daemon handles; ``forget`` the
    daemon's socket objects, detached so that nothing here ever closes a reused descriptor number.
    """
    try:
        launcher = _prepare(request, fds, signal_defaults, forget)
        released = _released(launcher)
    except BaseException:
        os._exit(1)  # quietly: the launcher sees the link close before "ready" and falls back
    if not released:
        os._exit(0)  # the launcher took the ordinary path; nothing was written
    code = 1
    try:
        _watch_launcher(launcher)
        code = serve()
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = _die_of(signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        _finish(code)


def _prepare(
    request: wire.LaunchRequest,
    fds: Sequence[int],
    signal_defaults: Mapping[int, Handler],
    forget: Sequence[socket.socket],
) -> socket.socket:
    """Make this process the launch's (see the module docstring); the link to the launcher."""
    _reset_signals(signal_defaults, request.ignored_signals)
    for sock in forget:
        sock.detach()
    stdin, stdout, stderr, link = fds
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    if link != LINK_FD:
        os.dup2(link, LINK_FD)
    os.set_inheritable(LINK_FD, False)
    wire.close_from(LINK_FD + 1)
    launcher = socket.socket(fileno=LINK_FD)

    os.chdir(request.cwd)
    os.environb.clear()
    os.environb.update(request.environ)
    os.umask(request.umask)
    sys.argv = [os.fsdecode(arg) for arg in request.argv]
    _forget_environment_caches()
    return launcher


def _released(launcher: socket.socket) -> bool:
    """Tell the launcher we are ready; whether it answers "go" (it may take the ordinary path)."""
    launcher.sendall(wire.CHILD_READY)
    return launcher.recv(1) == wire.LAUNCHER_GO


def _reset_signals(defaults: Mapping[int, Handler], ignored: Sequence[int]) -> None:
    signal.set_wakeup_fd(-1)
    for sig, handler in defaults.items():
        signal.signal(sig, handler)
    catchable = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    for number in ignored:
        if number in catchable:
            signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _forget_environment_caches() -> None:
    """Values the standard library derived from the daemon's environment and cached."""
    time.tzset()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # type: ignore[attr-defined]
    stdout = sys.stdout
    if stdout is not None and hasattr(stdout, "reconfigure"):
        stdout.reconfigure(line_buffering=os.isatty(1))


def _watch_launcher(launcher: socket.socket) -> None:
    """If the launcher dies (Terraform killed it), stop as if Terraform had sent SIGTERM.

    The daemon does the same from its side; this also covers a daemon that has gone away.
    """

    def watch() -> None:
        try:
            while launcher.recv(64):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(LAUNCHER_GONE_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="tfprovider-launcher-watch", daemon=True).start()


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _die_of(signum: int) -> int:
    _flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _finish(code: int) -> NoReturn:
    """End the child as the interpreter would end the ordinary process, minus unwinding into
    the daemon: exit handlers (the provider registers clean-ups there), flushed stdio, exit."""
    try:
        atexit._run_exitfuncs()
    finally:
        _flush()
        os._exit(code & 0xFF if code >= 0 else 1)
