"""The tfplugin6 server over real gRPC: every RPC answers, and hostile input gets diagnostics
while the server keeps serving."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.plugin_client import PluginProcess

from tfprovider.cty import UNKNOWN, decode_msgpack, encode_msgpack
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc
from tfprovider.resources.orgtoken import SCHEMA

ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
TYPE = SCHEMA.value_type()


def launch_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "PULUMI_"))}
    env.update(TF_PLUGIN_MAGIC_COOKIE=COOKIE, PLUGIN_PROTOCOL_VERSIONS="5,6")
    return env


@pytest.fixture(scope="module")
def stub() -> Iterator[pb_grpc.ProviderStub]:
    with PluginProcess([sys.executable, "-m", "tfprovider"], launch_env(), tls=True) as plugin:
        stub = pb_grpc.ProviderStub(plugin.channel)
        yield stub
        # The server must still be alive and well after everything the tests threw at it.
        assert stub.GetProviderSchema(pb.GetProviderSchema.Request()).provider.block.attributes
        plugin.shutdown()


def token(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {name: None for name in TYPE.attributes}
    value.update(name="ci", org_name="acme")
    value.update(overrides)
    return value


def dv(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode_msgpack(value, TYPE))


def errors(response: Any) -> list[str]:
    return [d.summary + ": " + d.detail for d in response.diagnostics if d.severity == pb.Diagnostic.ERROR]


def test_metadata_and_schema(stub: pb_grpc.ProviderStub) -> None:
    meta = stub.GetMetadata(pb.GetMetadata.Request())
    assert [r.type_name for r in meta.resources] == [ORGTOKEN]
    assert meta.server_capabilities.plan_destroy
    schema = stub.GetProviderSchema(pb.GetProviderSchema.Request())
    assert set(schema.resource_schemas) == {ORGTOKEN}
    assert {a.name for a in schema.provider.block.attributes} == {
        "access_token",
        "api_url",
        "max_retries",
        "retry_timeout",
    }
    assert not errors(schema)
    assert not errors(stub.GetFunctions(pb.GetFunctions.Request()))
    identities = stub.GetResourceIdentitySchemas(pb.GetResourceIdentitySchemas.Request())
    assert not errors(identities)
    assert [a.name for a in identities.identity_schemas[ORGTOKEN].identity_attributes] == [
        "org_name",
        "token_id",
    ]
    assert [e.type_name for e in meta.ephemeral_resources] == [ORGTOKEN]
    assert set(schema.ephemeral_resource_schemas) == {ORGTOKEN}
    assert meta.server_capabilities.generate_resource_config


def test_plan_over_grpc_applies_defaults(stub: pb_grpc.ProviderStub) -> None:
    config = token()
    response = stub.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name=ORGTOKEN,
            prior_state=dv(None),
            proposed_new_state=dv(config),
            config=dv(config),
        )
    )
    assert not errors(response)
    planned = decode_msgpack(response.planned_state.msgpack, TYPE)
    assert planned["admin"] is False and planned["expires"] == Decimal(0)
    assert planned["token_value"] == UNKNOWN


def test_upgrade_state_keeps_numbers_exact(stub: pb_grpc.ProviderStub) -> None:
    raw = (
        b'{"admin":false,"description":"","expires":1893456000,"id":"acme/t","name":"ci",'
        b'"org_name":"acme","reason":null,"role_id":null,"token_id":"t","token_value":"pul-x"}'
    )
    response = stub.UpgradeResourceState(
        pb.UpgradeResourceState.Request(type_name=ORGTOKEN, version=0, raw_state=pb.RawState(json=raw))
    )
    assert not errors(response)
    upgraded = decode_msgpack(response.upgraded_state.msgpack, TYPE)
    assert upgraded["expires"] == Decimal(1893456000)


def test_unknown_type_names_get_diagnostics(stub: pb_grpc.ProviderStub) -> None:
    assert errors(stub.ValidateResourceConfig(pb.ValidateResourceConfig.Request(type_name="nope")))
    assert errors(stub.ValidateDataResourceConfig(pb.ValidateDataResourceConfig.Request(type_name="nope")))
    assert errors(stub.ReadDataSource(pb.ReadDataSource.Request(type_name="nope")))
    assert errors(stub.PlanResourceChange(pb.PlanResourceChange.Request(type_name="nope")))
    assert errors(stub.ImportResourceState(pb.ImportResourceState.Request(type_name="nope", id="a/b")))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",  # never-used msgpack byte
        b"\x92\x01",  # truncated array
        msgpack.packb([1, 2, 3]),  # array where an object is expected
        msgpack.packb({"name": 5}),  # wrong attribute type
        msgpack.packb({"nope": "x"}),  # attribute the schema lacks
        b"\xdf\xff\xff\xff\xff",  # a map claiming 4 billion entries
        b"\x91" * 100_000 + b"\xc0",  # nesting far beyond any schema
    ],
)
def test_malformed_dynamic_values_get_diagnostics(stub: pb_grpc.ProviderStub, payload: bytes) -> None:
    bad = pb.DynamicValue(msgpack=payload)
    response = stub.ValidateResourceConfig(pb.ValidateResourceConfig.Request(type_name=ORGTOKEN, config=bad))
    assert errors(response)
    plan = stub.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name=ORGTOKEN, prior_state=dv(None), proposed_new_state=bad, config=bad
        )
    )
    assert errors(plan)


def test_wrong_shape_names_the_attribute(stub: pb_grpc.ProviderStub) -> None:
    bad = pb.DynamicValue(msgpack=msgpack.packb({**token(), "expires": "soon"}))
    response = stub.ValidateResourceConfig(pb.ValidateResourceConfig.Request(type_name=ORGTOKEN, config=bad))
    (diag,) = response.diagnostics
    assert [s.attribute_name for s in diag.attribute.steps] == ["expires"]


def test_stop_provider_does_not_exit(stub: pb_grpc.ProviderStub) -> None:
    assert stub.StopProvider(pb.StopProvider.Request()).Error == ""
    assert stub.GetProviderSchema(pb.GetProviderSchema.Request()).resource_schemas


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=256))
def test_fuzzed_bytes_never_break_the_server(stub: pb_grpc.ProviderStub, payload: bytes) -> None:
    bad = pb.DynamicValue(msgpack=payload)
    try:
        stub.PlanResourceChange(
            pb.PlanResourceChange.Request(
                type_name=ORGTOKEN, prior_state=bad, proposed_new_state=bad, config=bad
            ),
            timeout=10,
        )
        stub.ValidateProviderConfig(pb.ValidateProviderConfig.Request(config=bad), timeout=10)
    except grpc.RpcError as exc:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"server failed on {payload!r}: {exc}")
