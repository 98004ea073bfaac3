"""Which installation a daemon serves, so an upgrade or another interpreter never gets old code.

The key is plain text naming the provider version, the interpreter, the import path, and every
file of the installed ``tfprovider`` package with its size and modification time, plus the
modification times of the import path's directories (installing or removing any dependency
changes its ``site-packages``). Launcher and daemon compute it the same way; the socket is named
after a digest of it, and the daemon also compares the full text on every request.

A release build (see :mod:`tfprovider.frozen`) keeps its modules as files in its bundle
directory, so the same key applies, plus the executable itself (size, modification time, inode),
which is the interpreter there.

Runs on every launch, so it stats files rather than reading them (about 60 files: well under a
millisecond) and avoids ``hashlib`` (its OpenSSL import costs more than the rest of this module).
"""

from __future__ import annotations

import os
import sys

import tfprovider
from tfprovider.frozen import is_frozen

# A Mersenne prime: the digest is the key's bytes read as one big integer modulo this. Not a
# cryptographic hash, nor does it need to be: it only names the socket, and the daemon compares
# the whole key text, so a collision can only make a launch take the ordinary path.
_DIGEST_MODULUS = (1 << 127) - 1
_SKIPPED_DIRECTORIES = frozenset({"__pycache__"})


def installation_key() -> bytes:
    """The key text of the running installation (see the module docstring)."""
    lines = [
        f"tfprovider {tfprovider.__version__}",
        f"executable {sys.executable}",
        f"python {sys.version}",
        f"path {sys.path!r}",
    ]
    for entry in sys.path:
        try:
            lines.append(f"path-entry {entry} {os.stat(entry).st_mtime_ns}")
        except OSError:
            lines.append(f"path-entry {entry} missing")
    if is_frozen():
        info = os.stat(sys.executable)
        lines.append(f"frozen {info.st_size} {info.st_mtime_ns} {info.st_ino}")
    package_dir = os.path.dirname(os.path.abspath(tfprovider.__file__ or ""))
    lines.append(f"package {package_dir}")
    lines.extend(_package_files(package_dir, ""))
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def digest(key: bytes) -> str:
    """A short, file-name-safe name for ``key`` (32 hex digits)."""
    return format(int.from_bytes(key, "big") % _DIGEST_MODULUS, "032x")


def _package_files(directory: str, relative: str) -> list[str]:
    lines: list[str] = []
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            name = f"{relative}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIPPED_DIRECTORIES:
                    lines.extend(_package_files(entry.path, name + "/"))
                continue
            info = entry.stat()
            lines.append(f"file {name} {info.st_size} {info.st_mtime_ns}")
    return lines
