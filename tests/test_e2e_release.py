"""The release `make dist` builds, installed the way teams install Go providers, with real
Terraform 1.0.3 and 1.15.5: from the packed filesystem mirror with no Python environment around,
from the network mirror over HTTPS, with one lock file for every machine; and rebuilt from
another checkout path to the same bytes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemons import daemon_pids
from support.emulator import Emulator
from support.https_mirror import HttpsMirror
from support.install_terraform import TERRAFORM_VERSIONS
from support.tf import Terraform, hcl_string, one_token_config
from support.venvs import copy_checkout

from release.dist import source_digest
from tfprovider import __version__
from tfprovider.installer import REGISTRY_HOSTS, go_platform

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST = REPO_ROOT / "dist"
ACCESS_TOKEN = "pul-e2e-release-access-token-42"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
SERVED = re.compile(r"fork-server: served by daemon pid (\d+)")


@pytest.fixture(scope="module")
def build_info() -> dict[str, Any]:
    """What `make dist` built into dist/, checked to be from this checkout's sources."""
    path = DIST / "build-info.json"
    if not path.is_file():
        pytest.fail("dist/ holds no release build: run `make dist`", pytrace=False)
    info: dict[str, Any] = json.loads(path.read_text())
    if info["source_digest"] != source_digest(REPO_ROOT):
        pytest.fail("dist/ was built from other sources than this checkout's: run `make dist`", pytrace=False)
    return info


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


def release_env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    """A machine with no Python environment of ours: no venv on PATH, nowhere to find one."""
    empty = tmp_path / "no-config"
    empty.mkdir(exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": "",
        "PYTHONPATH": "",
        "PULUMISERVICE_PYTHON": "",
        "XDG_CONFIG_HOME": str(empty),
        "PULUMI_ACCESS_TOKEN": ACCESS_TOKEN,
        "PULUMI_BACKEND_URL": emulator.url,
    }


def live_names(emulator: Emulator) -> list[str]:
    status, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=active")
    assert status == 200
    return sorted(token["name"] for token in body["tokens"])


def lock_hashes(workdir: Path) -> list[str]:
    return re.findall(r'"((?:h1|zh):[^"]+)"', (workdir / ".terraform.lock.hcl").read_text())


def installed_executable(workdir: Path) -> Path:
    return (
        workdir
        / ".terraform/providers/registry.terraform.io/pulumi/pulumiservice"
        / __version__
        / go_platform()
        / f"terraform-provider-pulumiservice_v{__version__}"
    )


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_packed_mirror_lifecycle_with_one_lock_file_for_every_machine(
    version: str,
    terraform_binaries: dict[str, Path],
    build_info: dict[str, Any],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    env = release_env(emulator, tmp_path)
    seed = (DIST / "lock" / "terraform" / ".terraform.lock.hcl").read_text()
    tf = Terraform(terraform_binaries[version], tmp_path / "repo", DIST / "mirror", env_extra=env)
    tf.write(one_token_config("released-ci"))
    (tf.workdir / ".terraform.lock.hcl").write_text(seed)

    tf.init()

    assert (tf.workdir / ".terraform.lock.hcl").read_text() == seed  # Terraform found nothing to add
    assert build_info["h1"] in lock_hashes(tf.workdir) and build_info["zh"] in lock_hashes(tf.workdir)
    assert installed_executable(tf.workdir).read_bytes()[:4] == b"\x7fELF"  # the frozen build
    tf.apply()
    assert live_names(emulator) == ["released-ci"]
    state = tf.show_json()["values"]["root_module"]["resources"][0]["values"]
    assert state["token_value"].startswith("pul-")

    # Another checkout of the repository, with the committed lock file: read-only init works.
    other = Terraform(terraform_binaries[version], tmp_path / "checkout", DIST / "mirror", env_extra=env)
    other.write(one_token_config("released-ci"))
    (other.workdir / ".terraform.lock.hcl").write_text(seed)
    other.init("-lockfile=readonly")
    assert "will be created" in other.plan().stdout

    tf.destroy()
    assert live_names(emulator) == []


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_terraform_computes_the_h1_make_dist_published(
    version: str, terraform_binaries: dict[str, Path], build_info: dict[str, Any], tmp_path: Path
) -> None:
    tf = Terraform(terraform_binaries[version], tmp_path / "fresh", DIST / "mirror")
    tf.write(one_token_config("unused"))

    tf.init()

    assert lock_hashes(tf.workdir) == [build_info["h1"]]  # mirrors are unsigned: only the h1 it computed


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_network_mirror_served_over_https_installs_the_provider(
    version: str,
    terraform_binaries: dict[str, Path],
    build_info: dict[str, Any],
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    with HttpsMirror(DIST / "network-mirror", tmp_path / "pki") as mirror:
        env = {**release_env(emulator, tmp_path), "SSL_CERT_FILE": str(mirror.ca_file)}
        tf = Terraform(terraform_binaries[version], tmp_path / "repo", tmp_path / "unused", env_extra=env)
        # The README's configuration: the address can only ever come from the mirror.
        addresses = json.dumps([f"{host}/pulumi/pulumiservice" for host in REGISTRY_HOSTS])
        tf.cli_config_file.write_text(
            "disable_checkpoint = true\n"
            "provider_installation {\n"
            f"  network_mirror {{\n    url     = {hcl_string(mirror.url)}\n    include = {addresses}\n  }}\n"
            f"  direct {{\n    exclude = {addresses}\n  }}\n"
            "}\n"
        )
        tf.write(one_token_config("from-the-network-mirror"))

        tf.init()
        planned = tf.plan()

    assert f"{ORGTOKEN}.ci will be created" in planned.stdout
    prefix = "/registry.terraform.io/pulumi/pulumiservice/"
    assert f"{prefix}index.json" in mirror.paths and f"{prefix}{__version__}.json" in mirror.paths
    assert f"{prefix}{build_info['archive']}" in mirror.paths
    assert lock_hashes(tf.workdir) == [build_info["h1"]]
    assert installed_executable(tf.workdir).read_bytes()[:4] == b"\x7fELF"


def test_the_release_build_serves_through_its_fork_server(
    terraform_binaries: dict[str, Path],
    build_info: dict[str, Any],
    emulator: Emulator,
    fork_server_dir: Path,
    tmp_path: Path,
) -> None:
    log = tmp_path / "terraform.log"
    env = {
        **release_env(emulator, tmp_path),
        "PULUMISERVICE_FORKSERVER": "1",
        "PULUMISERVICE_FORKSERVER_DIR": str(fork_server_dir),
        "TF_LOG": "TRACE",
        "TF_LOG_PATH": str(log),
    }
    tf = Terraform(terraform_binaries["1.15.5"], tmp_path / "repo", DIST / "mirror", env_extra=env)
    tf.write(one_token_config("warm-release"))
    tf.init()
    tf.apply()  # the first launch finds no daemon: it starts one and serves cold

    deadline = time.monotonic() + 30
    while not SERVED.search(log.read_text()) and time.monotonic() < deadline:
        assert tf.plan("-detailed-exitcode", check=False).returncode == 0

    assert SERVED.search(log.read_text()), "no launch was served by the release build's daemon"
    assert daemon_pids(fork_server_dir), "the daemon is not the release executable"
    tf.destroy()
    assert live_names(emulator) == []


def test_two_builds_from_two_checkout_paths_give_identical_zips(
    build_info: dict[str, Any], tmp_path: Path
) -> None:
    checkout = copy_checkout(tmp_path / "another" / "place" / "for-a-clone")
    out = tmp_path / "out"

    subprocess.run(
        [sys.executable, str(checkout / "release" / "dist.py"), "--source", str(checkout), "--out", str(out)],
        check=True,
        timeout=900,
    )

    rebuilt = json.loads((out / "build-info.json").read_text())
    assert rebuilt["archive"] == build_info["archive"]
    assert (out / rebuilt["archive"]).read_bytes() == (DIST / build_info["archive"]).read_bytes()
    sums = f"terraform-provider-pulumiservice_{__version__}_SHA256SUMS"
    assert (out / sums).read_text() == (DIST / sums).read_text()
