"""The private directory that holds the provider's unix socket.

The socket is the provider's only access control: grpcio cannot verify Terraform's client
certificate (see ``serve.py``), so anyone who can connect can call the provider with the user's
Pulumi credentials. A fresh directory of mode 0700 per launch keeps other users out; the socket
itself is created 0600 (bound under a restrictive umask, then chmod-ed again for certainty).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

SOCKET_NAME = "plugin.sock"
DIRECTORY_PREFIX = "tfprovider-"
_PRIVATE_DIRECTORY_MODE = 0o700
_PRIVATE_SOCKET_MODE = 0o600
# Makes anything created while it is in force 0600/0700 at most.
_PRIVATE_UMASK = 0o177


class PrivateSocketDirectory:
    """A directory made by :meth:`create` and removed by :meth:`remove`, which is idempotent so
    every exit path (``finally``, ``atexit``) can call it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.socket_path = os.path.join(path, SOCKET_NAME)

    @classmethod
    def create(cls, parent: str | None = None) -> PrivateSocketDirectory:
        """Make a new directory (mode 0700) under ``parent`` or the system temporary directory."""
        path = tempfile.mkdtemp(prefix=DIRECTORY_PREFIX, dir=parent)
        os.chmod(path, _PRIVATE_DIRECTORY_MODE)  # mkdtemp says 0700; do not depend on it
        return cls(path)

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
        """Delete the directory and the socket in it; quiet if already gone."""
        shutil.rmtree(self.path, ignore_errors=True)
