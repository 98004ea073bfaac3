"""The private socket directory: where it is made, its mode, and its removal."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tfprovider.plugin import socket_dir
from tfprovider.plugin.socket_dir import PrivateSocketDirectory


@pytest.fixture
def clean_temp_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_made_under_the_given_parent_with_mode_0700(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen it
    try:
        directory = PrivateSocketDirectory.create(str(tmp_path))
    finally:
        os.umask(old_umask)
    path = Path(directory.path)
    assert path.parent == tmp_path and path.name.startswith("tfprovider-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert directory.socket_path == str(path / "plugin.sock")
    assert directory.address == "unix:" + directory.socket_path


def test_tmpdir_is_used_first(tmp_path: Path, clean_temp_env: pytest.MonkeyPatch) -> None:
    clean_temp_env.setenv("TMPDIR", str(tmp_path))
    assert Path(PrivateSocketDirectory.create().path).parent == tmp_path


def test_an_unusable_tmpdir_falls_back_like_tempfile(
    tmp_path: Path, clean_temp_env: pytest.MonkeyPatch
) -> None:
    clean_temp_env.setenv("TMPDIR", str(tmp_path / "missing"))
    clean_temp_env.setenv("TMP", str(tmp_path))
    assert Path(PrivateSocketDirectory.create().path).parent == tmp_path


def test_a_relative_parent_gives_an_absolute_socket_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    directory = PrivateSocketDirectory.create(".")
    assert os.path.isabs(directory.socket_path)


def test_when_no_parent_works_the_first_error_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        socket_dir, "_temporary_directories", lambda: [str(tmp_path / "a"), str(tmp_path / "b")]
    )
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "a")):
        PrivateSocketDirectory.create()


def test_taken_names_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = iter([b"\x00" * 6, b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(socket_dir.os, "urandom", lambda size: next(names))
    first = PrivateSocketDirectory.create(str(tmp_path))
    second = PrivateSocketDirectory.create(str(tmp_path))
    assert first.path != second.path and second.path.endswith("010101010101")


def test_binding_makes_the_socket_0600_and_remove_is_idempotent(tmp_path: Path) -> None:
    directory = PrivateSocketDirectory.create(str(tmp_path))
    with directory.binding(), socket.socket(socket.AF_UNIX) as listener:
        listener.bind(directory.socket_path)
    assert stat.S_IMODE(os.stat(directory.socket_path).st_mode) == 0o600
    directory.remove()
    assert not Path(directory.path).exists()
    directory.remove()


def test_remove_also_clears_unexpected_content(tmp_path: Path) -> None:
    directory = PrivateSocketDirectory.create(str(tmp_path))
    Path(directory.path, "stray").write_text("x")
    directory.remove()
    assert not Path(directory.path).exists()
