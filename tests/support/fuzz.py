"""Machinery for fuzzing the tfplugin6 servicer over real gRPC.

Everything is driven by the protocol descriptor rather than a hand-kept list, so a new RPC or a
new ``DynamicValue`` field in ``proto/tfplugin6.proto`` is fuzzed without touching the tests:

* :func:`provider_rpcs` lists every method of ``tfplugin6.Provider`` with its message classes;
* :func:`fuzz_targets` lists every place hostile bytes can enter a request — each
  ``DynamicValue`` (nested and repeated ones too), each ``RawState`` and each ``bytes`` field —
  plus one "names only" target per RPC, so RPCs without such fields still get fuzzed strings;
* :func:`build_request` puts a payload at a target, and :class:`ProviderCaller` sends any RPC
  (unary or streaming) through generic multi-callables and returns every response message;
* :func:`error_messages` finds the error diagnostics anywhere in a response;
* the hypothesis strategies at the end generate the hostile payloads.

The servicer under test is expected to answer *every* request with its normal response type:
a gRPC error status (UNIMPLEMENTED included), a hang or a dead server is a failure, and so is
an "Internal provider error" diagnostic, because it means an exception reached the servicer's
last-resort handler instead of being turned into a diagnostic that says what is wrong.
"""

from __future__ import annotations

import enum
import json
import socket
import struct
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import msgpack
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tfprovider.cty import encode_json, encode_msgpack
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.provider import PROVIDER_SCHEMA
from tfprovider.resources.ephemeral_orgtoken import SCHEMA as EPHEMERAL_SCHEMA
from tfprovider.resources.orgtoken import IDENTITY_SCHEMA, SCHEMA
from tfprovider.server import register

M = TypeVar("M", bound=Message)
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
RESOURCE_TYPE = SCHEMA.value_type()
PROVIDER_TYPE = PROVIDER_SCHEMA.value_type()
EPHEMERAL_TYPE = EPHEMERAL_SCHEMA.value_type()
IDENTITY_TYPE = IDENTITY_SCHEMA.value_type()
SERVICE = pb.DESCRIPTOR.services_by_name["Provider"]
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
INTERNAL_ERROR_SUMMARY = "Internal provider error"

_DYNAMIC_VALUE = "tfplugin6.DynamicValue"
_RAW_STATE = "tfplugin6.RawState"
_DIAGNOSTIC = "tfplugin6.Diagnostic"
_FUNCTION_ERROR = "tfplugin6.FunctionError"
NAME_FIELDS = frozenset({"type_name", "target_type_name", "source_type_name", "action_type", "name"})
"""String fields that name the resource type, action or function a request is about."""


# ---------------------------------------------------------------------------------------------
# The protocol surface, from the descriptor
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rpc:
    """One method of ``tfplugin6.Provider`` with its request and response classes."""

    name: str
    request: type[Message]
    response: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def method_path(self) -> str:
        return f"/{SERVICE.full_name}/{self.name}"


def provider_rpcs() -> list[Rpc]:
    return [
        Rpc(
            method.name,
            message_factory.GetMessageClass(method.input_type),
            message_factory.GetMessageClass(method.output_type),
            method.client_streaming,
            method.server_streaming,
        )
        for method in SERVICE.methods
    ]


class FieldKind(enum.Enum):
    DYNAMIC_VALUE = "DynamicValue"
    RAW_STATE = "RawState"
    BYTES = "bytes"
    NAMES_ONLY = "names only"


@dataclass(frozen=True)
class Target:
    """A place in an RPC's request where a fuzzed payload goes (``path`` is empty for NAMES_ONLY)."""

    rpc: Rpc
    path: tuple[str, ...]
    kind: FieldKind
    repeated: bool = False

    def __str__(self) -> str:
        return f"{self.rpc.name}.{'.'.join(self.path) or '<names>'}"


def message_type_name(field: Any) -> str | None:
    """The full name of a message-typed field's message, None for scalar fields."""
    return None if field.message_type is None else str(field.message_type.full_name)


def _payload_fields(
    descriptor: Any, prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], FieldKind, bool]]:
    # ``descriptor`` is Any: protobuf's C (upb) and Python descriptor classes are distinct types.
    for field in descriptor.fields:
        path = (*prefix, field.name)
        if field.type == FieldDescriptor.TYPE_BYTES:
            yield path, FieldKind.BYTES, field.is_repeated
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            full_name = message_type_name(field)
            if full_name == _DYNAMIC_VALUE:
                yield path, FieldKind.DYNAMIC_VALUE, field.is_repeated
            elif full_name == _RAW_STATE:
                yield path, FieldKind.RAW_STATE, field.is_repeated
            elif not field.is_repeated and field.message_type is not descriptor:
                yield from _payload_fields(field.message_type, path)


def fuzz_targets(rpcs: Sequence[Rpc]) -> list[Target]:
    """Every DynamicValue / RawState / bytes field of every request, and a names-only target per RPC."""
    targets: list[Target] = []
    for rpc in rpcs:
        descriptor = rpc.request.DESCRIPTOR
        targets += [
            Target(rpc, path, kind, repeated) for path, kind, repeated in _payload_fields(descriptor, ())
        ]
        targets.append(Target(rpc, (), FieldKind.NAMES_ONLY))
    return targets


def top_level_dynamic_fields(rpc: Rpc) -> list[str]:
    return [
        f.name
        for f in rpc.request.DESCRIPTOR.fields
        if message_type_name(f) == _DYNAMIC_VALUE and not f.is_repeated
    ]


# ---------------------------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """Hostile content for one target. ``encoding`` picks the DynamicValue field ("msgpack" or
    "json"); RawState targets always take ``data`` as JSON, plus ``flatmap`` when given."""

    data: bytes
    encoding: str = "msgpack"
    flatmap: dict[str, str] | None = None
    copies: int = 1  # how many elements a repeated field gets

    def __repr__(self) -> str:  # keep hypothesis reports readable for 20 MiB payloads
        shown = self.data if len(self.data) <= 200 else self.data[:200] + b"..."
        return f"Payload({shown!r} [{len(self.data)} bytes], {self.encoding}, flatmap={self.flatmap!r})"


def valid_config(**overrides: Any) -> dict[str, Any]:
    """An orgtoken configuration as Terraform would send it: every attribute present, nulls too."""
    value: dict[str, Any] = {name: None for name in RESOURCE_TYPE.attributes}
    value.update(name="ci", org_name="acme")
    value.update(overrides)
    return value


VALID_CONFIG_MSGPACK = encode_msgpack(valid_config(), RESOURCE_TYPE)
VALID_CONFIG_JSON = encode_json(valid_config(), RESOURCE_TYPE)
VALID_PROVIDER_CONFIG_MSGPACK = encode_msgpack(dict.fromkeys(PROVIDER_TYPE.attributes), PROVIDER_TYPE)
VALID_EPHEMERAL_CONFIG_MSGPACK = encode_msgpack(
    {**dict.fromkeys(EPHEMERAL_TYPE.attributes), "org_name": "acme"}, EPHEMERAL_TYPE
)
VALID_IDENTITY_MSGPACK = encode_msgpack({"org_name": "acme", "token_id": "t-1"}, IDENTITY_TYPE)
_PROVIDER_CONFIG_RPCS = frozenset({"ValidateProviderConfig", "ConfigureProvider"})


def _fill_dynamic(value: Message, payload: Payload) -> None:
    if payload.encoding == "json":
        value.json = payload.data  # type: ignore[attr-defined]
    else:
        value.msgpack = payload.data  # type: ignore[attr-defined]


def build_request(
    target: Target,
    payload: Payload,
    type_name: str,
    *,
    valid_siblings: bool = False,
    strings: str | None = None,
) -> Message:
    """The target's request with ``payload`` in place and every naming field set to ``type_name``.

    ``valid_siblings`` fills the request's other top-level DynamicValues with a valid value, so the
    servicer gets past them and meets the payload deeper in its logic. ``strings`` goes into every
    other string field (ids, state ids, versions...).
    """
    request = target.rpc.request()
    for field in request.DESCRIPTOR.fields:
        if field.type != FieldDescriptor.TYPE_STRING or field.is_repeated:
            continue
        if field.name in NAME_FIELDS:
            setattr(request, field.name, type_name)
        elif strings is not None:
            setattr(request, field.name, strings)
    if valid_siblings:
        sibling = (
            VALID_PROVIDER_CONFIG_MSGPACK
            if target.rpc.name in _PROVIDER_CONFIG_RPCS
            else VALID_CONFIG_MSGPACK
        )
        for name in top_level_dynamic_fields(target.rpc):
            if target.path != (name,):
                getattr(request, name).msgpack = sibling
    if target.kind is FieldKind.NAMES_ONLY:
        return request
    holder = request
    for step in target.path[:-1]:
        holder = getattr(holder, step)
    last = target.path[-1]
    if target.kind is FieldKind.BYTES:
        setattr(holder, last, payload.data)
    elif target.kind is FieldKind.RAW_STATE:
        raw = getattr(holder, last)
        raw.json = payload.data
        if payload.flatmap:
            raw.flatmap.update(payload.flatmap)
    elif target.repeated:
        container = getattr(holder, last)
        for _ in range(max(1, payload.copies)):
            _fill_dynamic(container.add(), payload)
    else:
        value = getattr(holder, last)
        value.SetInParent()  # present even when the payload is empty: "neither msgpack nor JSON"
        _fill_dynamic(value, payload)
    return request


def write_state_chunks(request: Message, payload: Payload) -> list[Message]:
    """WriteStateBytes is client-streaming: the request becomes ``copies`` chunks."""
    chunks = [request]
    for _ in range(1, max(1, payload.copies)):
        chunks.append(type(request)(bytes=payload.data))
    return chunks


# ---------------------------------------------------------------------------------------------
# Calling RPCs and reading answers
# ---------------------------------------------------------------------------------------------


class ProviderCaller:
    """Calls any tfplugin6 RPC on a channel through generic multi-callables built from the descriptor."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.rpcs = {rpc.name: rpc for rpc in provider_rpcs()}
        self._callables: dict[str, Any] = {}
        for rpc in self.rpcs.values():
            kind = {
                (False, False): channel.unary_unary,
                (False, True): channel.unary_stream,
                (True, False): channel.stream_unary,
                (True, True): channel.stream_stream,
            }[(rpc.client_streaming, rpc.server_streaming)]
            self._callables[rpc.name] = kind(
                rpc.method_path,
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=rpc.response.FromString,
            )

    def call(
        self, rpc_name: str, request: Message | Sequence[Message], timeout: float = 20.0
    ) -> list[Message]:
        """Every response message (one for unary answers; all events of a stream, read to its end).

        A gRPC error status surfaces as ``grpc.RpcError``; a stream that fails part-way too.
        """
        rpc = self.rpcs[rpc_name]
        method = self._callables[rpc_name]
        if rpc.client_streaming:
            chunks = list(request) if isinstance(request, Sequence) else [request]
            argument: Any = iter(chunks)
        else:
            assert isinstance(request, Message)
            argument = request
        if rpc.server_streaming:
            return list(method(argument, timeout=timeout))
        return [method(argument, timeout=timeout)]

    def call_one(self, rpc_name: str, request: Message, response_type: type[M]) -> M:
        """A unary call's one response, checked to be ``response_type``."""
        (response,) = self.call(rpc_name, request)
        assert isinstance(response, response_type), f"{rpc_name} answered a {type(response).__name__}"
        return response


def error_messages(message: Message) -> list[str]:
    """``summary: detail`` of every error diagnostic anywhere inside ``message`` (nested events
    included), plus the text of a FunctionError, which is CallFunction's way to report one."""
    found: list[str] = []
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        items = list(value) if field.is_repeated else [value]
        full_name = message_type_name(field)
        for item in items:
            if full_name == _DIAGNOSTIC:
                if item.severity == pb.Diagnostic.ERROR:
                    found.append(f"{item.summary}: {item.detail}")
            elif full_name == _FUNCTION_ERROR:
                found.append(f"function error: {item.text}")
            elif not isinstance(item, str | bytes | int | float):
                found += error_messages(item)
    return found


def is_internal_error(message: str) -> bool:
    return message.startswith(INTERNAL_ERROR_SUMMARY + ":")


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


def closed_local_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: an API call fails at once, never leaves the host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class InProcessProvider:
    """The servicer registered with ``tfprovider.server.register`` on a unix socket in ``directory``,
    with the plugin runtime's message limits, and a channel to it."""

    def __init__(self, directory: Path, workers: int = 8) -> None:
        self._executor = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fuzz-rpc")
        limits = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ]
        self.server = grpc.server(self._executor, options=limits)
        register(self.server)
        target = f"unix:{directory / 'provider.sock'}"
        if self.server.add_insecure_port(target) == 0:
            raise RuntimeError(f"could not listen on {target}")
        self.server.start()
        self.channel = grpc.insecure_channel(target, options=limits)
        grpc.channel_ready_future(self.channel).result(timeout=10)

    def close(self) -> None:
        self.channel.close()
        self.server.stop(None).wait()
        self._executor.shutdown(wait=True)


# ---------------------------------------------------------------------------------------------
# Hostile payloads
# ---------------------------------------------------------------------------------------------


def ext_bytes(code: int, payload: bytes) -> bytes:
    """A msgpack extension of any type code (-128..127) in the shortest header, written by hand
    because msgpack's packer only takes codes 0..127."""
    size = len(payload)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if size in fixed:
        header = bytes([fixed[size]])
    elif size < 2**8:
        header = b"\xc7" + struct.pack(">B", size)
    elif size < 2**16:
        header = b"\xc8" + struct.pack(">H", size)
    else:
        header = b"\xc9" + struct.pack(">I", size)
    return header + struct.pack(">b", code) + payload


def object_with(attribute: str, raw_value: bytes) -> bytes:
    """A valid orgtoken config whose ``attribute`` holds ``raw_value`` (msgpack bytes, unchecked)."""
    config = valid_config()
    names = sorted(config)
    body = bytearray(b"\xde" + struct.pack(">H", len(names)))
    for name in names:
        body += msgpack.packb(name)
        body += (
            raw_value if name == attribute else encode_msgpack(config[name], RESOURCE_TYPE.attributes[name])
        )
    return bytes(body)


ATTRIBUTE_NAMES = sorted(RESOURCE_TYPE.attributes) + sorted(PROVIDER_TYPE.attributes)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.binary(max_size=30),
)
_keys = st.one_of(st.sampled_from(ATTRIBUTE_NAMES), st.text(st.characters(codec="utf-8"), max_size=12))
json_ish = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=20,
)
"""JSON-like values (plus bytes and non-finite floats) whose keys are often real attribute names."""


def _packb(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


random_bytes = st.binary(max_size=512).map(Payload)
"""Bytes with no structure at all."""

wrong_shape_msgpack = json_ish.map(lambda value: Payload(_packb(value)))
"""Well-formed msgpack of hypothesis-chosen shapes, nearly always the wrong shape for the schema."""


@st.composite
def _mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        operation = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
        position = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif operation == "truncate":
            del data[position:]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete" and data:
            del data[position : position + draw(st.integers(min_value=1, max_value=8))]
        elif operation == "replace" and data:
            data[position] = draw(st.integers(min_value=0, max_value=255))
    return bytes(data)


mutated_config = _mutated(VALID_CONFIG_MSGPACK).map(Payload)
"""A valid encoded orgtoken config after a few bit flips, truncations, insertions and deletions."""

mutated_json_config = _mutated(VALID_CONFIG_JSON).map(lambda data: Payload(data, "json"))

mutated_ephemeral_config = _mutated(VALID_EPHEMERAL_CONFIG_MSGPACK).map(Payload)
"""A valid encoded ephemeral orgtoken config, mutated the same way."""

mutated_identity = _mutated(VALID_IDENTITY_MSGPACK).map(Payload)
"""A valid encoded orgtoken identity, mutated the same way."""


@st.composite
def _extension(draw: st.DrawFn) -> Payload:
    ext = ext_bytes(draw(st.integers(min_value=0, max_value=127)), draw(st.binary(max_size=64)))
    where = draw(st.sampled_from([None, *sorted(RESOURCE_TYPE.attributes)]))
    return Payload(ext if where is None else object_with(where, ext))


extension_types = _extension()
"""Extension types 0..127 with random payloads, as the whole value or as one attribute."""

_refinement_keys = st.one_of(
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    _keys,
    st.none(),
)


@st.composite
def _refined_unknown(draw: st.DrawFn) -> Payload:
    if draw(st.booleans()):
        refinements = _packb(draw(st.dictionaries(_refinement_keys, json_ish, max_size=6)))
    else:
        refinements = draw(st.binary(max_size=64))
    ext = ext_bytes(12, refinements)
    where = draw(st.sampled_from([None, *sorted(RESOURCE_TYPE.attributes)]))
    return Payload(ext if where is None else object_with(where, ext))


refined_unknowns = _refined_unknown()
"""Extension 12 (a refined unknown) carrying garbage refinement maps or bytes."""


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, default=lambda v: v.hex() if isinstance(v, bytes) else str(v)).encode()


json_garbage = st.one_of(
    st.binary(max_size=256),
    st.text(st.characters(codec="utf-8"), max_size=64).map(str.encode),
    json_ish.map(_json_bytes),
).map(lambda data: Payload(data, "json"))
"""JSON DynamicValues that are not JSON, or JSON of the wrong shape (NaN and Infinity included)."""

flatmap_state = st.dictionaries(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.text(st.characters(codec="utf-8"), max_size=12),
    min_size=1,
    max_size=5,
).map(lambda flat: Payload(b"", "json", flatmap=flat))
"""Pre-0.12 flatmap states (only RawState targets read these; elsewhere the payload is empty)."""

type_names = st.one_of(
    st.just(ORGTOKEN),
    st.sampled_from(
        ["", "pulumiservice", "pulumiservice_api_tokens_orgtoken ", "PULUMISERVICE_API_TOKENS_ORGTOKEN"]
    ),
    st.text(st.characters(codec="utf-8"), max_size=40),
)
"""The real resource type name, near misses and random text."""
