"""The provider installer (`tfprovider.installer`) and the command line around it (`tfprovider.cli`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tfprovider import __version__, cli
from tfprovider.installer import (
    LAUNCH_CODE,
    UnsupportedPlatformError,
    default_plugins_dir,
    go_platform,
    install,
    launcher_script,
)

EXECUTABLE = f"terraform-provider-pulumiservice_v{__version__}"


def expected_paths(plugins_dir: Path) -> list[Path]:
    return [
        plugins_dir / host / "pulumi/pulumiservice" / __version__ / go_platform() / EXECUTABLE
        for host in ("registry.terraform.io", "registry.opentofu.org")
    ]


def fake_python(directory: Path) -> Path:
    """An interpreter stand-in that reports how it was called, one argument per line."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "python"
    script.write_text('#!/bin/sh\necho "argv0=$0"\nfor a in "$@"; do echo "arg=$a"; done\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("Linux", "x86_64", "linux_amd64"),
        ("Linux", "aarch64", "linux_arm64"),
        ("Darwin", "arm64", "darwin_arm64"),
        ("Darwin", "x86_64", "darwin_amd64"),
    ],
)
def test_platform_uses_go_names(system: str, machine: str, expected: str) -> None:
    assert go_platform(system, machine) == expected


def test_unsupported_platform_is_named() -> None:
    with pytest.raises(UnsupportedPlatformError, match="windows/amd64"):
        go_platform("Windows", "AMD64")


def test_install_writes_launcher_for_both_registries(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "bin")

    written = install(tmp_path / "plugins", python=str(python))

    assert written == expected_paths(tmp_path / "plugins")
    for path in written:
        mode = path.stat().st_mode
        assert stat.S_ISREG(mode)
        assert mode & 0o755 == 0o755, oct(mode)
        assert path.read_text() == launcher_script(str(python))
        assert path.read_text().startswith("#!/bin/sh\n")


def test_launcher_execs_configured_python_with_terraform_arguments(tmp_path: Path) -> None:
    python = fake_python(tmp_path / 'it\'s a "dir" with $pace')
    (launcher, _) = install(tmp_path / "plugins", python=str(python))

    result = subprocess.run([str(launcher), "two words", "$HOME"], capture_output=True, text=True, check=True)

    assert result.stdout.splitlines() == [
        f"argv0={python}",
        "arg=-P",
        "arg=-c",
        f"arg={LAUNCH_CODE}",
        "arg=two words",
        "arg=$HOME",
    ]


def test_launcher_reaches_this_package_even_beside_a_shadowing_folder(tmp_path: Path) -> None:
    # Terraform runs providers in the user's configuration directory; a `tfprovider` folder there
    # must not replace the installed package.
    (launcher, _) = install(tmp_path / "plugins", python=sys.executable)
    shadow = tmp_path / "config" / "tfprovider"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text("print('shadowed')\n")

    result = subprocess.run(
        [str(launcher), "--version"], cwd=shadow.parent, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == f"terraform-provider-pulumiservice {__version__}"


def test_relative_python_is_made_absolute_without_resolving_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fake_python(tmp_path / "real")
    link_dir = tmp_path / "venv" / "bin"
    link_dir.mkdir(parents=True)
    (link_dir / "python").symlink_to(real)
    monkeypatch.chdir(tmp_path)

    (launcher, _) = install(tmp_path / "plugins", python="venv/bin/python")

    assert launcher.read_text() == launcher_script(str(link_dir / "python"))


def test_reinstall_replaces_launcher_and_leaves_nothing_else(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    install(plugins, python="/first/python")

    written = install(plugins, python="/second/python")

    for path in written:
        assert "/second/python" in path.read_text()
        assert os.listdir(path.parent) == [EXECUTABLE]


def test_install_command_prints_every_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = tmp_path / "mirror"

    assert cli.main(["install", "--plugins-dir", str(plugins)]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [str(path) for path in expected_paths(plugins)]
    assert all(path.is_file() for path in expected_paths(plugins))
    assert 'source = "pulumi/pulumiservice"' in err
    assert f'path = "{plugins.absolute()}"' in err  # a custom mirror must be named in the CLI config


def test_install_defaults_to_the_mirror_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))

    assert cli.main(["install"]) == 0

    assert default_plugins_dir() == home / ".terraform.d" / "plugins"
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(path) for path in expected_paths(home / ".terraform.d" / "plugins")]
    assert "filesystem_mirror" not in err  # the default mirror needs no configuration


def test_install_reports_an_unwritable_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    assert cli.main(["install", "--plugins-dir", str(blocker / "plugins")]) == 1

    assert str(blocker) in capsys.readouterr().err


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"terraform-provider-pulumiservice {__version__}"


class FakeServer:
    """Stand-ins for the plugin server modules, recording how `serve` was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, dict[str, Any]]] = []

    def serve(self, register: object, **options: Any) -> int:
        self.calls.append((register, options))
        return 7

    def register(self, *_: object) -> None:
        raise AssertionError("only the server calls register")


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    server = FakeServer()
    monkeypatch.setitem(sys.modules, "tfprovider.plugin", types.SimpleNamespace(serve=server.serve))
    monkeypatch.setitem(
        sys.modules, "tfprovider.lazy_server", types.SimpleNamespace(register=server.register)
    )
    return server


def test_no_arguments_serves_the_provider(fake_server: FakeServer) -> None:
    assert cli.main([]) == 7

    assert fake_server.calls == [(fake_server.register, {})]


def test_debug_flag_serves_in_debug_mode(fake_server: FakeServer) -> None:
    assert cli.main(["--debug"]) == 7

    assert fake_server.calls == [(fake_server.register, {"debug": True})]


def test_plugin_entry_point_imports_nothing_for_humans() -> None:
    # Terraform starts the provider several times per command; argument parsing is not its business.
    probe = (
        "import sys, tfprovider.cli\n"
        "print(sorted(n for n in ('argparse', 'tfprovider.installer') if n in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
