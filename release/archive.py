"""Reproducible release zips: the same files give the same archive bytes, wherever they were built.

What a zip would otherwise take from the build machine is fixed here: member order (sorted by
name), timestamps (one constant), permissions (``0755`` for executables, ``0644`` for the rest,
recorded as Unix modes so Terraform's unzip keeps the provider executable), owner and system
fields, and the compression level. Directories get no entries of their own: Go's ``dirhash``
would hash them and the package's ``h1:`` would then differ from the unpacked directory's.
Symbolic links are stored as the files they point to, so every unzip gives plain files.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip can record; every member gets it."""
COMPRESS_LEVEL = 9
_UNIX_SYSTEM = 3


class ArchiveError(ValueError):
    """A package tree that cannot be archived faithfully (a special file, a link out of it)."""


def tree_files(root: Path) -> list[str]:
    """Every file under ``root`` (links to files followed), relative and ``/``-separated, sorted."""
    names: list[str] = []
    real_root = root.resolve()
    for directory, subdirectories, files in os.walk(root, followlinks=True):
        here = Path(directory)
        if not here.resolve().is_relative_to(real_root):
            raise ArchiveError(f"{here} links outside {root}")
        subdirectories.sort()
        for name in files:
            path = here / name
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise ArchiveError(f"{path} is not a regular file")
            if not path.resolve().is_relative_to(real_root):
                raise ArchiveError(f"{path} links outside {root}")
            names.append(path.relative_to(root).as_posix())
    return sorted(names)


def _member(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = _UNIX_SYSTEM
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def write_zip(archive: Path, root: Path, names: Iterable[str] | None = None) -> Path:
    """Zip the files ``names`` of ``root`` (default: all of them) into ``archive``, reproducibly.

    Written beside the target and renamed into place, so a half-written archive never appears
    under the release name.
    """
    members = sorted(names) if names is not None else tree_files(root)
    staging = archive.with_name(f".{archive.name}.partial")
    archive.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(staging, "w", compresslevel=COMPRESS_LEVEL) as opened:
            for name in members:
                path = root / name
                executable = bool(path.stat().st_mode & stat.S_IXUSR)
                with path.open("rb") as source, opened.open(_member(name, executable), "w") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
        os.replace(staging, archive)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return archive
