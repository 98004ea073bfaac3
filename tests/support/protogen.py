"""Generate ``tfprovider/protocol`` from ``proto/*.proto`` (``make proto``), or check it is current.

The protos are compiled under the virtual include path ``tfprovider/protocol`` so the generated
modules import each other as ``tfprovider.protocol.X_pb2`` instead of as top-level modules.
``--check`` regenerates into a scratch directory and fails when any generated file differs,
which is what ``tests/test_protocol_current.py`` runs.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
PACKAGE = "tfprovider/protocol"
INIT_TEXT = '"""Code generated from proto/ by `make proto`. Do not edit; regenerate."""\n'


def generate(out_root: Path) -> list[Path]:
    """Compile every proto into ``out_root/tfprovider/protocol`` and return the files written."""
    from grpc_tools import protoc  # test-only dependency, imported only when generating

    protos = sorted(PROTO_DIR.glob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR}")
    target = out_root / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PACKAGE}={PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(f"{PACKAGE}/{p.name}" for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    (target / "__init__.py").write_text(INIT_TEXT)
    return sorted(p for p in target.iterdir() if p.is_file())


def stale_files() -> list[str]:
    """Names of generated files that differ from, or are missing in, the checked-in package."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = generate(Path(scratch))
        current = ROOT / PACKAGE
        names = {p.name for p in fresh} | {
            p.name for p in current.glob("*") if p.is_file() and p.suffix in {".py", ".pyi"}
        }
        fresh_dir = Path(scratch) / PACKAGE
        return sorted(
            name
            for name in names
            if not (fresh_dir / name).exists()
            or not (current / name).exists()
            or not filecmp.cmp(fresh_dir / name, current / name, shallow=False)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if tfprovider/protocol is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("stale generated protocol code (run `make proto`): " + ", ".join(stale), file=sys.stderr)
            return 1
        print("tfprovider/protocol is current")
        return 0
    for path in generate(ROOT):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
