"""Lock-file hashes (`tfprovider.package_hash`) against values real Terraform computed.

The expected `h1:` values were recorded by Terraform 1.15.5's `providers lock` on this machine for
packed mirrors holding exactly these files; the e2e install tests check the same against the
lock files both Terraform versions write for our real packages.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from tfprovider.package_hash import (
    PackageHashError,
    h1_of_directory,
    h1_of_zip,
    package_files,
    zh_of_zip,
)

ONE_FILE = {
    "terraform-provider-pulumiservice_v0.1.0": (
        b"#!/bin/sh\nexec /work/main/.venv/bin/python -P -c "
        b'"from tfprovider.__main__ import run; run()" "$@"\n'
    )
}
ONE_FILE_H1 = "h1:XMqILjVzYryMGU6aXkKo3L4g4vcOj9bUCtkpc0rfdbk="

NESTED = {
    "terraform-provider-pulumiservice_v0.1.0": b"#!/bin/sh\nexit 0\n",
    "_internal/sub/b.bin": bytes(range(256)),
    "_internal/a.txt": b"",
    "_internal/Z upper.txt": "caf\u00e9\n".encode(),
}
NESTED_H1 = "h1:T6NJG+XB+qyI3E4FZ3toCUllnCTIg3hvezVhjIjE/lw="


def write_zip(path: Path, files: dict[str, bytes], directories: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in directories:
            archive.writestr(zipfile.ZipInfo(name), b"")
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.mark.parametrize(("files", "expected"), [(ONE_FILE, ONE_FILE_H1), (NESTED, NESTED_H1)])
def test_h1_matches_terraform_for_a_zip_and_for_its_unpacked_directory(
    tmp_path: Path, files: dict[str, bytes], expected: str
) -> None:
    assert h1_of_zip(write_zip(tmp_path / "p.zip", files)) == expected
    assert h1_of_directory(write_tree(tmp_path / "unpacked", files)) == expected


def test_h1_ignores_file_modes_but_not_names_or_bytes(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "a", NESTED)
    (tree / "_internal/a.txt").chmod(0o755)
    assert h1_of_directory(tree) == NESTED_H1

    (tree / "_internal/a.txt").write_bytes(b"x")
    assert h1_of_directory(tree) != NESTED_H1
    renamed = write_tree(tmp_path / "b", {**NESTED, "_internal/a2.txt": b""})
    (renamed / "_internal/a.txt").unlink()
    assert h1_of_directory(renamed) != NESTED_H1


def test_directory_entries_in_a_zip_are_refused(tmp_path: Path) -> None:
    # dirhash would hash them (the unpacked directory has no such "file"), so the zip's h1
    # would not match what Terraform computes after unpacking it.
    archive = write_zip(tmp_path / "p.zip", NESTED, directories=("_internal/",))
    with pytest.raises(PackageHashError, match="directory entries"):
        h1_of_zip(archive)


def test_a_file_name_with_a_newline_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "p.zip", {"bad\nname": b""})
    with pytest.raises(PackageHashError, match="newline"):
        h1_of_zip(archive)


def test_zh_is_the_archive_sha256(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "p.zip", NESTED)
    assert zh_of_zip(archive) == "zh:" + hashlib.sha256(archive.read_bytes()).hexdigest()


def test_package_files_are_relative_and_slash_separated(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", NESTED)
    assert sorted(package_files(tree)) == sorted(NESTED)
