"""Freeze the provider into a self-contained executable with PyInstaller (one directory).

Why PyInstaller, one directory, modules as files: measured on a 2-core machine with this code
(exec to handshake with TLS, medians of 40 interleaved launches), PyInstaller built in 13 s and
started in 93 ms, Nuitka ``--standalone`` built in 5.5 minutes and started in 91 ms, the venv
launcher in 95 ms; PyInstaller's own archive of modules instead of ``.pyc`` files cost 112 ms
(the files also let the fork-server key on them as in a venv), its defaults (runtime hooks
importing inspect, pkgutil and multiprocessing) 136 ms. One-file bundles unpack themselves on
every launch, and Terraform launches a provider 3-5 times per command. ``make bench`` keeps
measuring the chosen build against the venv launcher.

The build reads the provider from the given source tree (never from an installed copy), and
checks its own output: no symbolic links (Terraform unpacks them as plain files holding the
target's name), no build path embedded in any file, and the executable reports its version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from tfprovider.installer import executable_name

SPEC = Path(__file__).resolve().with_name("provider.spec")
RUNTIME_PACKAGES = (
    "tfprovider",
    "grpc",
    "google",  # protobuf
    "msgpack",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "idna",
    "certifi",
    "sniffio",
    "typing_extensions",
)
"""Import names the release may bundle besides the standard library: this provider and its
runtime dependencies (grpcio, protobuf, msgpack, httpx and what httpx needs)."""
_PYINSTALLER_OWN = ("pyimod", "_pyi_rth_utils", "pyi_rth")
FREEZE_TIMEOUT_SECONDS = 900.0


def _environment_without_python_settings() -> dict[str, str]:
    """This environment minus ``PYTHON*`` settings, which would reach the build and the built
    executable (a ``PYTHONPATH`` could hand either other code)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


class FreezeError(RuntimeError):
    """The build failed or produced something we must not ship; the message says which."""


def source_version(source: Path) -> str:
    """``__version__`` of the provider in ``source`` (which need not be the one imported here)."""
    text = (source / "tfprovider" / "__init__.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("__version__ = "):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise FreezeError(f"no __version__ in {source / 'tfprovider' / '__init__.py'}")


def freeze(source: Path, work: Path, *, python: str = sys.executable) -> Path:
    """Build the executable for ``source`` under ``work``; return the directory to ship.

    That directory holds ``terraform-provider-pulumiservice_vVERSION`` and ``_internal/``.
    """
    source = source.resolve()
    version = source_version(source)
    name = executable_name(version)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = _environment_without_python_settings()
    env.update(
        TFPROVIDER_SOURCE=str(source),
        TFPROVIDER_EXECUTABLE=name,
        TFPROVIDER_ALLOWED_PACKAGES=",".join(RUNTIME_PACKAGES + _PYINSTALLER_OWN),
        PYTHONHASHSEED="0",  # set iteration order inside PyInstaller's own archives
        PYTHONDONTWRITEBYTECODE="1",  # leave the source tree as it was
        PYINSTALLER_CONFIG_DIR=str(work / "config"),  # its cache, private to this build
    )
    command = [
        python,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(work / "dist"),
        "--workpath",
        str(work / "build"),
        str(SPEC),
    ]
    completed = subprocess.run(
        command, cwd=source, env=env, capture_output=True, text=True, timeout=FREEZE_TIMEOUT_SECONDS
    )
    if completed.returncode != 0:
        raise FreezeError(
            f"PyInstaller failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    bundle = work / "dist" / name
    check_bundle(bundle, version, forbidden=[str(source), str(work.resolve()), sys.prefix])
    return bundle


def check_bundle(bundle: Path, version: str, forbidden: Iterable[str]) -> None:
    """Refuse a bundle that Terraform would unpack wrongly or that depends on this machine."""
    executable = bundle / executable_name(version)
    if not executable.is_file():
        raise FreezeError(f"no executable at {executable}")
    needles = [path.encode() for path in forbidden if path and path != "/"]
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink():
            raise FreezeError(f"{path} is a symbolic link; Terraform would unpack it as a plain file")
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                if needle in data:
                    raise FreezeError(f"{path} embeds the build path {needle.decode()}")
    completed = subprocess.run(
        [str(executable), "--version"],
        capture_output=True,
        text=True,
        env=_environment_without_python_settings(),
        timeout=60,
        check=False,
    )
    expected = f"terraform-provider-pulumiservice {version}"
    if completed.returncode != 0 or completed.stdout.strip() != expected:
        raise FreezeError(
            f"{executable} --version printed {completed.stdout.strip()!r} (exit {completed.returncode}), "
            f"not {expected!r}:\n{completed.stderr}"
        )
