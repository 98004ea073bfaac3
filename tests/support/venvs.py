"""Fresh virtual environments with this checkout installed the way users install it (``pip install``).

Tests that play several machines (two teammates, a laptop and CI) need more than the project
venv: each "machine" gets a venv at its own path with a real, non-editable install. Building
the wheels once (:func:`build_wheelhouse`: this checkout plus its runtime dependencies) and
installing from that directory with ``--no-index`` keeps each venv to a few seconds and off
the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "terraform-provider-pulumiservice"
PIP_TIMEOUT = 600.0


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def copy_checkout(dest: Path, source: Path = REPO_ROOT) -> Path:
    """The checkout's files at ``dest``, as a fresh clone would have them: no venv, tools, build
    output or caches (uncommitted edits are kept, so what is tested is what is in the tree)."""
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".tools", ".demo", "dist", "build", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    return dest


def build_wheelhouse(dest: Path, source: Path = REPO_ROOT, *, version: str | None = None) -> Path:
    """Wheels of ``source`` and of everything it needs at run time, in ``dest``.

    ``version`` builds the same code under another version number (and no dependencies): what a
    later or earlier release looks like to an installed launcher.
    """
    dest.mkdir(parents=True, exist_ok=True)
    # Build from a copy: pip writes build/ and *.egg-info next to the sources it builds.
    staging = dest.parent / f"{dest.name}-source"
    if staging.exists():
        shutil.rmtree(staging)
    copy_checkout(staging, source)
    extra: list[str] = []
    if version is not None:
        init = staging / "tfprovider" / "__init__.py"
        text = init.read_text()
        current = text.split('__version__ = "', 1)[1].split('"', 1)[0]
        init.write_text(text.replace(f'__version__ = "{current}"', f'__version__ = "{version}"'))
        extra.append("--no-deps")
    # The same dependency versions as the project venv and the release (release/constraints.txt).
    extra += ["--constraint", str(source / "release" / "constraints.txt")]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", *extra, "--wheel-dir", str(dest), str(staging)],
        check=True,
        env=_pip_env(),
        timeout=PIP_TIMEOUT,
    )
    shutil.rmtree(staging)
    return dest


def make_venv(path: Path, wheelhouse: Path) -> Path:
    """A new venv at ``path`` with the provider installed from ``wheelhouse``; its ``bin`` directory."""
    venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
    bin_dir = path / "bin"
    pip_install(bin_dir, wheelhouse)
    return bin_dir


def pip_install(bin_dir: Path, wheelhouse: Path, *options: str) -> None:
    """``pip install`` the provider into the venv of ``bin_dir`` from ``wheelhouse`` alone."""
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            *options,
            PROJECT,
        ],
        check=True,
        env=_pip_env(),
        timeout=PIP_TIMEOUT,
    )
