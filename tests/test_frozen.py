"""What changes in a release build (`tfprovider.frozen`), checked without freezing anything: the
fork-server starts the executable itself as its daemon, the daemon flag reaches the daemon, the
fork-server's installation key covers the executable, and `install` explains itself.

The real release build is exercised end to end in `test_e2e_release.py`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tfprovider import __main__ as entry
from tfprovider import cli, frozen
from tfprovider.forkserver import identity, spawn


@pytest.fixture
def release_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to be a release build whose executable is a file in ``tmp_path``."""
    executable = tmp_path / "terraform-provider-pulumiservice_v0.1.0"
    executable.write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(executable))
    return executable


def test_a_venv_is_not_a_release_build() -> None:
    assert frozen.is_frozen() is False


def test_the_daemon_of_a_release_build_is_the_executable_with_the_flag(
    release_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execed: list[list[str]] = []
    monkeypatch.setattr(spawn.os, "fork", lambda: 0)
    monkeypatch.setattr(spawn.os, "waitpid", lambda pid, options: (pid, 0))
    monkeypatch.setattr(spawn, "_detach_and_exec", lambda argv, env: execed.append(argv))

    spawn.start_daemon("/run/dir", "abc123", {"PATH": "/bin", "PULUMI_ACCESS_TOKEN": "secret"})

    assert execed == [[str(release_build), frozen.DAEMON_FLAG, "/run/dir", "abc123"]]


def test_frozen_main_hands_the_flag_to_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []

    def daemon_main(argv: list[str]) -> int:
        received.append(argv)
        return 3

    monkeypatch.setattr("tfprovider.forkserver.daemon.main", daemon_main)
    monkeypatch.setattr(sys, "argv", ["exe", frozen.DAEMON_FLAG, "/run/dir", "abc123"])

    with pytest.raises(SystemExit) as exited:
        entry.frozen_main()

    assert exited.value.code == 3
    assert received == [["/run/dir", "abc123"]]


def test_frozen_main_otherwise_runs_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[bool] = []
    monkeypatch.setattr(entry, "run", lambda: ran.append(True))
    monkeypatch.setattr(sys, "argv", ["exe", "--version"])

    entry.frozen_main()

    assert ran == [True]


def test_the_installation_key_covers_the_release_executable(release_build: Path) -> None:
    before = identity.installation_key()
    release_build.write_bytes(b"\x7fELF, rebuilt")
    os.utime(release_build, ns=(1, 1))

    after = identity.installation_key()

    assert before != after
    assert b"frozen " in after


def test_install_in_a_release_build_explains_itself(
    release_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["install", "--plugins-dir", str(tmp_path / "plugins")]) == 2

    err = capsys.readouterr().err
    assert "this is a release build" in err and "For a team" in err
    assert not (tmp_path / "plugins").exists()
