"""Release zips and the files that publish them (`release/archive.py`, `release/mirrors.py`):
reproducible bytes, Terraform's hash rules, and the layouts of both mirror kinds."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from release.archive import FIXED_DATE_TIME, ArchiveError, tree_files, write_zip
from release.mirrors import (
    ReleaseError,
    archive_name,
    find_archives,
    manifest_name,
    sums_name,
    write_release,
)
from tfprovider.package_hash import h1_of_directory, h1_of_zip, zh_of_zip

VERSION = "1.2.3"


def package_tree(root: Path, marker: bytes = b"") -> Path:
    """A small onedir-shaped package: the executable at the top, its libraries beside it."""
    (root / "_internal" / "lib").mkdir(parents=True)
    exe = root / f"terraform-provider-pulumiservice_v{VERSION}"
    exe.write_bytes(b"\x7fELF pretend" + marker)
    exe.chmod(0o755)
    (root / "_internal" / "base_library.zip").write_bytes(b"PK pretend")
    (root / "_internal" / "lib" / "libpython3.11.so.1.0").write_bytes(b"\x7fELF library")
    (root / "_internal" / "lib" / "libpython3.11.so.1.0").chmod(0o755)
    return root


def test_zip_members_are_sorted_dated_and_moded_without_directory_entries(tmp_path: Path) -> None:
    tree = package_tree(tmp_path / "tree")

    archive = write_zip(tmp_path / "p.zip", tree)

    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names) and not [name for name in names if name.endswith("/")]
    assert {info.date_time for info in infos} == {FIXED_DATE_TIME}
    modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in infos}
    assert modes == {
        "_internal/base_library.zip": 0o644,
        "_internal/lib/libpython3.11.so.1.0": 0o755,
        f"terraform-provider-pulumiservice_v{VERSION}": 0o755,
    }
    assert all(stat.S_ISREG(info.external_attr >> 16) and info.create_system == 3 for info in infos)
    assert h1_of_zip(archive) == h1_of_directory(tree)


def test_the_same_files_give_the_same_bytes_wherever_and_whenever_they_were_built(tmp_path: Path) -> None:
    first = package_tree(tmp_path / "checkout-one" / "build")
    second = package_tree(tmp_path / "somewhere" / "else" / "entirely")
    for path in second.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))

    one = write_zip(tmp_path / "one.zip", first).read_bytes()
    two = write_zip(tmp_path / "two.zip", second).read_bytes()

    assert one == two
    changed = write_zip(tmp_path / "three.zip", package_tree(tmp_path / "three", marker=b"!"))
    assert changed.read_bytes() != one


def test_a_symlink_is_stored_as_the_file_it_points_to(tmp_path: Path) -> None:
    tree = package_tree(tmp_path / "tree")
    (tree / "_internal" / "libpython3.11.so").symlink_to("lib/libpython3.11.so.1.0")

    archive = write_zip(tmp_path / "p.zip", tree)

    with zipfile.ZipFile(archive) as opened:
        info = opened.getinfo("_internal/libpython3.11.so")
        assert stat.S_ISREG(info.external_attr >> 16)
        assert opened.read(info) == b"\x7fELF library"


def test_a_link_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    tree = package_tree(tmp_path / "tree")
    (tmp_path / "outside").write_text("secret")
    (tree / "_internal" / "escape").symlink_to(tmp_path / "outside")

    with pytest.raises(ArchiveError, match="outside"):
        tree_files(tree)


def test_no_partial_archive_is_left_behind_on_failure(tmp_path: Path) -> None:
    tree = package_tree(tmp_path / "tree")
    with pytest.raises(FileNotFoundError):
        write_zip(tmp_path / "p.zip", tree, names=["missing"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tree"]


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A dist directory holding two platforms' zips, as gathered from two build machines."""
    directory = tmp_path / "dist"
    for platform in ("linux_amd64", "darwin_arm64"):
        tree = package_tree(tmp_path / platform, marker=platform.encode())
        write_zip(directory / archive_name(VERSION, platform), tree)
    write_zip(directory / archive_name("9.9.9", "linux_amd64"), package_tree(tmp_path / "other"))
    return directory


def test_release_files_describe_every_platform(dist: Path) -> None:
    write_release(dist, VERSION)

    zips = sorted(dist.glob(f"*_{VERSION}_*.zip"))
    manifest = dist / manifest_name(VERSION)
    assert json.loads(manifest.read_text()) == {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}
    sums = (dist / sums_name(VERSION)).read_text().splitlines()
    assert sums == [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}" for path in sorted([*zips, manifest])
    ]
    for host in ("registry.terraform.io", "registry.opentofu.org"):
        packed = dist / "mirror" / host / "pulumi" / "pulumiservice"
        assert sorted(path.name for path in packed.iterdir()) == [path.name for path in zips]
        network = dist / "network-mirror" / host / "pulumi" / "pulumiservice"
        assert json.loads((network / "index.json").read_text()) == {"versions": {VERSION: {}}}
        archives = json.loads((network / f"{VERSION}.json").read_text())["archives"]
        assert sorted(archives) == ["darwin_arm64", "linux_amd64"]
        for platform, entry in archives.items():
            served = network / entry["url"]
            assert served.read_bytes() == (dist / archive_name(VERSION, platform)).read_bytes()
            assert entry["hashes"] == [h1_of_zip(served), zh_of_zip(served)]


def test_lock_files_pin_every_platform_with_both_hash_kinds(dist: Path) -> None:
    write_release(dist, VERSION)

    for tool, host in (("terraform", "registry.terraform.io"), ("opentofu", "registry.opentofu.org")):
        text = (dist / "lock" / tool / ".terraform.lock.hcl").read_text()
        assert f'provider "{host}/pulumi/pulumiservice" {{' in text
        assert f'version = "{VERSION}"' in text
        listed = [line.strip().strip('",') for line in text.splitlines() if line.startswith('    "')]
        expected = set()
        for path in dist.glob(f"*_{VERSION}_*.zip"):
            expected |= {h1_of_zip(path), zh_of_zip(path)}
        assert listed == sorted(expected) and len(listed) == 4


def test_a_dist_without_archives_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="make dist"):
        find_archives(tmp_path, VERSION)
