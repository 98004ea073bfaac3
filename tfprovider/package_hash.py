"""The checksums Terraform and OpenTofu record for a provider package in ``.terraform.lock.hcl``.

- ``h1:`` hashes the package's *contents*: Go's ``dirhash`` "Hash1" over every file's name
  (relative, ``/``-separated) and bytes, so an unpacked directory and the zip it came from hash
  alike, provided the zip holds no directory entries (``dirhash`` hashes every zip entry, a
  directory's too, while a directory walk sees only files). File modes are not part of it.
- ``zh:`` is the SHA-256 of the zip archive itself, as a registry's ``SHA256SUMS`` lists it; it
  only verifies an archive, never an unpacked directory.

Terraform accepts a package if any recorded hash matches, so a lock file that lists the ``h1:``
and ``zh:`` of every platform's package works on every platform.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

_CHUNK = 1 << 20


class PackageHashError(ValueError):
    """A package that ``dirhash`` cannot hash (a file name with a newline, a directory entry)."""


def _sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def hash1(names: Iterable[str], open_file: Callable[[str], IO[bytes]]) -> str:
    """``h1:`` of the files ``names``, read through ``open_file`` (``dirhash.Hash1``)."""
    summary = hashlib.sha256()
    for name in sorted(names):  # code-point order is UTF-8 byte order, which is Go's
        if "\n" in name:
            raise PackageHashError(f"a file name with a newline cannot be hashed: {name!r}")
        with open_file(name) as stream:
            summary.update(f"{_sha256_of(stream)}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def package_files(directory: Path) -> list[str]:
    """Every file under ``directory`` as ``dirhash`` lists it: relative, ``/``-separated.

    A symbolic link counts as a file with its target's bytes (Go's walk does not descend into
    it), which is why release packages hold none.
    """
    names: list[str] = []
    for root, dirs, files in os.walk(directory):
        relative = os.path.relpath(root, directory)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = name if relative == "." else f"{relative}/{name}"
            names.append(path.replace(os.sep, "/"))
    return names


def h1_of_directory(directory: Path) -> str:
    """``h1:`` of an unpacked package (what Terraform computes for a filesystem mirror)."""
    return hash1(package_files(directory), lambda name: (directory / name).open("rb"))


def h1_of_zip(archive: Path) -> str:
    """``h1:`` of a zipped package, as it will hash once unpacked."""
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        directories = [name for name in names if name.endswith("/")]
        if directories:
            raise PackageHashError(
                f"{archive} has directory entries ({directories[0]!r}, ...): its h1 would differ "
                "from the unpacked package's"
            )
        return hash1(names, lambda name: opened.open(name))


def zh_of_zip(archive: Path) -> str:
    """``zh:`` of a zipped package: the archive's SHA-256."""
    return "zh:" + sha256_of_file(archive)


def sha256_of_file(path: Path) -> str:
    with path.open("rb") as stream:
        return _sha256_of(stream)
