"""``make dist``: this platform's release zip, then everything that publishes the release.

    .venv/bin/python release/dist.py [--out dist] [--source .] [--work build/dist]
    .venv/bin/python release/dist.py --index-only [--out dist]

The first form freezes the provider (``freeze.py``), zips it reproducibly (``archive.py``) as
``terraform-provider-pulumiservice_VERSION_OS_ARCH.zip`` and writes the checksums, manifest,
mirrors and lock files from every zip of this version in the output directory (``mirrors.py``).
``--index-only`` does only the last step: to publish several platforms, build on each, gather
the zips into one directory and run it there.

``build-info.json`` in the output directory records what was built from what (a digest of the
sources), so the tests can tell a stale ``dist/`` from a current one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from release.archive import write_zip  # noqa: E402
from release.freeze import FreezeError, freeze, source_version  # noqa: E402
from release.mirrors import ReleaseError, archive_name, write_release  # noqa: E402
from tfprovider.installer import go_platform  # noqa: E402

BUILD_INFO = "build-info.json"
SOURCE_GLOBS = ("tfprovider/**/*.py", "release/*.py", "release/*.spec", "release/*.txt", "pyproject.toml")


def source_digest(source: Path) -> str:
    """SHA-256 over the names and bytes of every file that goes into the release build."""
    digest = hashlib.sha256()
    files = sorted({path for pattern in SOURCE_GLOBS for path in source.glob(pattern) if path.is_file()})
    for path in files:
        relative = path.relative_to(source).as_posix()
        if "__pycache__" in relative:
            continue
        digest.update(f"{relative}\n{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def build(source: Path, out: Path, work: Path) -> dict[str, object]:
    started = time.monotonic()
    version = source_version(source)
    platform = go_platform()
    bundle = freeze(source, work)
    frozen_seconds = time.monotonic() - started
    archive = write_zip(out / archive_name(version, platform), bundle)
    (item,) = [found for found in write_release(out, version).archives if found.path == archive]
    info: dict[str, object] = {
        "version": version,
        "platform": platform,
        "archive": archive.name,
        "h1": item.h1,
        "zh": item.zh,
        "source_digest": source_digest(source),
        "freeze_seconds": round(frozen_seconds, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    }
    (out / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "dist", help="output directory (default dist/)"
    )
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="checkout to build (default this one)")
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default build/dist)")
    parser.add_argument("--index-only", action="store_true", help="only (re)write checksums, mirrors, locks")
    options = parser.parse_args(argv)
    out: Path = options.out.resolve()
    try:
        if options.index_only:
            version = source_version(options.source.resolve())
            for path in write_release(out, version).written:
                print(path)
            return 0
        work = options.work or options.source.resolve() / "build" / "dist"
        info = build(options.source.resolve(), out, work.resolve())
    except (FreezeError, ReleaseError) as exc:
        print(f"make dist: {exc}", file=sys.stderr)
        return 1
    print(f"{out / str(info['archive'])}")
    print(f"  {info['h1']}\n  {info['zh']}")
    print(f"checksums, manifest, mirrors and lock files in {out}")
    print(f"built in {info['total_seconds']} s (freezing {info['freeze_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
