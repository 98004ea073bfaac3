"""The per-user directory holding daemon sockets: trusted only when it is really ours.

Whoever controls that directory could put a socket there that answers as a daemon and receives
the launch's environment, which holds the user's Pulumi access token. So before any use the
directory (not a symlink to one) must be owned by the effective user and closed to everyone else.
A directory that fails the check is never repaired or removed: it may be another user's, and the
launch simply takes the ordinary start-up path.
"""

from __future__ import annotations

import os
import stat

PRIVATE_MODE = 0o700


def problem(path: str) -> str | None:
    """Why ``path`` must not be trusted, or None when it is a private directory of ours."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"cannot inspect {path}: {exc.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != os.geteuid():
        return f"{path} is owned by uid {info.st_uid}, not by uid {os.geteuid()}"
    if info.st_mode & 0o077:
        return f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):03o}, needs 700)"
    return None


def ensure(path: str) -> str | None:
    """Create ``path`` (mode 0700, parent must exist) unless it exists; then :func:`problem`."""
    try:
        os.mkdir(path, PRIVATE_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot create {path}: {exc.strerror}"
    return problem(path)
