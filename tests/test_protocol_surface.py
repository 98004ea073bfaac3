"""The generated tfplugin6 code speaks protocol 6.11 exactly as Terraform does.

Terraform finds RPCs by their gRPC path (``/tfplugin6.Provider/<Name>``) and fields by number and
wire type, so a wrong name, number, type or streaming flag is silent data loss or an
"Unsupported plugin method". The tables below restate the protocol's facts independently of
``proto/tfplugin6.proto`` and compare them with the compiled descriptor, and the wire tests decode
byte strings whose tags were worked out by hand (tag = field_number << 3 | wire_type, with wire
type 0 for varints and 2 for length-delimited values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc

FILE = pb.DESCRIPTOR
SERVICE = FILE.services_by_name["Provider"]


class Rpc(NamedTuple):
    request: str
    response: str
    client_streams: bool = False
    server_streams: bool = False


def unary(message: str) -> Rpc:
    """Most RPCs take ``<Message>.Request`` and answer ``<Message>.Response``."""
    return Rpc(f"tfplugin6.{message}.Request", f"tfplugin6.{message}.Response")


RPCS_BY_MINOR_VERSION: dict[str, dict[str, Rpc]] = {
    "6.0": {
        "GetProviderSchema": unary("GetProviderSchema"),
        "ValidateProviderConfig": unary("ValidateProviderConfig"),
        "ValidateResourceConfig": unary("ValidateResourceConfig"),
        "ValidateDataResourceConfig": unary("ValidateDataResourceConfig"),
        "UpgradeResourceState": unary("UpgradeResourceState"),
        "ConfigureProvider": unary("ConfigureProvider"),
        "ReadResource": unary("ReadResource"),
        "PlanResourceChange": unary("PlanResourceChange"),
        "ApplyResourceChange": unary("ApplyResourceChange"),
        "ImportResourceState": unary("ImportResourceState"),
        "ReadDataSource": unary("ReadDataSource"),
        "StopProvider": unary("StopProvider"),
    },
    "6.4": {"GetMetadata": unary("GetMetadata")},
    "6.5": {
        "MoveResourceState": unary("MoveResourceState"),
        "GetFunctions": unary("GetFunctions"),
        "CallFunction": unary("CallFunction"),
    },
    "6.7": {
        "ValidateEphemeralResourceConfig": unary("ValidateEphemeralResourceConfig"),
        "OpenEphemeralResource": unary("OpenEphemeralResource"),
        "RenewEphemeralResource": unary("RenewEphemeralResource"),
        "CloseEphemeralResource": unary("CloseEphemeralResource"),
    },
    "6.9": {
        "GetResourceIdentitySchemas": unary("GetResourceIdentitySchemas"),
        "UpgradeResourceIdentity": unary("UpgradeResourceIdentity"),
    },
    "6.10": {
        "ListResource": Rpc(
            "tfplugin6.ListResource.Request", "tfplugin6.ListResource.Event", server_streams=True
        ),
        "ValidateListResourceConfig": unary("ValidateListResourceConfig"),
        "GenerateResourceConfig": unary("GenerateResourceConfig"),
        # The one RPC whose messages are not named after it.
        "ValidateStateStoreConfig": unary("ValidateStateStore"),
        "ConfigureStateStore": unary("ConfigureStateStore"),
        "ReadStateBytes": Rpc(
            "tfplugin6.ReadStateBytes.Request", "tfplugin6.ReadStateBytes.Response", server_streams=True
        ),
        "WriteStateBytes": Rpc(
            "tfplugin6.WriteStateBytes.RequestChunk",
            "tfplugin6.WriteStateBytes.Response",
            client_streams=True,
        ),
        "LockState": unary("LockState"),
        "UnlockState": unary("UnlockState"),
        "GetStates": unary("GetStates"),
        "DeleteState": unary("DeleteState"),
        "PlanAction": unary("PlanAction"),
        "InvokeAction": Rpc(
            "tfplugin6.InvokeAction.Request", "tfplugin6.InvokeAction.Event", server_streams=True
        ),
        "ValidateActionConfig": unary("ValidateActionConfig"),
    },
    # 6.11 added fields only (see FIELDS below).
}

ALL_RPCS = {name: rpc for rpcs in RPCS_BY_MINOR_VERSION.values() for name, rpc in rpcs.items()}


# --- service ---------------------------------------------------------------------------------


def test_file_declares_package_tfplugin6_with_the_provider_service_only() -> None:
    assert FILE.package == "tfplugin6"
    assert list(FILE.services_by_name) == ["Provider"]
    assert SERVICE.full_name == "tfplugin6.Provider"


def test_service_has_exactly_the_rpcs_of_protocol_6_11() -> None:
    assert len(ALL_RPCS) == 36
    assert {method.name for method in SERVICE.methods} == set(ALL_RPCS)


@pytest.mark.parametrize("name", sorted(ALL_RPCS))
def test_rpc_types_and_streaming(name: str) -> None:
    method = SERVICE.methods_by_name[name]
    expected = ALL_RPCS[name]
    assert method.input_type.full_name == expected.request
    assert method.output_type.full_name == expected.response
    assert method.client_streaming is expected.client_streams
    assert method.server_streaming is expected.server_streams


class RecordingChannel:
    """Stands in for grpc.Channel and records which call shape the stub asks for, per path."""

    def __init__(self) -> None:
        self.calls: dict[str, str] = {}

    def _record(self, kind: str) -> Callable[..., object]:
        def factory(path: str, *args: Any, **kwargs: Any) -> object:
            self.calls[path] = kind
            return object()

        return factory

    def __getattr__(self, kind: str) -> Callable[..., object]:
        if kind in {"unary_unary", "unary_stream", "stream_unary", "stream_stream"}:
            return self._record(kind)
        raise AttributeError(kind)


def test_generated_client_uses_terraforms_grpc_paths_and_call_shapes() -> None:
    channel = RecordingChannel()
    pb_grpc.ProviderStub(channel)  # type: ignore[no-untyped-call]
    expected = {
        f"/tfplugin6.Provider/{name}": ("stream" if rpc.client_streams else "unary")
        + "_"
        + ("stream" if rpc.server_streams else "unary")
        for name, rpc in ALL_RPCS.items()
    }
    assert channel.calls == expected


class RecordingContext:
    """Stands in for grpc.ServicerContext and keeps the status the servicer sets."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        pass


@pytest.mark.parametrize("name", sorted(ALL_RPCS))
def test_generated_servicer_answers_unimplemented(name: str) -> None:
    """The generated base class is what a server falls back to for RPCs it does not serve, and
    Terraform relies on UNIMPLEMENTED (e.g. for GetResourceIdentitySchemas)."""
    context = RecordingContext()
    with pytest.raises(NotImplementedError):
        getattr(pb_grpc.ProviderServicer(), name)(object(), context)
    assert context.code == grpc.StatusCode.UNIMPLEMENTED


# --- fields ----------------------------------------------------------------------------------

SCALARS = {
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_STRING: "string",
}

DV = "tfplugin6.DynamicValue"
DIAGS = ("repeated", "tfplugin6.Diagnostic")
CLIENT_CAPS = "tfplugin6.ClientCapabilities"
IDENTITY = "tfplugin6.ResourceIdentityData"
DEFERRED = "tfplugin6.Deferred"

# message -> field -> (number, shape, type). Shape is "single", "repeated", "optional" (proto3
# explicit presence), "map" or "oneof <name>". Every listed message lists all its fields.
FIELDS: dict[str, dict[str, tuple[int, str, str]]] = {
    "DynamicValue": {"msgpack": (1, "single", "bytes"), "json": (2, "single", "bytes")},
    "RawState": {"json": (1, "single", "bytes"), "flatmap": (2, "map", "string->string")},
    "AttributePath": {"steps": (1, "repeated", "tfplugin6.AttributePath.Step")},
    "AttributePath.Step": {
        "attribute_name": (1, "oneof selector", "string"),
        "element_key_string": (2, "oneof selector", "string"),
        "element_key_int": (3, "oneof selector", "int64"),
    },
    "Diagnostic": {
        "severity": (1, "single", "tfplugin6.Diagnostic.Severity"),
        "summary": (2, "single", "string"),
        "detail": (3, "single", "string"),
        "attribute": (4, "single", "tfplugin6.AttributePath"),
    },
    "FunctionError": {"text": (1, "single", "string"), "function_argument": (2, "optional", "int64")},
    "Deferred": {"reason": (1, "single", "tfplugin6.Deferred.Reason")},
    "ServerCapabilities": {
        "plan_destroy": (1, "single", "bool"),
        "get_provider_schema_optional": (2, "single", "bool"),
        "move_resource_state": (3, "single", "bool"),
        "generate_resource_config": (4, "single", "bool"),
    },
    "ClientCapabilities": {
        "deferral_allowed": (1, "single", "bool"),
        "write_only_attributes_allowed": (2, "single", "bool"),
        "store_planned_private": (3, "single", "bool"),  # 6.11
        "computed_blocks_allowed": (4, "single", "bool"),  # 6.11
    },
    "Schema": {"version": (1, "single", "int64"), "block": (2, "single", "tfplugin6.Schema.Block")},
    "Schema.Block": {
        "version": (1, "single", "int64"),
        "attributes": (2, "repeated", "tfplugin6.Schema.Attribute"),
        "block_types": (3, "repeated", "tfplugin6.Schema.NestedBlock"),
        "description": (4, "single", "string"),
        "description_kind": (5, "single", "tfplugin6.StringKind"),
        "deprecated": (6, "single", "bool"),
        "deprecation_message": (7, "single", "string"),
        "computed": (8, "single", "bool"),  # 6.11
    },
    "Schema.Attribute": {
        "name": (1, "single", "string"),
        "type": (2, "single", "bytes"),
        "description": (3, "single", "string"),
        "required": (4, "single", "bool"),
        "optional": (5, "single", "bool"),
        "computed": (6, "single", "bool"),
        "sensitive": (7, "single", "bool"),
        "description_kind": (8, "single", "tfplugin6.StringKind"),
        "deprecated": (9, "single", "bool"),
        "nested_type": (10, "single", "tfplugin6.Schema.Object"),
        "write_only": (11, "single", "bool"),
        "deprecation_message": (12, "single", "string"),
    },
    "Schema.NestedBlock": {
        "type_name": (1, "single", "string"),
        "block": (2, "single", "tfplugin6.Schema.Block"),
        "nesting": (3, "single", "tfplugin6.Schema.NestedBlock.NestingMode"),
        "min_items": (4, "single", "int64"),
        "max_items": (5, "single", "int64"),
    },
    "Schema.Object": {
        "attributes": (1, "repeated", "tfplugin6.Schema.Attribute"),
        "nesting": (3, "single", "tfplugin6.Schema.Object.NestingMode"),
        "min_items": (4, "single", "int64"),
        "max_items": (5, "single", "int64"),
    },
    "ResourceIdentitySchema": {
        "version": (1, "single", "int64"),
        "identity_attributes": (2, "repeated", "tfplugin6.ResourceIdentitySchema.IdentityAttribute"),
    },
    "ResourceIdentitySchema.IdentityAttribute": {
        "name": (1, "single", "string"),
        "type": (2, "single", "bytes"),
        "required_for_import": (3, "single", "bool"),
        "optional_for_import": (4, "single", "bool"),
        "description": (5, "single", "string"),
    },
    "ResourceIdentityData": {"identity_data": (1, "single", DV)},
    "GetMetadata.Response": {
        "server_capabilities": (1, "single", "tfplugin6.ServerCapabilities"),
        "diagnostics": (2, *DIAGS),
        "data_sources": (3, "repeated", "tfplugin6.GetMetadata.DataSourceMetadata"),
        "resources": (4, "repeated", "tfplugin6.GetMetadata.ResourceMetadata"),
        "functions": (5, "repeated", "tfplugin6.GetMetadata.FunctionMetadata"),
        "ephemeral_resources": (6, "repeated", "tfplugin6.GetMetadata.EphemeralMetadata"),
        "list_resources": (7, "repeated", "tfplugin6.GetMetadata.ListResourceMetadata"),
        "state_stores": (8, "repeated", "tfplugin6.GetMetadata.StateStoreMetadata"),
        "actions": (9, "repeated", "tfplugin6.GetMetadata.ActionMetadata"),
    },
    "GetProviderSchema.Response": {
        "provider": (1, "single", "tfplugin6.Schema"),
        "resource_schemas": (2, "map", "string->tfplugin6.Schema"),
        "data_source_schemas": (3, "map", "string->tfplugin6.Schema"),
        "diagnostics": (4, *DIAGS),
        "provider_meta": (5, "single", "tfplugin6.Schema"),
        "server_capabilities": (6, "single", "tfplugin6.ServerCapabilities"),
        "functions": (7, "map", "string->tfplugin6.Function"),
        "ephemeral_resource_schemas": (8, "map", "string->tfplugin6.Schema"),
        "list_resource_schemas": (9, "map", "string->tfplugin6.Schema"),
        "state_store_schemas": (10, "map", "string->tfplugin6.Schema"),
        "action_schemas": (11, "map", "string->tfplugin6.ActionSchema"),
    },
    "GetResourceIdentitySchemas.Response": {
        "identity_schemas": (1, "map", "string->tfplugin6.ResourceIdentitySchema"),
        "diagnostics": (2, *DIAGS),
    },
    "ValidateProviderConfig.Response": {"diagnostics": (2, *DIAGS)},
    "ValidateResourceConfig.Request": {
        "type_name": (1, "single", "string"),
        "config": (2, "single", DV),
        "client_capabilities": (3, "single", CLIENT_CAPS),
    },
    "UpgradeResourceState.Request": {
        "type_name": (1, "single", "string"),
        "version": (2, "single", "int64"),
        "raw_state": (3, "single", "tfplugin6.RawState"),
    },
    "UpgradeResourceState.Response": {"upgraded_state": (1, "single", DV), "diagnostics": (2, *DIAGS)},
    "UpgradeResourceIdentity.Request": {
        "type_name": (1, "single", "string"),
        "version": (2, "single", "int64"),
        "raw_identity": (3, "single", "tfplugin6.RawState"),
    },
    "UpgradeResourceIdentity.Response": {
        "upgraded_identity": (1, "single", IDENTITY),
        "diagnostics": (2, *DIAGS),
    },
    "ConfigureProvider.Request": {
        "terraform_version": (1, "single", "string"),
        "config": (2, "single", DV),
        "client_capabilities": (3, "single", CLIENT_CAPS),
    },
    "ReadResource.Request": {
        "type_name": (1, "single", "string"),
        "current_state": (2, "single", DV),
        "private": (3, "single", "bytes"),
        "provider_meta": (4, "single", DV),
        "client_capabilities": (5, "single", CLIENT_CAPS),
        "current_identity": (6, "single", IDENTITY),
    },
    "ReadResource.Response": {
        "new_state": (1, "single", DV),
        "diagnostics": (2, *DIAGS),
        "private": (3, "single", "bytes"),
        "deferred": (4, "single", DEFERRED),
        "new_identity": (5, "single", IDENTITY),
    },
    "PlanResourceChange.Request": {
        "type_name": (1, "single", "string"),
        "prior_state": (2, "single", DV),
        "proposed_new_state": (3, "single", DV),
        "config": (4, "single", DV),
        "prior_private": (5, "single", "bytes"),
        "provider_meta": (6, "single", DV),
        "client_capabilities": (7, "single", CLIENT_CAPS),
        "prior_identity": (8, "single", IDENTITY),
        "planned_private": (9, "single", "bytes"),  # 6.11
    },
    "PlanResourceChange.Response": {
        "planned_state": (1, "single", DV),
        "requires_replace": (2, "repeated", "tfplugin6.AttributePath"),
        "planned_private": (3, "single", "bytes"),
        "diagnostics": (4, *DIAGS),
        "legacy_type_system": (5, "single", "bool"),
        "deferred": (6, "single", DEFERRED),
        "planned_identity": (7, "single", IDENTITY),
    },
    "ApplyResourceChange.Request": {
        "type_name": (1, "single", "string"),
        "prior_state": (2, "single", DV),
        "planned_state": (3, "single", DV),
        "config": (4, "single", DV),
        "planned_private": (5, "single", "bytes"),
        "provider_meta": (6, "single", DV),
        "planned_identity": (7, "single", IDENTITY),
    },
    "ApplyResourceChange.Response": {
        "new_state": (1, "single", DV),
        "private": (2, "single", "bytes"),
        "diagnostics": (3, *DIAGS),
        "legacy_type_system": (4, "single", "bool"),
        "new_identity": (5, "single", IDENTITY),
    },
    "ImportResourceState.Request": {
        "type_name": (1, "single", "string"),
        "id": (2, "single", "string"),
        "client_capabilities": (3, "single", CLIENT_CAPS),
        "identity": (4, "single", IDENTITY),
    },
    "ImportResourceState.ImportedResource": {
        "type_name": (1, "single", "string"),
        "state": (2, "single", DV),
        "private": (3, "single", "bytes"),
        "identity": (4, "single", IDENTITY),
    },
    "ImportResourceState.Response": {
        "imported_resources": (1, "repeated", "tfplugin6.ImportResourceState.ImportedResource"),
        "diagnostics": (2, *DIAGS),
        "deferred": (3, "single", DEFERRED),
    },
    "MoveResourceState.Request": {
        "source_provider_address": (1, "single", "string"),
        "source_type_name": (2, "single", "string"),
        "source_schema_version": (3, "single", "int64"),
        "source_state": (4, "single", "tfplugin6.RawState"),
        "target_type_name": (5, "single", "string"),
        "source_private": (6, "single", "bytes"),
        "source_identity": (7, "single", "tfplugin6.RawState"),
        "source_identity_schema_version": (8, "single", "int64"),
    },
    "ReadDataSource.Request": {
        "type_name": (1, "single", "string"),
        "config": (2, "single", DV),
        "provider_meta": (3, "single", DV),
        "client_capabilities": (4, "single", CLIENT_CAPS),
    },
    "OpenEphemeralResource.Response": {
        "diagnostics": (1, *DIAGS),
        "renew_at": (2, "optional", "google.protobuf.Timestamp"),
        "result": (3, "single", DV),
        "private": (4, "optional", "bytes"),
        "deferred": (5, "single", DEFERRED),
    },
    "RenewEphemeralResource.Request": {
        "type_name": (1, "single", "string"),
        "private": (2, "optional", "bytes"),
    },
    "CloseEphemeralResource.Request": {
        "type_name": (1, "single", "string"),
        "private": (2, "optional", "bytes"),
    },
    "CallFunction.Response": {
        "result": (1, "single", DV),
        "error": (2, "single", "tfplugin6.FunctionError"),
    },
    "ListResource.Event": {
        "identity": (1, "single", IDENTITY),
        "display_name": (2, "single", "string"),
        "resource_object": (3, "optional", DV),
        "diagnostic": (4, *DIAGS),
    },
    "WriteStateBytes.RequestChunk": {
        "meta": (1, "optional", "tfplugin6.RequestChunkMeta"),
        "bytes": (2, "single", "bytes"),
        "total_length": (3, "single", "int64"),
        "range": (4, "single", "tfplugin6.StateRange"),
    },
    "InvokeAction.Event": {
        "progress": (1, "oneof type", "tfplugin6.InvokeAction.Event.Progress"),
        "completed": (2, "oneof type", "tfplugin6.InvokeAction.Event.Completed"),
    },
    "StopProvider.Response": {"Error": (1, "single", "string")},
}


def message(name: str) -> Descriptor:
    descriptor = pb.DESCRIPTOR.message_types_by_name[name.split(".")[0]]
    for part in name.split(".")[1:]:
        descriptor = descriptor.nested_types_by_name[part]
    return descriptor


def type_of(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        entry = field.message_type
        assert entry is not None
        if entry.GetOptions().map_entry:
            return f"{type_of(entry.fields_by_name['key'])}->{type_of(entry.fields_by_name['value'])}"
        return str(entry.full_name)
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return str(field.enum_type.full_name)
    return SCALARS[field.type]


def shape_of(field: FieldDescriptor) -> str:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        return "map"
    if field.is_repeated:
        return "repeated"
    oneof = field.containing_oneof
    if oneof is None:
        return "single"
    # proto3 `optional` is a one-field oneof named after the field, with explicit presence.
    if oneof.name == f"_{field.name}" and [f.name for f in oneof.fields] == [field.name]:
        return "optional"
    return f"oneof {oneof.name}"


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_message_fields(name: str) -> None:
    descriptor = message(name)
    actual = {field.name: (field.number, shape_of(field), type_of(field)) for field in descriptor.fields}
    assert actual == FIELDS[name]


def enum_values(enum: EnumDescriptor) -> dict[str, int]:
    return {value.name: value.number for value in enum.values}


def test_enums() -> None:
    assert enum_values(pb.DESCRIPTOR.enum_types_by_name["StringKind"]) == {"PLAIN": 0, "MARKDOWN": 1}
    assert enum_values(message("Diagnostic").enum_types_by_name["Severity"]) == {
        "INVALID": 0,
        "ERROR": 1,
        "WARNING": 2,
    }
    assert enum_values(message("Deferred").enum_types_by_name["Reason"]) == {
        "UNKNOWN": 0,
        "RESOURCE_CONFIG_UNKNOWN": 1,
        "PROVIDER_CONFIG_UNKNOWN": 2,
        "ABSENT_PREREQ": 3,
    }
    modes = {"INVALID": 0, "SINGLE": 1, "LIST": 2, "SET": 3, "MAP": 4}
    assert enum_values(message("Schema.Object").enum_types_by_name["NestingMode"]) == modes
    assert enum_values(message("Schema.NestedBlock").enum_types_by_name["NestingMode"]) == {
        **modes,
        "GROUP": 5,
    }


# --- wire ------------------------------------------------------------------------------------


def read_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Split one message's bytes into (field number, value) pairs, for varint and length-delimited
    fields only (the only wire types tfplugin6 uses), without any generated code."""

    def varint(at: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[at]
            value |= (byte & 0x7F) << shift
            at += 1
            if byte < 0x80:
                return value, at
            shift += 7

    fields: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        tag, at = varint(at)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, at = varint(at)
            fields.append((number, value))
        elif wire_type == 2:
            length, at = varint(at)
            fields.append((number, data[at : at + length]))
            at += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")
    return sorted(fields, key=lambda pair: pair[0])


def test_plan_request_with_6_11_fields_decodes() -> None:
    wire = (
        b"\x0a\x0dexample_thing"  # 1 type_name: (1<<3)|2 = 0x0a, 13 bytes
        b"\x22\x03\x0a\x01\xc0"  # 4 config: 0x22 -> DynamicValue{1 msgpack: nil}
        b"\x2a\x02pp"  # 5 prior_private: 0x2a
        b"\x3a\x06\x08\x01\x18\x01\x20\x01"  # 7 client_capabilities: caps 1, 3 and 4 set
        b"\x42\x05\x0a\x03\x0a\x01\x80"  # 8 prior_identity: {1: DynamicValue{1: {}}}
        b"\x4a\x03old"  # 9 planned_private: (9<<3)|2 = 0x4a
    )
    request = pb.PlanResourceChange.Request.FromString(wire)

    assert request.type_name == "example_thing"
    assert request.config.msgpack == b"\xc0"
    assert request.prior_private == b"pp"
    assert request.planned_private == b"old"
    caps = request.client_capabilities
    assert (caps.deferral_allowed, caps.write_only_attributes_allowed) == (True, False)
    assert (caps.store_planned_private, caps.computed_blocks_allowed) == (True, True)
    assert request.prior_identity.identity_data.msgpack == b"\x80"
    assert not request.HasField("prior_state")


def test_diagnostic_with_attribute_path_decodes() -> None:
    wire = (
        b"\x08\x01"  # 1 severity: ERROR
        b"\x12\x03bad"  # 2 summary
        b"\x1a\x04why!"  # 3 detail
        b"\x22\x13"  # 4 attribute: AttributePath, 19 bytes of steps
        b"\x0a\x06\x0a\x04tags"  # step: attribute_name "tags"
        b"\x0a\x05\x12\x03env"  # step: element_key_string "env"
        b"\x0a\x02\x18\x02"  # step: element_key_int 2
    )
    diagnostic = pb.Diagnostic.FromString(wire)

    assert diagnostic.severity == pb.Diagnostic.ERROR
    assert (diagnostic.summary, diagnostic.detail) == ("bad", "why!")
    steps = diagnostic.attribute.steps
    assert [step.WhichOneof("selector") for step in steps] == [
        "attribute_name",
        "element_key_string",
        "element_key_int",
    ]
    assert (steps[0].attribute_name, steps[1].element_key_string, steps[2].element_key_int) == (
        "tags",
        "env",
        2,
    )


def submessage(value: int | bytes) -> bytes:
    assert isinstance(value, bytes), f"expected a length-delimited field, got varint {value}"
    return value


def test_schema_encodes_with_the_protocols_field_numbers() -> None:
    attribute = pb.Schema.Attribute(
        name="token", type=b'"string"', sensitive=True, write_only=True, deprecation_message="old"
    )
    schema = pb.Schema(
        version=3,
        block=pb.Schema.Block(attributes=[attribute], computed=True, deprecation_message="gone"),
    )

    version, (block_number, block_bytes) = read_fields(schema.SerializeToString())
    assert version == (1, 3)
    assert block_number == 2
    (attributes_number, attribute_bytes), *rest = read_fields(submessage(block_bytes))
    assert attributes_number == 2
    assert rest == [(7, b"gone"), (8, 1)]  # deprecation_message, then computed (6.11)
    assert read_fields(submessage(attribute_bytes)) == [
        (1, b"token"),
        (2, b'"string"'),
        (7, 1),  # sensitive
        (11, 1),  # write_only
        (12, b"old"),  # deprecation_message
    ]


def test_provider_schema_response_with_maps_and_capabilities_decodes() -> None:
    wire = (
        b"\x12\x13"  # 2 resource_schemas: one map entry of 19 bytes
        b"\x0a\x0dexample_thing"  # entry key
        b"\x12\x02\x08\x01"  # entry value: Schema{version 1}
        b"\x32\x08\x08\x01\x10\x01\x18\x01\x20\x01"  # 6 server_capabilities: all four set
        b"\x5a\x09"  # 11 action_schemas: (11<<3)|2 = 0x5a, one entry of 9 bytes
        b"\x0a\x03act"  # entry key
        b"\x12\x02\x0a\x00"  # entry value: ActionSchema{1 schema: empty}
    )
    response = pb.GetProviderSchema.Response.FromString(wire)

    assert response.resource_schemas["example_thing"].version == 1
    caps = response.server_capabilities
    assert caps.plan_destroy and caps.get_provider_schema_optional
    assert caps.move_resource_state and caps.generate_resource_config
    assert response.action_schemas["act"].HasField("schema")


def test_optional_fields_keep_presence_on_the_wire() -> None:
    wire = (
        b"\x12\x02\x08\x2a"  # 2 renew_at: Timestamp{seconds 42}
        b"\x1a\x03\x0a\x01\x80"  # 3 result: DynamicValue{msgpack {}}
        b"\x22\x00"  # 4 private: present but empty
        b"\x2a\x02\x08\x02"  # 5 deferred: PROVIDER_CONFIG_UNKNOWN
    )
    response = pb.OpenEphemeralResource.Response.FromString(wire)

    assert response.renew_at.seconds == 42
    assert response.result.msgpack == b"\x80"
    assert response.HasField("private") and response.private == b""
    assert response.deferred.reason == pb.Deferred.PROVIDER_CONFIG_UNKNOWN
    assert not pb.OpenEphemeralResource.Response.FromString(wire[:-6]).HasField("private")

    close = pb.CloseEphemeralResource.Request(type_name="t", private=b"")
    assert read_fields(close.SerializeToString()) == [(1, b"t"), (2, b"")]


def test_streamed_events_decode() -> None:
    progress = pb.InvokeAction.Event.FromString(b"\x0a\x04\x0a\x02hi")
    assert progress.WhichOneof("type") == "progress" and progress.progress.message == "hi"

    completed = pb.InvokeAction.Event.FromString(b"\x12\x04\x0a\x02\x08\x02")
    assert completed.WhichOneof("type") == "completed"
    assert completed.completed.diagnostics[0].severity == pb.Diagnostic.WARNING

    event = pb.ListResource.Event.FromString(
        b"\x0a\x05\x0a\x03\x0a\x01\x80"  # 1 identity
        b"\x12\x02me"  # 2 display_name
        b"\x22\x02\x08\x02"  # 4 diagnostic (repeated): one WARNING
    )
    assert event.identity.identity_data.msgpack == b"\x80"
    assert event.display_name == "me"
    assert not event.HasField("resource_object")
    assert [d.severity for d in event.diagnostic] == [pb.Diagnostic.WARNING]


def test_responses_encode_with_the_protocols_field_numbers() -> None:
    read = pb.ReadResource.Response(
        new_state=pb.DynamicValue(msgpack=b"\x80"),
        private=b"p",
        deferred=pb.Deferred(reason=pb.Deferred.ABSENT_PREREQ),
        new_identity=pb.ResourceIdentityData(identity_data=pb.DynamicValue(json=b"{}")),
    )
    assert read_fields(read.SerializeToString()) == [
        (1, b"\x0a\x01\x80"),
        (3, b"p"),
        (4, b"\x08\x03"),
        (5, b"\x0a\x04\x12\x02{}"),
    ]

    plan = pb.PlanResourceChange.Response(
        planned_state=pb.DynamicValue(msgpack=b"\xc0"),
        requires_replace=[pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name="name")])],
        planned_private=b"x",
        diagnostics=[pb.Diagnostic(severity=pb.Diagnostic.WARNING)],
    )
    assert read_fields(plan.SerializeToString()) == [
        (1, b"\x0a\x01\xc0"),
        (2, b"\x0a\x06\x0a\x04name"),
        (3, b"x"),
        (4, b"\x08\x02"),
    ]

    stop = pb.StopProvider.Response(Error="busy")
    assert stop.SerializeToString() == b"\x0a\x04busy"
