"""Shared fixtures: the real Terraform binaries, a provider mirror, and a harness per version."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemons import daemon_pids
from support.install_terraform import TERRAFORM_VERSIONS, Layout
from support.provider_install import install_provider, private_config_home
from support.tf import Terraform

REPO_ROOT = Path(__file__).resolve().parents[1]
# Every launcher a test installs records its interpreter under this private XDG_CONFIG_HOME,
# which every process the tests start inherits; nothing is written under the real HOME.
private_config_home()
TOOLS = Layout(REPO_ROOT / ".tools")


# --- Terraform -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def terraform_binaries() -> dict[str, Path]:
    """Version -> binary, as installed by ``make terraform``. Missing binaries fail, never skip."""
    binaries = {version: TOOLS.binary(version) for version in TERRAFORM_VERSIONS}
    missing = [str(path) for path in binaries.values() if not path.is_file()]
    if missing:
        pytest.fail(
            f"Terraform binaries missing: {', '.join(missing)}. Run `make terraform` to install them.",
            pytrace=False,
        )
    return binaries


@pytest.fixture(scope="session")
def plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filesystem mirror holding this checkout's provider, launched by the interpreter running
    the tests (the project venv under `make test`), which is the one that imports this code."""
    directory = tmp_path_factory.mktemp("plugins")
    install_provider(directory)
    return directory


@pytest.fixture(params=TERRAFORM_VERSIONS, ids=lambda version: f"tf{version}")
def terraform(
    request: pytest.FixtureRequest, terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path
) -> Terraform:
    """A harness for each Terraform version, on an empty configuration directory of its own."""
    return Terraform(terraform_binaries[request.param], tmp_path / "config", plugins_dir)


# --- Fork-server ----------------------------------------------------------------------------


@pytest.fixture
def fork_server_dir(tmp_path: Path) -> Iterator[Path]:
    """A private socket directory for the fork-server; its daemons are killed afterwards (they
    outlive Terraform on purpose)."""
    directory = tmp_path / "fs"
    directory.mkdir(mode=0o700)
    yield directory
    for pid in daemon_pids(directory):
        os.kill(pid, signal.SIGKILL)
