"""Installed as users install it (`pip install`, then `terraform-provider-pulumiservice install`),
on several "machines", with real Terraform 1.0.3 and 1.15.5: one committed lock file serves them
all, and a launcher never runs a package of another version.

Each machine is a virtual environment at its own path with a non-editable install, and its own
HOME (where `install` writes the mirror and the pointer to its interpreter).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.emulator import Emulator
from support.install_terraform import TERRAFORM_VERSIONS
from support.tf import Terraform, one_token_config
from support.venvs import build_wheelhouse, make_venv, pip_install

from tfprovider import __version__

ACCESS_TOKEN = "pul-e2e-install-access-token-0123"
CONFIG = one_token_config("ci-from-a-shared-lock")
LOCK_HASH = re.compile(r"^Lock-file hash: (h1:\S+)$", re.MULTILINE)
SKEWED_VERSION = "0.0.1"


@dataclass
class Machine:
    """A user's machine: a venv with the provider installed, and a HOME of its own."""

    bin_dir: Path
    home: Path
    lock_hash: str = ""

    @property
    def env(self) -> dict[str, str]:
        # No XDG_CONFIG_HOME: the launcher must find its pointer under this HOME, as on a laptop.
        return {"HOME": str(self.home), "XDG_CONFIG_HOME": "", "PULUMISERVICE_PYTHON": ""}

    @property
    def plugins_dir(self) -> Path:
        return self.home / ".terraform.d" / "plugins"

    def install(self) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env}
        result = subprocess.run(
            [str(self.bin_dir / "terraform-provider-pulumiservice"), "install"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        match = LOCK_HASH.search(result.stderr)
        assert match, result.stderr
        self.lock_hash = match.group(1)
        return result

    def terraform(self, binary: Path, workdir: Path, emulator: Emulator) -> Terraform:
        env = {**self.env, "PULUMI_ACCESS_TOKEN": ACCESS_TOKEN, "PULUMI_BACKEND_URL": emulator.url}
        return Terraform(binary, workdir, self.plugins_dir, env_extra=env)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse") / "wheels")


@pytest.fixture(scope="module")
def machines(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Machine]:
    """Two teammates: venvs at different paths (and depths), different HOMEs, each installed."""
    first_root = tmp_path_factory.mktemp("laptop")
    second_root = tmp_path_factory.mktemp("ci-runner")
    found = [
        Machine(make_venv(first_root / "venv", wheelhouse), first_root / "home" / "alice"),
        Machine(make_venv(second_root / "work" / "builds" / "env-2", wheelhouse), second_root / "root"),
    ]
    for machine in found:
        machine.install()
    return found


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


def normalized(text: str) -> str:
    """Terraform wraps its error text; compare with every run of whitespace made one space."""
    return " ".join(text.split())


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_two_machines_share_one_committed_lock_file(
    version: str,
    terraform_binaries: dict[str, Path],
    machines: list[Machine],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    first, second = machines
    assert first.lock_hash == second.lock_hash  # what `install` printed on each machine
    alice = first.terraform(terraform_binaries[version], tmp_path / "alice" / "repo", emulator)
    alice.write(CONFIG)
    alice.init()
    alice.plan()
    lock = (alice.workdir / ".terraform.lock.hcl").read_text()
    assert re.findall(r'"(h1:[^"]+)"', lock) == [first.lock_hash]

    # The lock file is committed; the second machine checks out the repository and runs CI.
    ci = second.terraform(terraform_binaries[version], tmp_path / "ci" / "checkout", emulator)
    ci.write(CONFIG)
    (ci.workdir / ".terraform.lock.hcl").write_text(lock)
    ci.init("-lockfile=readonly")
    planned = ci.plan()
    assert "pulumiservice_api_tokens_orgtoken.ci will be created" in planned.stdout
    assert (ci.workdir / ".terraform.lock.hcl").read_text() == lock


@pytest.fixture(scope="module")
def upgraded_machine(
    wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Machine, subprocess.CompletedProcess[str]]:
    """A machine where `install` ran for this version, then the package changed under it."""
    root = tmp_path_factory.mktemp("upgraded")
    machine = Machine(make_venv(root / "venv", wheelhouse), root / "home")
    machine.install()
    other = build_wheelhouse(root / "other-wheels", version=SKEWED_VERSION)
    pip_install(machine.bin_dir, other, "--no-deps", "--force-reinstall")
    version_line = subprocess.run(
        [str(machine.bin_dir / "terraform-provider-pulumiservice"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    return machine, version_line


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_a_launcher_refuses_a_package_of_another_version(
    version: str,
    terraform_binaries: dict[str, Path],
    upgraded_machine: tuple[Machine, subprocess.CompletedProcess[str]],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    machine, version_line = upgraded_machine
    assert version_line.stdout.strip() == f"terraform-provider-pulumiservice {SKEWED_VERSION}"
    tf = machine.terraform(terraform_binaries[version], tmp_path / "config", emulator)
    tf.write(CONFIG)
    tf.init()  # init never starts the provider: the launcher's package still matches the lock

    failed = tf.plan(check=False)

    assert failed.returncode == 1
    python = machine.bin_dir / "python"
    expected = (
        f"terraform-provider-pulumiservice: the launcher is version {__version__} but {python} has "
        f"terraform-provider-pulumiservice {SKEWED_VERSION} installed; install {__version__} there "
        f"(`{python} -m pip install terraform-provider-pulumiservice=={__version__}`), or move to "
        f"{SKEWED_VERSION} with `terraform-provider-pulumiservice install` and `terraform init -upgrade`"
    )
    assert normalized(expected) in normalized(failed.stdout + failed.stderr)
    assert "pulumiservice_api_tokens_orgtoken.ci will be created" not in failed.stdout
