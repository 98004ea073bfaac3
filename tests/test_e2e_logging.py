"""The provider's log as people see it: through real Terraform with ``TF_LOG``, and not at all without.

Terraform reads each hclog JSON line the provider writes to stderr and logs it again in its own
format, under the plugin's name, with the line's own fields as ``key=value`` pairs after the
message (go-plugin's ``@module`` among them, then ``timestamp``), in no fixed order. Measured with
1.0.3 and 1.15.5:

    2026-11-28T01:39:04.614Z [DEBUG] provider.terraform-provider-pulumiservice_v0.1.0: Pulumi Cloud
    request: path=/api/orgs/acme/tokens @module=provider.terraform-provider-pulumiservice
    method=POST status=200 duration_ms=15.021 attempt=1 timestamp=2026-11-28T01:39:04.614Z

(one line). A line Terraform could not parse would appear as raw JSON instead.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.emulator import Emulator
from support.plugin_client import PluginProcess
from support.tf import Terraform

from tfprovider import __version__
from tfprovider.cty import Object, decode_msgpack, encode_msgpack, type_from_json_bytes
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc

ACCESS_TOKEN = "pul-e2e-logging-access-token-5150"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
REASON = "audit-note-4c0ffee"
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROVIDER_LINE = re.compile(
    r"^(?P<time>\S+) \[(?P<level>[A-Z]+)\]\s+provider\.terraform-provider-pulumiservice_v"
    + re.escape(__version__)
    + r": (?P<message>[^:]+): (?P<pairs>.*)$"
)
PAIR = re.compile(r'(?P<key>[^\s=]+)=(?P<value>"(?:[^"\\]|\\.)*"|\S*)')

CONFIG = f"""
terraform {{
  required_providers {{
    pulumiservice = {{ source = "pulumi/pulumiservice" }}
  }}
}}

resource "{ORGTOKEN}" "logged" {{
  name     = "logged"
  org_name = "acme"
  reason   = "{REASON}"
}}
"""


@dataclass(frozen=True)
class ProviderLine:
    """One provider line of Terraform's log: level, message and the re-logged fields."""

    level: str
    message: str
    fields: dict[str, str]
    raw: str


def provider_lines(log_text: str) -> list[ProviderLine]:
    lines = []
    for raw in log_text.splitlines():
        match = PROVIDER_LINE.match(raw)
        if match is None:
            continue
        fields = {}
        for pair in PAIR.finditer(match["pairs"]):
            value = pair["value"]
            fields[pair["key"]] = json.loads(value) if value.startswith('"') else value
        lines.append(ProviderLine(match["level"], match["message"], fields, raw))
    return lines


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


def test_terraform_debug_log_shows_the_create_request_parsed_and_no_secret(
    terraform: Terraform, emulator: Emulator, tmp_path: Path
) -> None:
    log_path = tmp_path / "terraform.log"
    terraform.env_extra.update(
        PULUMI_ACCESS_TOKEN=ACCESS_TOKEN,
        PULUMI_BACKEND_URL=emulator.url,
        TF_LOG="DEBUG",
        TF_LOG_PATH=str(log_path),
    )
    terraform.env_extra.pop("TF_LOG_PROVIDER", None)
    terraform.write(CONFIG)
    terraform.init()
    applied = terraform.apply()

    log_text = log_path.read_text()
    ours = provider_lines(log_text)
    creates = [
        line
        for line in ours
        if line.message == "Pulumi Cloud request"
        and line.fields.get("method") == "POST"
        and line.fields.get("path") == "/api/orgs/acme/tokens"
    ]
    assert len(creates) == 1, "\n".join(line.raw for line in ours) or log_text[-3000:]
    (create,) = creates
    assert create.level == "DEBUG"
    assert create.fields["@module"] == "provider.terraform-provider-pulumiservice"
    assert create.fields["status"] == "200" and create.fields["attempt"] == "1"
    assert float(create.fields["duration_ms"]) >= 0
    # Each RPC is logged too, with the resource type it concerned.
    applies = [line for line in ours if line.fields.get("rpc") == "ApplyResourceChange"]
    assert applies and all(line.level == "DEBUG" for line in applies)
    assert applies[-1].fields.get("tf_resource_type") == "pulumiservice_api_tokens_orgtoken"
    # Parsed, not passed through: no line of ours shows up as raw JSON.
    assert '"@module":"provider.terraform-provider-pulumiservice"' not in log_text

    state = json.loads((terraform.workdir / "terraform.tfstate").read_text())
    token_value = state["resources"][0]["instances"][0]["attributes"]["token_value"]
    assert token_value.startswith("pul-")
    everything = log_text + applied.stdout + applied.stderr
    assert ACCESS_TOKEN not in everything
    assert token_value not in everything
    # The audit reason travels in the query string, which is never logged.
    assert all(REASON not in line.raw for line in ours)


# --- without TF_LOG the provider writes nothing ----------------------------------------------------


def launch_env(**extra: str) -> dict[str, str]:
    """What Terraform gives a provider it launches, with no TF_LOG unless asked.

    The fork-server is off: its launcher announces a handover on stderr itself (a ``[TRACE]`` line
    of its own), and these tests are about what the provider process writes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "PULUMI_"))}
    env.update(TF_PLUGIN_MAGIC_COOKIE=COOKIE, PLUGIN_PROTOCOL_VERSIONS="5,6", PULUMISERVICE_FORKSERVER="0")
    env.update(extra)
    return env


def create_one_token(stub: pb_grpc.ProviderStub, emulator: Emulator) -> None:
    """Configure, plan and apply one token over gRPC, as Terraform's apply walk does."""
    schema = stub.GetProviderSchema(pb.GetProviderSchema.Request())

    def object_type(block: Any) -> Object:
        return Object({a.name: type_from_json_bytes(a.type) for a in block.attributes})

    provider_type = object_type(schema.provider.block)
    token_type = object_type(schema.resource_schemas[ORGTOKEN].block)
    provider_config = dict.fromkeys(provider_type.attributes)
    provider_config.update(access_token=ACCESS_TOKEN, api_url=emulator.url)
    configured = stub.ConfigureProvider(
        pb.ConfigureProvider.Request(
            terraform_version="1.15.5",
            config=pb.DynamicValue(msgpack=encode_msgpack(provider_config, provider_type)),
        )
    )
    assert not configured.diagnostics
    config = dict.fromkeys(token_type.attributes)
    config.update(name="quiet", org_name="acme", reason=REASON)
    value = pb.DynamicValue(msgpack=encode_msgpack(config, token_type))
    null = pb.DynamicValue(msgpack=encode_msgpack(None, token_type))
    plan = stub.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name=ORGTOKEN, prior_state=null, proposed_new_state=value, config=value
        )
    )
    assert not plan.diagnostics
    applied = stub.ApplyResourceChange(
        pb.ApplyResourceChange.Request(
            type_name=ORGTOKEN,
            prior_state=null,
            planned_state=plan.planned_state,
            config=value,
            planned_private=plan.planned_private,
        )
    )
    assert not applied.diagnostics
    state = decode_msgpack(applied.new_state.msgpack, token_type)
    assert isinstance(state, dict) and state["name"] == "quiet"


@pytest.mark.parametrize(
    ("log_env", "expect_lines"),
    [
        ({}, False),
        ({"TF_LOG": "OFF"}, False),
        ({"TF_LOG": "DEBUG", "TF_LOG_PROVIDER": "OFF"}, False),
        ({"TF_LOG": "DEBUG"}, True),
    ],
    ids=["unset", "off", "provider-off", "debug"],
)
def test_the_provider_process_logs_only_when_asked(
    emulator: Emulator, log_env: dict[str, str], expect_lines: bool
) -> None:
    with PluginProcess([sys.executable, "-m", "tfprovider"], launch_env(**log_env)) as plugin:
        create_one_token(pb_grpc.ProviderStub(plugin.channel), emulator)
        assert plugin.shutdown() == 0
        plugin.close()
        stderr = plugin.stderr_text()
    if not expect_lines:
        assert stderr == ""
        return
    records = [json.loads(line) for line in stderr.splitlines()]
    posts = [r for r in records if r.get("method") == "POST"]
    assert [(r["@level"], r["path"], r["status"]) for r in posts] == [("debug", "/api/orgs/acme/tokens", 200)]
    assert ACCESS_TOKEN not in stderr and REASON not in stderr
