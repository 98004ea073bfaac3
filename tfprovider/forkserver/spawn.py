"""Start a fork-server daemon in the background, detached from Terraform, without waiting for it.

The daemon is a fresh interpreter (``python -m tfprovider.forkserver.daemon``, or in a release
build the executable itself with :data:`~tfprovider.frozen.DAEMON_FLAG`) rather than a fork of
the launcher: it then holds nothing of the launch that started it. Its environment is
cut down to what running Python needs (no Pulumi or Terraform variables, so no credentials); every
provider it later forks gets its launcher's environment instead. It is detached the usual way
(fork, ``setsid``, fork again) so it is in no process group Terraform signals, and its stdio is
``/dev/null`` so it holds none of Terraform's pipes open.

Waiting for the daemon would cost this launch more than the ordinary start-up (the daemon pays
that start-up and then some imports), so the launch that starts it does not use it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from tfprovider.forkserver.wire import close_from
from tfprovider.frozen import DAEMON_FLAG, is_frozen

DAEMON_MODULE = "tfprovider.forkserver.daemon"

_KEPT_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "XDG_RUNTIME_DIR"}
    | {"LD_LIBRARY_PATH"}  # some interpreters do not start without it
)
_KEPT_PREFIXES = ("LC_", "PYTHON", "PULUMISERVICE_FORKSERVER")


def daemon_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The subset of ``environ`` the daemon runs with (see the module docstring)."""
    return {
        name: value
        for name, value in environ.items()
        if name in _KEPT_NAMES or name.startswith(_KEPT_PREFIXES)
    }


def interpreter_options() -> list[str]:
    """Command-line options that give the daemon the launcher's interpreter settings (``-P`` etc.),
    so both compute the same import path and therefore the same installation key."""
    flags = sys.flags
    options: list[str] = []
    if flags.isolated:
        options.append("-I")
    else:
        if flags.ignore_environment:
            options.append("-E")
        if flags.no_user_site:
            options.append("-s")
        if flags.safe_path:
            options.append("-P")
    if flags.no_site:
        options.append("-S")
    if flags.dont_write_bytecode:
        options.append("-B")
    options.extend(["-O"] * flags.optimize)
    return options


def start_daemon(directory: str, key_digest: str, environ: Mapping[str, str]) -> None:
    """Start a daemon for ``directory``/``key_digest`` in the background; raises OSError if
    even the first fork fails. The daemon itself gives up quietly if another one already runs."""
    if not sys.executable:
        raise OSError("no interpreter path (sys.executable is empty)")
    if is_frozen():
        argv = [sys.executable, DAEMON_FLAG, directory, key_digest]
    else:
        argv = [sys.executable, *interpreter_options(), "-m", DAEMON_MODULE, directory, key_digest]
    env = daemon_environment(environ)
    pid = os.fork()
    if pid == 0:
        _detach_and_exec(argv, env)
    os.waitpid(pid, 0)


def _detach_and_exec(argv: list[str], env: dict[str, str]) -> None:
    """In the first child: new session, second fork, stdio to /dev/null, exec. Never returns."""
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        close_from(3)
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)
