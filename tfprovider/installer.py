"""Make this provider findable by Terraform and OpenTofu without a registry.

Both tools look for providers that are not downloaded in a *filesystem mirror*: a directory laid
out as ``HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION``. The default
``~/.terraform.d/plugins`` is a mirror both use implicitly; any other directory can be named in a
CLI config ``provider_installation { filesystem_mirror { path = ... } }`` block.

A Python provider has no single binary to put there, so the "binary" is a small ``/bin/sh``
launcher that ``exec``s an interpreter on the package's entry point. Terraform records a hash of
that directory in the team's committed ``.terraform.lock.hcl``, so the launcher is the **same
bytes on every machine and platform** for a given version: it names no path. Which interpreter
to run is the per-machine part, kept outside the hashed directory: ``$PULUMISERVICE_PYTHON``
when set (CI, containers), else the per-user *pointer file* that :func:`install` writes,
``${XDG_CONFIG_HOME:-$HOME/.config}/terraform-provider-pulumiservice/python-VERSION``. The
shell reads it with builtins only (no extra process), so it costs a launch nothing measurable.

The launcher also carries its version and hands it to the package, which refuses to start when
it is a different version (see :mod:`tfprovider.__main__`): the lock file pins the launcher, and
through it the code.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tfprovider import __version__
from tfprovider.package_hash import h1_of_directory

NAMESPACE = "pulumi"
PROVIDER_TYPE = "pulumiservice"
PROGRAM = f"terraform-provider-{PROVIDER_TYPE}"
REGISTRY_HOSTS = ("registry.terraform.io", "registry.opentofu.org")
PYTHON_ENV = "PULUMISERVICE_PYTHON"
"""Names the interpreter to run, overriding the pointer file (CI, containers, tests)."""
POINTER_DIRECTORY = PROGRAM

# Go's GOOS/GOARCH names, which is what Terraform expects in the platform directory name.
_GO_OS = {"linux": "linux", "darwin": "darwin"}
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
SUPPORTED_PLATFORMS = tuple(f"{os_}_{arch}" for os_ in sorted(_GO_OS) for arch in ("amd64", "arm64"))
_VERSION_PATTERN = re.compile(r"^[0-9A-Za-z.+-]+$")  # nothing a shell or Python string would interpret


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


def check_platform(name: str) -> str:
    """``name`` if it is a platform the launcher runs on (``linux_amd64``, ...), else an error."""
    if name not in SUPPORTED_PLATFORMS:
        raise UnsupportedPlatformError(
            f"unknown platform {name!r}: the launcher runs on {', '.join(SUPPORTED_PLATFORMS)}"
        )
    return name


def default_plugins_dir() -> Path:
    """The mirror Terraform and OpenTofu search without any configuration."""
    return Path.home() / ".terraform.d" / "plugins"


def executable_name(version: str = __version__) -> str:
    return f"{PROGRAM}_v{version}"


def launcher_paths(plugins_dir: Path, version: str = __version__, target: str | None = None) -> list[Path]:
    """Where the launcher goes in ``plugins_dir``: one path per registry host."""
    target = target or go_platform()
    return [
        plugins_dir / host / NAMESPACE / PROVIDER_TYPE / version / target / executable_name(version)
        for host in REGISTRY_HOSTS
    ]


def pointer_path(version: str = __version__, environ: Mapping[str, str] | None = None) -> Path:
    """The per-user file naming the interpreter for ``version``, exactly as the launcher finds it."""
    environ = os.environ if environ is None else environ
    config_home = environ.get("XDG_CONFIG_HOME") or f"{environ.get('HOME', '')}/.config"
    return Path(config_home) / POINTER_DIRECTORY / f"python-{version}"


def launch_code(version: str = __version__) -> str:
    """What the launcher runs: the version check, then ``python -m tfprovider`` without ``runpy``."""
    return f"from tfprovider.__main__ import launch; launch('{version}')"


def launcher_script(version: str = __version__) -> str:
    """The launcher's text: a function of the version alone (see the module docstring).

    ``-P`` keeps Python from putting the working directory (Terraform runs providers in the user's
    configuration directory) at the front of ``sys.path``, where a stray ``tfprovider`` folder
    would otherwise shadow the installed package. ``-c`` rather than ``-m`` skips ``runpy``.
    ``printf`` rather than ``echo``, which would interpret backslashes in a path. A refusal goes
    to stderr, and, when Terraform is the caller, to stdout as well: Terraform shows a plugin's
    first stdout line in its error ("Unrecognized remote plugin message: ..."), never its stderr.
    """
    if not _VERSION_PATTERN.match(version):
        raise ValueError(f"not a version: {version!r}")
    fix = (
        f'run \\"{PROGRAM} install\\" with the Python that has {PROGRAM} {version} installed, '
        f"or set {PYTHON_ENV} to that Python"
    )
    return (
        "#!/bin/sh\n"
        f"# {PROGRAM} {version}. The same bytes on every machine, so one lock-file hash fits all;\n"
        f"# the Python to run is ${PYTHON_ENV}, else the one `{PROGRAM} install` recorded in\n"
        f"# ${{XDG_CONFIG_HOME:-$HOME/.config}}/{POINTER_DIRECTORY}/python-{version}.\n"
        f"p=${PYTHON_ENV}\n"
        'if [ -z "$p" ]; then\n'
        f'  f="${{XDG_CONFIG_HOME:-$HOME/.config}}/{POINTER_DIRECTORY}/python-{version}"\n'
        '  if [ -r "$f" ]; then IFS= read -r p <"$f"; fi\n'
        "fi\n"
        'case $p in */* | "") ;; *) p=$(command -v "$p") || p="$PULUMISERVICE_PYTHON" ;; esac\n'
        'if [ -x "$p" ] && [ ! -d "$p" ]; then\n'
        f'  exec "$p" -P -c "{launch_code(version)}" "$@"\n'
        "fi\n"
        'if [ -z "$p" ]; then\n'
        f'  m="{PROGRAM} {version}: no Python is recorded for this version on this machine; {fix}"\n'
        "else\n"
        f'  m="{PROGRAM} {version}: $p is not an executable Python (was its environment removed?); {fix}"\n'
        "fi\n"
        "if [ -n \"$TF_PLUGIN_MAGIC_COOKIE\" ]; then printf '%s\\n' \"$m\"; fi\n"
        "printf '%s\\n' \"$m\" >&2\n"
        "exit 1\n"
    )


@dataclass(frozen=True)
class Installation:
    """What :func:`install` wrote: launchers, the pointer file, and the lock-file hash they give."""

    launchers: list[Path]
    pointer: Path
    python: str
    lock_hash: str
    platforms: list[str]


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` in one rename, so a running Terraform never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(staging, mode)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def _interpreter_path(python: str) -> str:
    """``python`` made absolute (Terraform runs the launcher from the configuration directory)
    but not resolved: a virtual environment's ``python`` is a symlink, and following it would
    lose the environment. A bare command name is looked up on ``PATH`` now, once."""
    if not python:
        raise ValueError("python must name an interpreter that can import tfprovider")
    if os.sep not in python:
        found = shutil.which(python)
        if found is None:
            raise ValueError(f"no {python!r} on PATH")
        python = found
    python = os.path.abspath(python)
    if "\n" in python:
        raise ValueError(f"an interpreter path with a newline cannot be recorded: {python!r}")
    return python


def install(
    plugins_dir: Path | None = None,
    *,
    python: str = sys.executable,
    platforms: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Installation:
    """Write the launcher into ``plugins_dir`` for every registry host and platform, and record
    ``python`` (by default the interpreter running this code) in the pointer file.

    The launcher goes under this machine's platform and under each of ``platforms`` (the same
    bytes), so that ``terraform providers lock -fs-mirror=... -platform=...`` can record them.
    """
    interpreter = _interpreter_path(python)
    directory = plugins_dir if plugins_dir is not None else default_plugins_dir()
    targets = list(dict.fromkeys([go_platform(), *(check_platform(name) for name in platforms)]))
    script = launcher_script(__version__)
    launchers: list[Path] = []
    for target in targets:
        for path in launcher_paths(directory, __version__, target):
            _write_atomically(path, script, 0o755)
            launchers.append(path)
    pointer = pointer_path(__version__, environ)
    _write_atomically(pointer, interpreter + "\n", 0o644)
    return Installation(
        launchers=launchers,
        pointer=pointer,
        python=interpreter,
        lock_hash=h1_of_directory(launchers[0].parent),
        platforms=targets,
    )
