"""Drive a real Terraform binary against one configuration directory, offline and isolated.

Each :class:`Terraform` gets its own CLI config, written next to (not inside) the work directory,
that installs ``pulumi/*`` providers only from the test's filesystem mirror and everything else
the usual way. It also gets a private ``HOME``, so neither the developer's ``~/.terraformrc`` nor
``~/.terraform.d`` take part, and the caller's ``TF_*`` settings are dropped (except logging), so
a test sees the same Terraform on every machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIRRORED = "registry.terraform.io/pulumi/*"
PROVIDER_ADDRESS = "registry.terraform.io/pulumi/pulumiservice"
DEFAULT_TIMEOUT = 120.0

# Caller settings worth keeping: they only change what gets logged, which helps debug a failure.
_KEPT_TF_VARIABLES = frozenset({"TF_LOG", "TF_LOG_CORE", "TF_LOG_PROVIDER", "TF_LOG_PATH"})

Completed = subprocess.CompletedProcess[str]


class TerraformError(AssertionError):
    """A Terraform command failed or hung; the message carries the command and all its output."""

    def __init__(self, command: list[str], returncode: int | None, stdout: str, stderr: str) -> None:
        outcome = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(
            f"`{' '.join(command)}` {outcome}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def hcl_string(text: str) -> str:
    """``text`` as an HCL quoted string (JSON escapes, plus HCL's ``${`` and ``%{`` templates)."""
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


REQUIRED_PROVIDERS = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""


def one_token_config(name: str, label: str = "ci", org: str = "acme") -> str:
    """A configuration with one organization token: what a team's repository might hold."""
    return REQUIRED_PROVIDERS + (
        f'\nresource "pulumiservice_api_tokens_orgtoken" "{label}" {{\n'
        f"  org_name = {hcl_string(org)}\n"
        f"  name     = {hcl_string(name)}\n"
        "}\n"
    )


def cli_config(plugins_dir: Path) -> str:
    """A CLI config that takes ``pulumi/*`` only from ``plugins_dir`` and never from the network."""
    return (
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {hcl_string(str(plugins_dir))}\n"
        f"    include = [{hcl_string(MIRRORED)}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{hcl_string(MIRRORED)}]\n"
        "  }\n"
        "}\n"
    )


class Terraform:
    """One Terraform binary bound to one working directory and one provider mirror."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        plugins_dir: Path,
        env_extra: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.plugins_dir = plugins_dir
        self.env_extra = dict(env_extra or {})
        # Beside the work directory so `terraform` never mistakes our files for configuration.
        self.state_dir = workdir.with_name(f"{workdir.name}.terraform-harness")
        self.home = self.state_dir / "home"
        self.cli_config_file = self.state_dir / "terraform.rc"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli_config_file.write_text(cli_config(plugins_dir.absolute()))

    def __repr__(self) -> str:
        return f"Terraform({self.binary.name}, workdir={self.workdir})"

    @property
    def env(self) -> dict[str, str]:
        """The environment every command runs with (``env_extra`` applied last, so it wins)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("TF_") or key in _KEPT_TF_VARIABLES
        }
        env.update(
            HOME=str(self.home),
            TF_CLI_CONFIG_FILE=str(self.cli_config_file),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            # The cold path, as in CI; tests/test_e2e_forkserver.py turns the fork-server on.
            PULUMISERVICE_FORKSERVER="0",
        )
        env.update(self.env_extra)
        return env

    def write(self, text: str, name: str = "main.tf") -> Path:
        """Write a configuration file into the work directory."""
        path = self.workdir / name
        path.write_text(text)
        return path

    def run(self, *args: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        """Run ``terraform ARGS`` in the work directory; raise :class:`TerraformError` on failure.

        Terraform runs in a session of its own, so a timeout can kill it together with the
        providers it started instead of leaving them behind.
        """
        command = [str(self.binary), *args]
        with subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate()
                raise TerraformError(command, None, stdout, stderr) from None
        if check and process.returncode != 0:
            raise TerraformError(command, process.returncode, stdout, stderr)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def version(self) -> str:
        """The version the binary reports, e.g. ``1.15.5``."""
        data = json.loads(self.run("version", "-json").stdout)
        return str(data["terraform_version"])

    def init(self, *extra: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run("init", "-input=false", "-no-color", *extra, check=check, timeout=timeout)

    def validate(self, *extra: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run("validate", "-no-color", *extra, check=check, timeout=timeout)

    def plan(self, *extra: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run("plan", "-input=false", "-no-color", *extra, check=check, timeout=timeout)

    def apply(self, *extra: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run(
            "apply", "-input=false", "-no-color", "-auto-approve", *extra, check=check, timeout=timeout
        )

    def destroy(self, *extra: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Completed:
        return self.run(
            "destroy", "-input=false", "-no-color", "-auto-approve", *extra, check=check, timeout=timeout
        )

    def show_json(self, *extra: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """``terraform show -json`` of the current state, or of a saved plan named in ``extra``."""
        completed = self.run("show", "-json", "-no-color", *extra, timeout=timeout)
        result: dict[str, Any] = json.loads(completed.stdout)
        return result

    def output_json(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """``terraform output -json``: output name -> ``{"value", "type", "sensitive"}``."""
        result: dict[str, Any] = json.loads(self.run("output", "-json", "-no-color", timeout=timeout).stdout)
        return result
