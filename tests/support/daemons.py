"""Find fork-server daemons a test started, so it can stop them: they outlive Terraform on purpose."""

from __future__ import annotations

from pathlib import Path

DAEMON_MARKERS = (b"tfprovider.forkserver.daemon", b"--fork-server-daemon")
"""How a daemon shows in its command line: ``python -m …`` from a venv, the flag in a release build."""


def daemon_pids(directory: Path) -> list[int]:
    """Fork-server daemons serving ``directory`` (found by their command line and environment)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        is_daemon = any(marker in cmdline for marker in DAEMON_MARKERS)
        if is_daemon and str(directory).encode() in environ + cmdline:
            pids.append(int(proc.name))
    return pids
