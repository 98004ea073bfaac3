"""Make this provider findable by Terraform and OpenTofu without a registry.

Both tools look for providers that are not downloaded in a *filesystem mirror*: a directory laid
out as ``HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION``. The default
``~/.terraform.d/plugins`` is a mirror both use implicitly; any other directory can be named in a
CLI config ``provider_installation { filesystem_mirror { path = ... } }`` block.

A Python provider has no single binary to put there, so the "binary" is a two-line ``/bin/sh``
launcher that ``exec``s the chosen interpreter on the package's entry point. Terraform starts the
provider several times per command, so the launcher does nothing else.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

from tfprovider import __version__

NAMESPACE = "pulumi"
PROVIDER_TYPE = "pulumiservice"
REGISTRY_HOSTS = ("registry.terraform.io", "registry.opentofu.org")

# Go's GOOS/GOARCH names, which is what Terraform expects in the platform directory name.
_GO_OS = {"linux": "linux", "darwin": "darwin"}
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


LAUNCH_CODE = "from tfprovider.__main__ import run; run()"
"""What the launcher runs: ``python -m tfprovider`` without going through ``runpy``."""


class UnsupportedPlatformError(RuntimeError):
    """Terraform would not look for this provider under any directory we could name."""


def go_platform(system: str | None = None, machine: str | None = None) -> str:
    """This machine's platform as Terraform names it, e.g. ``linux_amd64``."""
    system = (system if system is not None else platform.system()).lower()
    machine = (machine if machine is not None else platform.machine()).lower()
    go_os, go_arch = _GO_OS.get(system), _GO_ARCH.get(machine)
    if go_os is None or go_arch is None:
        raise UnsupportedPlatformError(
            f"cannot install for {system}/{machine}: the provider launcher is a /bin/sh script, "
            f"supported on {'/'.join(sorted(_GO_OS))} with {'/'.join(sorted(set(_GO_ARCH.values())))}"
        )
    return f"{go_os}_{go_arch}"


def default_plugins_dir() -> Path:
    """The mirror Terraform and OpenTofu search without any configuration."""
    return Path.home() / ".terraform.d" / "plugins"


def executable_name(version: str = __version__) -> str:
    return f"terraform-provider-{PROVIDER_TYPE}_v{version}"


def launcher_paths(plugins_dir: Path, version: str = __version__, target: str | None = None) -> list[Path]:
    """Where the launcher goes in ``plugins_dir``: one path per registry host."""
    target = target or go_platform()
    return [
        plugins_dir / host / NAMESPACE / PROVIDER_TYPE / version / target / executable_name(version)
        for host in REGISTRY_HOSTS
    ]


def launcher_script(python: str) -> str:
    """The launcher's text.

    ``-P`` keeps Python from putting the working directory (Terraform runs providers in the user's
    configuration directory) at the front of ``sys.path``, where a stray ``tfprovider`` folder
    would otherwise shadow the installed package. ``-c`` rather than ``-m`` skips ``runpy``.
    """
    return f'#!/bin/sh\nexec {shlex.quote(python)} -P -c "{LAUNCH_CODE}" "$@"\n'


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename, so a running Terraform never sees a half-written launcher."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(staging, 0o755)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def install(plugins_dir: Path | None = None, *, python: str = sys.executable) -> list[Path]:
    """Write the launcher into ``plugins_dir`` for every registry host; return the paths written.

    ``python`` must be an interpreter that can import ``tfprovider`` (by default the one running
    this code). A path is made absolute (Terraform runs the launcher from the configuration
    directory) but not resolved: a virtual environment's ``python`` is a symlink, and following
    it would lose the environment. A bare command name is left to ``PATH``.
    """
    if not python:
        raise ValueError("python must name an interpreter that can import tfprovider")
    if os.sep in python:
        python = os.path.abspath(python)
    directory = plugins_dir if plugins_dir is not None else default_plugins_dir()
    script = launcher_script(python)
    paths = launcher_paths(directory)
    for path in paths:
        _write_atomically(path, script)
    return paths
