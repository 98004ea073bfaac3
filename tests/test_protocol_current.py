"""The generated ``tfprovider/protocol`` modules match ``proto/``.

A proto edited without ``make proto`` would leave the server speaking the old protocol while the
source says otherwise. ``tests/support/protogen.py --check`` detects that; these tests run it on
this checkout, and on a scratch copy of the tree that is deliberately made stale, so a check that
passes everything cannot go unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTOGEN = Path("tests/support/protogen.py")
GENERATED = Path("tfprovider/protocol")


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``protogen.py --check`` as it sits under ``root``; it checks the tree it is found in."""
    return subprocess.run(
        [sys.executable, str(root / PROTOGEN), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_checked_in_protocol_code_is_current() -> None:
    result = run_check(REPO_ROOT)
    assert result.returncode == 0, f"run `make proto`:\n{result.stdout}{result.stderr}"


@pytest.fixture
def scratch_tree(tmp_path: Path) -> Path:
    """A copy of just what protogen needs: itself, proto/ and the generated package."""
    (tmp_path / PROTOGEN.parent).mkdir(parents=True)
    shutil.copy2(REPO_ROOT / PROTOGEN, tmp_path / PROTOGEN)
    shutil.copytree(REPO_ROOT / "proto", tmp_path / "proto")
    shutil.copytree(REPO_ROOT / GENERATED, tmp_path / GENERATED, ignore=shutil.ignore_patterns("__pycache__"))
    baseline = run_check(tmp_path)
    assert baseline.returncode == 0, f"the untouched copy should be current:\n{baseline.stderr}"
    return tmp_path


def test_check_fails_when_a_proto_changed_without_regenerating(scratch_tree: Path) -> None:
    proto = scratch_tree / "proto" / "tfplugin6.proto"
    text = proto.read_text()
    anchor = "message DynamicValue {\n"
    assert anchor in text
    proto.write_text(text.replace(anchor, anchor + "  bytes added_without_make_proto = 99;\n"))

    result = run_check(scratch_tree)

    assert result.returncode == 1
    assert "tfplugin6_pb2.py" in result.stderr
    assert "make proto" in result.stderr


def test_check_fails_when_generated_code_was_edited_by_hand(scratch_tree: Path) -> None:
    generated = scratch_tree / GENERATED / "tfplugin6_pb2_grpc.py"
    generated.write_text(generated.read_text() + "\n# edited by hand\n")

    result = run_check(scratch_tree)

    assert result.returncode == 1
    assert "tfplugin6_pb2_grpc.py" in result.stderr


def test_check_fails_when_a_generated_file_is_missing(scratch_tree: Path) -> None:
    (scratch_tree / GENERATED / "tfplugin6_pb2.pyi").unlink()

    result = run_check(scratch_tree)

    assert result.returncode == 1
    assert "tfplugin6_pb2.pyi" in result.stderr
