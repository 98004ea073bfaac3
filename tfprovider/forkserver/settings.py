"""When the fork-server is used, where its socket lives, and how long an idle daemon stays.

Read on every launch, so standard library only and nothing that imports further.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

SWITCH_ENV = "PULUMISERVICE_FORKSERVER"
"""``0`` turns the fork-server off, ``1`` turns it on even under CI; unset means "on unless CI"."""
DIRECTORY_ENV = "PULUMISERVICE_FORKSERVER_DIR"
"""Overrides the per-user directory that holds the daemon sockets (tests point it elsewhere)."""
IDLE_ENV = "PULUMISERVICE_FORKSERVER_IDLE"
"""Seconds a daemon waits without launches before it exits (default :data:`DEFAULT_IDLE_SECONDS`)."""
CI_ENV = "CI"
COOKIE_ENV = "TF_PLUGIN_MAGIC_COOKIE"
"""Set by Terraform's plugin client on every launch; without it a person is running the provider."""

DEFAULT_IDLE_SECONDS = 300.0
DIRECTORY_NAME = "tfprovider-pulumiservice"


def disabled_reason(environ: Mapping[str, str]) -> str | None:
    """Why this launch must not use the fork-server, or None when it may.

    CI machines usually run one command on a fresh machine, where a daemon that outlives the job
    only costs memory; they opt in with ``PULUMISERVICE_FORKSERVER=1``. The daemon passes open
    file descriptors and checks peer credentials with Linux-only socket options, so other systems
    always take the ordinary start-up path.
    """
    switch = environ.get(SWITCH_ENV, "").strip()
    if switch == "0":
        return f"{SWITCH_ENV}=0"
    if not sys.platform.startswith("linux"):
        return f"not supported on {sys.platform}"
    if environ.get(CI_ENV) and switch != "1":
        return f"{CI_ENV} is set (set {SWITCH_ENV}=1 to use it anyway)"
    return None


def socket_directory(environ: Mapping[str, str]) -> str:
    """The private per-user directory for daemon sockets (it may not exist yet).

    ``$XDG_RUNTIME_DIR`` is already private to the user and cleared at logout, so it is preferred;
    otherwise a directory named after the uid in the temporary directory, whose owner and mode
    are checked before every use because anyone can create names there.
    """
    override = environ.get(DIRECTORY_ENV)
    if override:
        return os.path.abspath(override)
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return os.path.join(runtime, DIRECTORY_NAME)
    temporary = environ.get("TMPDIR", "")
    if not os.path.isabs(temporary):
        temporary = "/tmp"
    return os.path.join(temporary, f"{DIRECTORY_NAME}-{os.geteuid()}")


def idle_seconds(environ: Mapping[str, str]) -> float:
    """The daemon's idle timeout; an unparsable or non-positive value means the default."""
    try:
        seconds = float(environ.get(IDLE_ENV, ""))
    except ValueError:
        return DEFAULT_IDLE_SECONDS
    return seconds if seconds > 0 else DEFAULT_IDLE_SECONDS
