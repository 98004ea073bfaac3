"""The private directory that holds the provider's unix socket.

The socket is the provider's only access control: grpcio cannot verify Terraform's client
certificate (see ``serve.py``), so anyone who can connect can call the provider with the user's
Pulumi credentials. A fresh directory of mode 0700 per launch keeps other users out; the socket
itself is created 0600 (bound under a restrictive umask, then chmod-ed again for certainty).

Made with ``os.mkdir`` rather than ``tempfile``/``shutil``: those two cost more to import than
everything else here, on every launch, for a directory that only ever holds one socket.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

SOCKET_NAME = "plugin.sock"
DIRECTORY_PREFIX = "tfprovider-"
_PRIVATE_DIRECTORY_MODE = 0o700
_PRIVATE_SOCKET_MODE = 0o600
# Makes anything created while it is in force 0600/0700 at most.
_PRIVATE_UMASK = 0o177
# Random bytes in a directory name (as hex): a taken name is skipped, never reused.
_NAME_RANDOM_BYTES = 6
_NAMES_TRIED_PER_PARENT = 100
# Where tempfile.gettempdir() looks on POSIX, in its order, except its last resort (the working
# directory, which for a provider is the user's configuration directory).
_TEMPORARY_ENVIRONMENT = ("TMPDIR", "TEMP", "TMP")
_TEMPORARY_DIRECTORIES = ("/tmp", "/var/tmp", "/usr/tmp")


class PrivateSocketDirectory:
    """A directory made by :meth:`create` and removed by :meth:`remove`, which is idempotent so
    every exit path (``finally``, ``atexit``) can call it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.socket_path = os.path.join(path, SOCKET_NAME)

    @classmethod
    def create(cls, parent: str | None = None) -> PrivateSocketDirectory:
        """Make a new directory (mode 0700) under ``parent``, or else under the first usable
        temporary directory (``$TMPDIR``, ``$TEMP``, ``$TMP``, ``/tmp``, ``/var/tmp``, ``/usr/tmp``).

        Raises ``OSError`` naming the directory that failed (the first one tried, when none works).
        """
        parents = [parent] if parent is not None else _temporary_directories()
        first_error: OSError | None = None
        for candidate in parents:
            try:
                path = _make_private_directory(os.path.abspath(candidate))
            except OSError as exc:
                first_error = first_error or exc
                continue
            os.chmod(path, _PRIVATE_DIRECTORY_MODE)  # mkdir applies the umask; do not depend on it
            return cls(path)
        raise first_error or FileNotFoundError("no temporary directory to create the plugin socket in")

    @property
    def address(self) -> str:
        """The gRPC address of the socket."""
        return "unix:" + self.socket_path

    @contextlib.contextmanager
    def binding(self) -> Iterator[None]:
        """Bind the socket inside this block: the umask keeps it 0600 from the first instant, and
        the chmod afterwards makes that hold whatever the binder did.

        The umask is process-wide, so this must run before any other thread creates files, which
        is the case during start-up.
        """
        previous = os.umask(_PRIVATE_UMASK)
        try:
            yield
        finally:
            os.umask(previous)
        os.chmod(self.socket_path, _PRIVATE_SOCKET_MODE)

    def remove(self) -> None:
        """Delete the socket and the directory; quiet if already gone (gRPC removes the socket
        itself when the server stops)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError:
            # Something else ended up in our directory: still leave nothing behind.
            import shutil

            shutil.rmtree(self.path, ignore_errors=True)


def _temporary_directories() -> list[str]:
    named = [value for value in map(os.environ.get, _TEMPORARY_ENVIRONMENT) if value]
    return [*named, *_TEMPORARY_DIRECTORIES]


def _make_private_directory(parent: str) -> str:
    """Create ``parent/tfprovider-<random>`` with mode 0700 and return its path."""
    for _ in range(_NAMES_TRIED_PER_PARENT):
        path = os.path.join(parent, DIRECTORY_PREFIX + os.urandom(_NAME_RANDOM_BYTES).hex())
        try:
            os.mkdir(path, _PRIVATE_DIRECTORY_MODE)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free directory name in {parent} after {_NAMES_TRIED_PER_PARENT} tries")
