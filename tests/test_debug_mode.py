"""`terraform-provider-pulumiservice --debug` with real Terraform (1.0.3 and 1.15.5).

A person starts the provider by hand, exports the ``TF_REATTACH_PROVIDERS`` line it prints, and runs
Terraform, which then talks to that process instead of launching its own. These tests do exactly
that, with a provider mirror that is empty on purpose: ``init`` and ``plan`` can only succeed by
attaching to the debug server. The server must outlive each Terraform command (go-plugin never
sends Shutdown to a provider attached with ``"Test": true``) and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.emulator import Emulator
from support.plugin_client import PluginProcess
from support.tf import PROVIDER_ADDRESS, Terraform, TerraformError, hcl_string

from tfprovider.protocol import grpc_health_pb2, grpc_health_pb2_grpc

ACCESS_TOKEN = "pul-debug-mode-access-token-42"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
COMMAND = "terraform-provider-pulumiservice"


def config(api_url: str) -> str:
    return f"""
terraform {{
  required_providers {{
    pulumiservice = {{ source = "pulumi/pulumiservice" }}
  }}
}}

provider "pulumiservice" {{
  access_token = {hcl_string(ACCESS_TOKEN)}
  api_url      = {hcl_string(api_url)}
}}

resource "{ORGTOKEN}" "debugged" {{
  name     = "debugged"
  org_name = "acme"
}}
"""


def provider_command() -> list[str]:
    """The console script pip installed next to the interpreter running the tests."""
    script = Path(sys.executable).parent / COMMAND
    if not script.is_file():
        pytest.fail(f"{script} is missing: install the project (`make setup`) to get the {COMMAND} command")
    return [str(script), "--debug"]


def person_environment() -> dict[str, str]:
    """A shell's environment: nothing Terraform would add when it launches a provider itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "PULUMI_"))}


def serving(server: PluginProcess) -> bool:
    if server.proc.poll() is not None:
        return False
    stub = grpc_health_pb2_grpc.HealthStub(server.channel)
    answer = stub.Check(grpc_health_pb2.HealthCheckRequest(service="plugin"), timeout=5)
    return bool(answer.status == grpc_health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


@pytest.fixture
def debug_server() -> Iterator[PluginProcess]:
    with PluginProcess(provider_command(), person_environment(), debug=True) as server:
        yield server


@pytest.fixture
def empty_mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    return mirror


def reattach_value(server: PluginProcess) -> str:
    """What `export` would put in the variable: the quoted value of the printed line."""
    (value,) = shlex.split(server.handshake.line.removeprefix("TF_REATTACH_PROVIDERS="))
    return value


@pytest.mark.parametrize("version", ["1.15.5", "1.0.3"])
def test_terraform_attaches_plans_and_applies_then_ctrl_c_stops_the_server(
    version: str,
    terraform_binaries: dict[str, Path],
    empty_mirror: Path,
    tmp_path: Path,
    emulator: Emulator,
    debug_server: PluginProcess,
) -> None:
    assert debug_server.reattach_config is not None
    ((address, attach),) = debug_server.reattach_config.items()
    assert address == PROVIDER_ADDRESS and attach["Pid"] == debug_server.proc.pid
    socket_dir = Path(attach["Addr"]["String"]).parent

    tf = Terraform(terraform_binaries[version], tmp_path / "config", empty_mirror)
    tf.write(config(emulator.url))

    # Control: with nothing to attach to, the empty mirror cannot satisfy `init`.
    with pytest.raises(TerraformError):
        tf.init()

    tf.env_extra["TF_REATTACH_PROVIDERS"] = reattach_value(debug_server)
    tf.init()
    assert not (tf.workdir / ".terraform" / "providers" / "registry.terraform.io" / "pulumi").exists()
    assert serving(debug_server)

    plan = tf.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"{ORGTOKEN}.debugged will be created" in plan.stdout
    assert serving(debug_server)

    tf.apply()
    _, listing = emulator.call("GET", "/api/orgs/acme/tokens")
    assert [token["name"] for token in listing["tokens"]] == ["debugged"]
    assert serving(debug_server)

    debug_server.proc.send_signal(signal.SIGINT)
    assert debug_server.wait(timeout=5) == 0
    assert not socket_dir.exists()
    debug_server.close()
    assert "Traceback" not in debug_server.stderr_text()
