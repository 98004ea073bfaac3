"""Everything a team needs to host a release, written from the platform zips in a dist directory.

From ``terraform-provider-pulumiservice_VERSION_OS_ARCH.zip`` files (one per platform; a release
manager can gather those built on several machines into one directory first) this writes:

- ``…_VERSION_manifest.json``: the plugin protocol versions the provider speaks (``6.0``);
  OpenTofu's registry assumes ``5.0`` without it.
- ``…_VERSION_SHA256SUMS``: ``sha256sum`` lines for every zip and the manifest, as registries
  publish them.
- ``mirror/``: a packed *filesystem mirror* (``HOST/pulumi/pulumiservice/…zip`` for
  ``registry.terraform.io`` and ``registry.opentofu.org``), for a shared disk or a checkout.
- ``network-mirror/``: the same zips plus ``index.json`` and ``VERSION.json`` (with ``h1:`` and
  ``zh:`` hashes), Terraform's *provider network mirror protocol* as static files that any
  HTTPS server can serve.
- ``lock/terraform/.terraform.lock.hcl`` and ``lock/opentofu/.terraform.lock.hcl``: a lock-file
  entry with the ``h1:`` and ``zh:`` of every platform's zip. Installing from a mirror, Terraform
  records only the ``h1:`` of the one package it unpacked (mirrors are unsigned); starting from
  this file, one committed lock file verifies on every platform of the release.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tfprovider.installer import NAMESPACE, PROGRAM, PROVIDER_TYPE, REGISTRY_HOSTS
from tfprovider.package_hash import h1_of_zip, sha256_of_file

PROTOCOL_VERSIONS = ("6.0",)
"""What the manifest declares: tfplugin6, whose 6.0 is what Terraform 1.0 negotiates."""
PACKED_MIRROR = "mirror"
NETWORK_MIRROR = "network-mirror"
LOCK_DIRECTORY = "lock"
LOCK_FILE = ".terraform.lock.hcl"
_TOOLS = {"registry.terraform.io": "terraform", "registry.opentofu.org": "opentofu"}
_ARCHIVE_NAME = re.compile(
    rf"^{re.escape(PROGRAM)}_(?P<version>[0-9A-Za-z.+-]+)_(?P<os>[a-z0-9]+)_(?P<arch>[a-z0-9]+)\.zip$"
)


class ReleaseError(RuntimeError):
    """The dist directory does not hold a consistent release."""


@dataclass(frozen=True)
class PlatformArchive:
    """One platform's zip and the two hashes a lock file can record for it."""

    path: Path
    platform: str
    sha256: str
    h1: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def zh(self) -> str:
        return f"zh:{self.sha256}"


@dataclass(frozen=True)
class Release:
    """What :func:`write_release` published: the archives it found, and every file it wrote."""

    archives: list[PlatformArchive]
    written: list[Path]


def archive_name(version: str, platform: str) -> str:
    return f"{PROGRAM}_{version}_{platform}.zip"


def sums_name(version: str) -> str:
    return f"{PROGRAM}_{version}_SHA256SUMS"


def manifest_name(version: str) -> str:
    return f"{PROGRAM}_{version}_manifest.json"


def provider_address(host: str) -> str:
    return f"{host}/{NAMESPACE}/{PROVIDER_TYPE}"


def find_archives(dist: Path, version: str) -> list[PlatformArchive]:
    """The platform zips of ``version`` at the top of ``dist``, sorted by platform."""
    found: list[PlatformArchive] = []
    for path in sorted(dist.glob(f"{PROGRAM}_{version}_*.zip")):
        match = _ARCHIVE_NAME.match(path.name)
        if match is None or match["version"] != version:
            continue
        found.append(
            PlatformArchive(
                path=path,
                platform=f"{match['os']}_{match['arch']}",
                sha256=sha256_of_file(path),
                h1=h1_of_zip(path),
            )
        )
    if not found:
        raise ReleaseError(f"no {archive_name(version, 'OS_ARCH')} in {dist}: build one with `make dist`")
    return found


def manifest_text() -> str:
    document = {"version": 1, "metadata": {"protocol_versions": list(PROTOCOL_VERSIONS)}}
    return json.dumps(document, indent=2) + "\n"


def sums_text(digests: Mapping[str, str]) -> str:
    """``sha256sum`` output for file name -> SHA-256 (two spaces, sorted by name), as registries
    publish it."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))


def version_json(archives: Sequence[PlatformArchive]) -> str:
    """``VERSION.json`` of the network mirror protocol: each platform's zip and its hashes."""
    document = {
        "archives": {
            item.platform: {"url": item.name, "hashes": [item.h1, item.zh]}
            for item in sorted(archives, key=lambda item: item.platform)
        }
    }
    return json.dumps(document, indent=2) + "\n"


def index_json(versions: Iterable[str]) -> str:
    """``index.json`` of the network mirror protocol: the versions the mirror holds."""
    return json.dumps({"versions": {version: {} for version in sorted(set(versions))}}, indent=2) + "\n"


def lock_text(host: str, version: str, archives: Sequence[PlatformArchive]) -> str:
    """A ``.terraform.lock.hcl`` pinning ``version`` to these archives, formatted as Terraform
    writes it (hashes sorted), so that ``terraform init`` leaves it byte for byte unchanged."""
    hashes = sorted({item.h1 for item in archives} | {item.zh for item in archives})
    lines = [
        '# This file is maintained automatically by "terraform init".',
        "# Manual edits may be lost in future updates.",
        "",
        f'provider "{provider_address(host)}" {{',
        f'  version = "{version}"',
        "  hashes = [",
        *(f'    "{value}",' for value in hashes),
        "  ]",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _place(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (a hard link where the file system allows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_release(dist: Path, version: str) -> Release:
    """Write the release files listed in the module docstring, from the zips in ``dist``."""
    archives = find_archives(dist, version)
    written: list[Path] = []
    manifest = _write(dist / manifest_name(version), manifest_text())
    written.append(manifest)
    digests = {item.name: item.sha256 for item in archives} | {manifest.name: sha256_of_file(manifest)}
    written.append(_write(dist / sums_name(version), sums_text(digests)))
    for directory in (PACKED_MIRROR, NETWORK_MIRROR):
        if (dist / directory).exists():
            shutil.rmtree(dist / directory)
    for host in REGISTRY_HOSTS:
        packed = dist / PACKED_MIRROR / host / NAMESPACE / PROVIDER_TYPE
        network = dist / NETWORK_MIRROR / host / NAMESPACE / PROVIDER_TYPE
        for item in archives:
            for target in (packed / item.name, network / item.name):
                _place(item.path, target)
                written.append(target)
        written.append(_write(network / "index.json", index_json([version])))
        written.append(_write(network / f"{version}.json", version_json(archives)))
        lock = dist / LOCK_DIRECTORY / _TOOLS[host] / LOCK_FILE
        written.append(_write(lock, lock_text(host, version, archives)))
    return Release(archives, written)
