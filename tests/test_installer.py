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
    PYTHON_ENV,
    UnsupportedPlatformError,
    default_plugins_dir,
    go_platform,
    install,
    launch_code,
    launcher_script,
)
from tfprovider.package_hash import h1_of_directory

EXECUTABLE = f"terraform-provider-pulumiservice_v{__version__}"
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def expected_paths(plugins_dir: Path) -> list[Path]:
    return [
        plugins_dir / host / "pulumi/pulumiservice" / __version__ / go_platform() / EXECUTABLE
        for host in ("registry.terraform.io", "registry.opentofu.org")
    ]


def fake_python(directory: Path) -> Path:
    """An interpreter stand-in that reports how it was called, one argument per line."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "python"
    script.write_text(
        "#!/bin/sh\nprintf 'argv0=%s\\n' \"$0\"\nfor a in \"$@\"; do printf 'arg=%s\\n' \"$a\"; done\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME for this test, where install records the interpreter."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv(PYTHON_ENV, raising=False)
    return home


def launch_env(config_home: Path | None, **extra: str) -> dict[str, str]:
    """The environment a launcher runs in: ours, without any interpreter override."""
    dropped = {PYTHON_ENV, "XDG_CONFIG_HOME", "TF_PLUGIN_MAGIC_COOKIE"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    if config_home is not None:
        env["XDG_CONFIG_HOME"] = str(config_home)
    env.update(extra)
    return env


def run_launcher(launcher: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(launcher), *args], capture_output=True, text=True, env=env, timeout=60)


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


def test_install_writes_launcher_for_both_registries(tmp_path: Path, config_home: Path) -> None:
    python = fake_python(tmp_path / "bin")

    installation = install(tmp_path / "plugins", python=str(python))

    assert installation.launchers == expected_paths(tmp_path / "plugins")
    for path in installation.launchers:
        mode = path.stat().st_mode
        assert stat.S_ISREG(mode)
        assert mode & 0o755 == 0o755, oct(mode)
        assert path.read_text() == launcher_script()
        assert path.read_text().startswith("#!/bin/sh\n")
        assert os.listdir(path.parent) == [EXECUTABLE]  # the hashed package holds nothing else
    assert installation.pointer == config_home / "terraform-provider-pulumiservice" / f"python-{__version__}"
    assert installation.pointer.read_text() == f"{python}\n"


def test_launcher_is_the_same_on_every_machine_and_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two machines: different interpreters, users and plugin directories; the package is identical.
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home-a"))
    first = install(tmp_path / "a" / "plugins", python=str(fake_python(tmp_path / "venv-a" / "bin")))
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere" / "home-b"))
    second = install(
        tmp_path / "b" / "mirror",
        python=str(fake_python(tmp_path / "b" / "venv" / "bin")),
        platforms=["darwin_arm64", "linux_arm64"],
    )

    texts = {path.read_bytes() for path in first.launchers + second.launchers}
    assert len(texts) == 1
    assert str(tmp_path).encode() not in texts.pop()
    assert first.lock_hash == second.lock_hash
    assert first.lock_hash == h1_of_directory(second.launchers[-1].parent)
    assert first.lock_hash.startswith("h1:")
    assert [path.parts[-2] for path in second.launchers] == [
        go_platform(),
        go_platform(),
        "darwin_arm64",
        "darwin_arm64",
        "linux_arm64",
        "linux_arm64",
    ]
    pointers = tmp_path / "home-a/.config/terraform-provider-pulumiservice"
    assert first.pointer == pointers / f"python-{__version__}"


def test_launcher_execs_the_recorded_python_with_terraform_arguments(
    tmp_path: Path, config_home: Path
) -> None:
    python = fake_python(tmp_path / 'it\'s a "dir" with $pace and \\backslash')
    (launcher, _) = install(tmp_path / "plugins", python=str(python)).launchers

    result = run_launcher(launcher, launch_env(config_home), "two words", "$HOME")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"argv0={python}",
        "arg=-P",
        "arg=-c",
        f"arg={launch_code()}",
        "arg=two words",
        "arg=$HOME",
    ]


def test_launcher_finds_the_pointer_under_home_without_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    python = fake_python(tmp_path / "bin")
    (launcher, _) = install(tmp_path / "plugins", python=str(python)).launchers

    result = run_launcher(launcher, launch_env(None, HOME=str(tmp_path / "home")))

    assert result.stdout.splitlines()[0] == f"argv0={python}"


def test_environment_override_wins_over_the_pointer(tmp_path: Path, config_home: Path) -> None:
    (launcher, _) = install(tmp_path / "plugins", python=str(fake_python(tmp_path / "recorded"))).launchers
    override = fake_python(tmp_path / "override")

    by_path = run_launcher(launcher, launch_env(config_home, **{PYTHON_ENV: str(override)}))
    by_name = run_launcher(
        launcher,
        launch_env(config_home, **{PYTHON_ENV: "python", "PATH": f"{override.parent}:/usr/bin:/bin"}),
    )

    assert by_path.stdout.splitlines()[0] == f"argv0={override}"
    assert by_name.stdout.splitlines()[0] == f"argv0={override}"


@pytest.mark.parametrize("terraform_started_it", [False, True])
def test_no_recorded_python_is_one_clear_line(tmp_path: Path, terraform_started_it: bool) -> None:
    (tmp_path / "plugins").mkdir()
    launcher = tmp_path / "plugins" / EXECUTABLE
    launcher.write_text(launcher_script())
    launcher.chmod(0o755)
    extra = {"TF_PLUGIN_MAGIC_COOKIE": COOKIE} if terraform_started_it else {}

    result = run_launcher(launcher, launch_env(tmp_path / "empty-config", **extra))

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"terraform-provider-pulumiservice {__version__}: no Python is recorded")
    assert '"terraform-provider-pulumiservice install"' in line and PYTHON_ENV in line
    # Terraform shows a plugin's first stdout line in its error, and never its stderr.
    assert result.stdout == (line + "\n" if terraform_started_it else "")


def test_a_removed_interpreter_is_named(tmp_path: Path, config_home: Path) -> None:
    python = fake_python(tmp_path / "venv" / "bin")
    (launcher, _) = install(tmp_path / "plugins", python=str(python)).launchers
    python.unlink()

    result = run_launcher(launcher, launch_env(config_home))

    assert result.returncode == 1
    assert f"{python} is not an executable Python" in result.stderr


def test_version_skew_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    # A launcher written for another version, finding this package: the lock file pins the
    # launcher's version, so the package must not serve under it.
    other = "0.0.9"
    launcher = tmp_path / EXECUTABLE
    launcher.write_text(launcher_script(other))
    launcher.chmod(0o755)
    env = launch_env(None, **{PYTHON_ENV: sys.executable, "TF_PLUGIN_MAGIC_COOKIE": COOKIE})

    result = run_launcher(launcher, env)

    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert result.stdout == line + "\n"
    assert f"launcher is version {other}" in line
    assert f"terraform-provider-pulumiservice {__version__} installed" in line
    assert f"pip install terraform-provider-pulumiservice=={other}" in line


def test_launcher_reaches_this_package_even_beside_a_shadowing_folder(tmp_path: Path) -> None:
    # Terraform runs providers in the user's configuration directory; a `tfprovider` folder there
    # must not replace the installed package.
    (launcher, _) = install(tmp_path / "plugins", python=sys.executable).launchers
    shadow = tmp_path / "config" / "tfprovider"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text("print('shadowed')\n")

    result = subprocess.run(
        [str(launcher), "--version"], cwd=shadow.parent, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == f"terraform-provider-pulumiservice {__version__}"


def test_relative_python_is_made_absolute_without_resolving_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_home: Path
) -> None:
    real = fake_python(tmp_path / "real")
    link_dir = tmp_path / "venv" / "bin"
    link_dir.mkdir(parents=True)
    (link_dir / "python").symlink_to(real)
    monkeypatch.chdir(tmp_path)

    installation = install(tmp_path / "plugins", python="venv/bin/python")

    assert installation.python == str(link_dir / "python")
    assert installation.pointer.read_text() == f"{link_dir / 'python'}\n"


def test_reinstall_replaces_the_pointer_and_leaves_nothing_else(tmp_path: Path, config_home: Path) -> None:
    plugins = tmp_path / "plugins"
    install(plugins, python=str(fake_python(tmp_path / "first")))

    installation = install(plugins, python=str(fake_python(tmp_path / "second")))

    assert installation.pointer.read_text() == f"{tmp_path / 'second' / 'python'}\n"
    assert os.listdir(installation.pointer.parent) == [installation.pointer.name]
    for path in installation.launchers:
        assert os.listdir(path.parent) == [EXECUTABLE]


def test_install_command_prints_every_path_and_the_lock_hash(
    tmp_path: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins = tmp_path / "mirror"

    assert cli.main(["install", "--plugins-dir", str(plugins)]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [str(path) for path in expected_paths(plugins)]
    assert all(path.is_file() for path in expected_paths(plugins))
    assert f"Lock-file hash: {h1_of_directory(expected_paths(plugins)[0].parent)}" in err
    assert f"terraform providers lock -fs-mirror={plugins.absolute()} -platform=darwin_amd64" in err
    assert f"Python for terraform-provider-pulumiservice {__version__}: {sys.executable}" in err
    assert 'source = "pulumi/pulumiservice"' in err
    assert f'path = "{plugins.absolute()}"' in err  # a custom mirror must be named in the CLI config


def test_install_command_writes_other_platforms(
    tmp_path: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins = tmp_path / "mirror"

    assert cli.main(["install", "--plugins-dir", str(plugins), "--platform", "darwin_arm64"]) == 0

    out, _ = capsys.readouterr()
    assert out.splitlines() == [str(path) for path in expected_paths(plugins)] + [
        str(path).replace(f"/{go_platform()}/", "/darwin_arm64/") for path in expected_paths(plugins)
    ]


def test_install_command_refuses_an_unknown_platform(
    tmp_path: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["install", "--plugins-dir", str(tmp_path), "--platform", "windows_amd64"]) == 1

    err = capsys.readouterr().err
    assert "unknown platform 'windows_amd64'" in err and "linux_amd64" in err
    assert not list(tmp_path.iterdir())


def test_install_defaults_to_the_mirror_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)

    assert cli.main(["install"]) == 0

    assert default_plugins_dir() == home / ".terraform.d" / "plugins"
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(path) for path in expected_paths(home / ".terraform.d" / "plugins")]
    assert "filesystem_mirror" not in err  # the default mirror needs no configuration
    assert (home / ".config/terraform-provider-pulumiservice" / f"python-{__version__}").is_file()


def test_install_reports_an_unwritable_directory(
    tmp_path: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
