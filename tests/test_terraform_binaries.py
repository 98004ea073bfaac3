"""The real Terraform binaries from `make terraform`, and Terraform finding our provider offline.

`terraform init` never starts a provider, so these tests need only the installer's mirror layout:
they show both Terraform versions pick up `pulumi/pulumiservice` from the mirror our installer
writes, through the CLI config the harness writes, without touching the network.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from support.install_terraform import TERRAFORM_VERSIONS
from support.tf import Terraform, TerraformError

from tfprovider import __version__
from tfprovider.installer import go_platform

# Any attempt to reach a registry fails at once instead of quietly succeeding on a networked machine.
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}

REQUIRES_PULUMISERVICE = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""


@pytest.mark.parametrize("version", TERRAFORM_VERSIONS)
def test_binary_prints_its_version(version: str, terraform_binaries: dict[str, Path], tmp_path: Path) -> None:
    tf = Terraform(terraform_binaries[version], tmp_path / "config", tmp_path / "plugins")
    plain = tf.run("version").stdout
    assert plain.splitlines()[0] == f"Terraform v{version}"
    assert tf.version() == version


def test_init_installs_provider_from_our_mirror(terraform: Terraform, plugins_dir: Path) -> None:
    terraform.env_extra.update(NO_NETWORK)
    terraform.write(REQUIRES_PULUMISERVICE)

    result = terraform.init()

    assert f"Installed pulumi/pulumiservice v{__version__}" in result.stdout
    lock = (terraform.workdir / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/pulumi/pulumiservice"' in lock
    assert f'version = "{__version__}"' in lock
    installed = (
        terraform.workdir
        / ".terraform/providers/registry.terraform.io/pulumi/pulumiservice"
        / __version__
        / go_platform()
    )
    mirrored = plugins_dir / "registry.terraform.io/pulumi/pulumiservice" / __version__ / go_platform()
    assert installed.resolve() == mirrored.resolve()
    assert (installed / f"terraform-provider-pulumiservice_v{__version__}").is_file()


def test_pulumi_providers_come_only_from_the_mirror(terraform: Terraform, plugins_dir: Path) -> None:
    terraform.env_extra.update(NO_NETWORK)
    terraform.write(REQUIRES_PULUMISERVICE.replace("pulumi/pulumiservice", "pulumi/nosuch"))

    with pytest.raises(TerraformError) as failure:
        terraform.init()

    message = str(failure.value)
    assert failure.value.returncode == 1
    assert "registry.terraform.io/pulumi/nosuch was not found" in message
    assert str(plugins_dir) in message  # the mirror was the only place searched
    assert "registry.terraform.io/.well-known" not in message


def test_harness_kills_a_command_that_outlives_its_timeout(tmp_path: Path) -> None:
    sleeper = tmp_path / "sleeper"
    # A child that keeps the output pipes open, like a provider Terraform started would.
    sleeper.write_text("#!/bin/sh\necho started\nsleep 30 &\nwait\n")
    sleeper.chmod(0o755)
    tf = Terraform(sleeper, tmp_path / "config", tmp_path / "plugins")

    started = time.monotonic()
    with pytest.raises(TerraformError) as failure:
        tf.run("plan", timeout=0.5)

    assert time.monotonic() - started < 10, "the child's own child was left holding the pipes"
    assert failure.value.returncode is None
    assert "timed out" in str(failure.value)
    assert failure.value.stdout == "started\n"


def test_harness_isolates_home_and_cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CLI_ARGS", "-no-such-flag")
    monkeypatch.setenv("TF_LOG", "ERROR")
    tf = Terraform(Path("/bin/true"), tmp_path / "config", tmp_path / "plugins", {"EXTRA": "1"})

    env = tf.env

    assert "TF_CLI_ARGS" not in env
    assert env["TF_LOG"] == "ERROR"
    assert env["EXTRA"] == "1"
    assert Path(env["HOME"]) == tf.home and tf.home.is_dir()
    assert not tf.home.is_relative_to(tf.workdir)  # no stray files inside the configuration
    config = Path(env["TF_CLI_CONFIG_FILE"]).read_text()
    assert f'path    = "{(tmp_path / "plugins").absolute()}"' in config
    echoed = subprocess.run(
        ["/bin/sh", "-c", 'echo "$CHECKPOINT_DISABLE $TF_IN_AUTOMATION"'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert echoed.stdout == "1 1\n"


def test_harness_commands_work_on_both_versions(terraform: Terraform) -> None:
    # A configuration without providers exercises every helper without starting a plugin.
    terraform.write('output "answer" {\n  value = 42\n}\n')

    terraform.init()
    terraform.validate()
    assert "answer" in terraform.plan().stdout
    terraform.apply()

    assert terraform.output_json()["answer"]["value"] == 42
    assert terraform.show_json()["values"]["outputs"]["answer"]["value"] == 42
    terraform.destroy()
