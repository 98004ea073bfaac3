"""Hostile input over gRPC: every hostile byte string the servicer can be handed ends in a normal
response carrying an error diagnostic, and the server keeps serving.

The bulk of the fuzzing runs against the servicer registered in-process on a unix socket (fast);
a smaller share goes to the real plugin process launched as Terraform launches it, to prove that
process survives too. Targets come from the protocol descriptor (see ``support/fuzz.py``): every
``DynamicValue`` (nested and repeated ones included), ``RawState`` and ``bytes`` field of every
request, plus random type names for every RPC.

A request fails the run if it gets a gRPC error status (UNIMPLEMENTED included: every RPC is
implemented), hangs, kills the server, or is answered with "Internal provider error", which means
an exception reached the servicer's last-resort handler instead of being reported as what it is.
Where the answer must be an error (undecodable input in a field the servicer decodes, an unknown
resource type, an RPC about something this provider does not offer), its absence fails too.

Counts are kept in ``TALLIES``; ``test_fuzz_totals`` runs last and asserts them, so the evidence
does not depend on anyone reading the output (run with ``-s`` to see the one-line summary).
"""

from __future__ import annotations

import itertools
import math
import os
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import grpc
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fuzz import (
    EPHEMERAL_TYPE,
    IDENTITY_TYPE,
    ORGTOKEN,
    PROVIDER_TYPE,
    RESOURCE_TYPE,
    VALID_CONFIG_MSGPACK,
    FieldKind,
    InProcessProvider,
    Payload,
    ProviderCaller,
    Target,
    build_request,
    closed_local_url,
    error_messages,
    ext_bytes,
    extension_types,
    flatmap_state,
    fuzz_targets,
    is_internal_error,
    json_garbage,
    mutated_config,
    mutated_ephemeral_config,
    mutated_identity,
    mutated_json_config,
    object_with,
    provider_rpcs,
    random_bytes,
    refined_unknowns,
    type_names,
    valid_config,
    write_state_chunks,
    wrong_shape_msgpack,
)
from support.plugin_client import PluginProcess

from tfprovider.cty import UNKNOWN, CtyError, CtyType, Unknown, decode_json, decode_msgpack, encode_msgpack
from tfprovider.protocol import tfplugin6_pb2 as pb

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
RPCS = provider_rpcs()
TARGETS = fuzz_targets(RPCS)
TARGETS_PER_EXAMPLE = 4
"""Each generated payload goes to this many consecutive targets: generating is the slow part."""
MIN_REQUESTS = 10_000
MIB = 1024 * 1024

# What the servicer must answer, whatever else the request holds.
NEVER_ERROR = frozenset(
    {"GetMetadata", "GetProviderSchema", "GetResourceIdentitySchemas", "GetFunctions", "StopProvider"}
)
ALWAYS_ERROR = frozenset(
    {
        # no data sources, list resources, actions, state stores or functions
        "ValidateDataResourceConfig",
        "ReadDataSource",
        "ValidateListResourceConfig",
        "ListResource",
        "ValidateActionConfig",
        "PlanAction",
        "InvokeAction",
        "ValidateStateStoreConfig",
        "ConfigureStateStore",
        "ReadStateBytes",
        "WriteStateBytes",
        "LockState",
        "UnlockState",
        "GetStates",
        "DeleteState",
        "CallFunction",
        # no other resource type to move state from
        "MoveResourceState",
    }
)
RESOURCE_RPCS = frozenset(
    {
        "ValidateResourceConfig",
        "UpgradeResourceState",
        "ReadResource",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ImportResourceState",
        "GenerateResourceConfig",
        "UpgradeResourceIdentity",
    }
)
"""RPCs about a managed resource type: any type name but the orgtoken's is an error."""
EPHEMERAL_RPCS = frozenset(
    {
        "ValidateEphemeralResourceConfig",
        "OpenEphemeralResource",
        "RenewEphemeralResource",
        "CloseEphemeralResource",
    }
)
"""RPCs about an ephemeral resource type: any type name but the orgtoken's is an error."""
DECODED: dict[tuple[str, tuple[str, ...]], CtyType] = {
    ("ValidateProviderConfig", ("config",)): PROVIDER_TYPE,
    ("ConfigureProvider", ("config",)): PROVIDER_TYPE,
    ("ValidateResourceConfig", ("config",)): RESOURCE_TYPE,
    ("UpgradeResourceState", ("raw_state",)): RESOURCE_TYPE,
    ("ReadResource", ("current_state",)): RESOURCE_TYPE,
    ("PlanResourceChange", ("prior_state",)): RESOURCE_TYPE,
    ("PlanResourceChange", ("proposed_new_state",)): RESOURCE_TYPE,
    ("PlanResourceChange", ("config",)): RESOURCE_TYPE,
    ("ApplyResourceChange", ("prior_state",)): RESOURCE_TYPE,
    ("ApplyResourceChange", ("planned_state",)): RESOURCE_TYPE,
    ("ApplyResourceChange", ("config",)): RESOURCE_TYPE,
    ("GenerateResourceConfig", ("state",)): RESOURCE_TYPE,
    ("ImportResourceState", ("identity", "identity_data")): IDENTITY_TYPE,
    ("UpgradeResourceIdentity", ("raw_identity",)): IDENTITY_TYPE,
    ("ValidateEphemeralResourceConfig", ("config",)): EPHEMERAL_TYPE,
    ("OpenEphemeralResource", ("config",)): EPHEMERAL_TYPE,
}
"""Fields the servicer decodes with a schema type: input the decoder rejects must get an error.
Fields not listed are never decoded: provider_meta and the configs of things this provider does not
have, which Terraform sends only for schemas this provider does not declare, and the identities
that travel with a state (current, prior, planned), because the provider derives identity from the
state itself."""


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    error_answers: int = 0  # responses carrying at least one error diagnostic (or function error)
    crashes: int = 0  # gRPC failures, hangs, or a dead server
    seconds: float = 0.0
    per_target: Counter[str] = field(default_factory=Counter)


TALLIES: dict[str, Tally] = {"in-process": Tally(), "plugin process": Tally()}


def expected_error(target: Target, payload: Payload, type_name: str) -> str | None:
    """Why this request must be answered with an error diagnostic, or None if it need not be."""
    name = target.rpc.name
    if name in ALWAYS_ERROR:
        return f"{name} is about something this provider does not offer"
    if name in RESOURCE_RPCS and type_name != ORGTOKEN:
        return f"{type_name!r} is not a resource type of this provider"
    if name in EPHEMERAL_RPCS and type_name != ORGTOKEN:
        return f"{type_name!r} is not an ephemeral resource type of this provider"
    ty = DECODED.get((name, target.path))
    if ty is None or type_name != ORGTOKEN:
        return None
    if target.kind is FieldKind.RAW_STATE:
        if not payload.data:
            return "a flatmap state is never written by this provider" if payload.flatmap else None
        decode = decode_json
    elif payload.encoding == "json":
        decode = decode_json
    else:
        decode = decode_msgpack
    if not payload.data:
        return "a DynamicValue carrying neither msgpack nor JSON"
    try:
        value = decode(payload.data, ty)
    except CtyError as exc:
        return f"the value does not decode: {exc}"
    if isinstance(value, Unknown):
        return "a whole object is never unknown"
    return None


class Fuzzer:
    """Sends requests, checks each answer, and counts into a tally."""

    def __init__(self, caller: ProviderCaller, tally: Tally, alive: Callable[[], bool] | None = None) -> None:
        self.caller = caller
        self.tally = tally
        self.alive = alive or (lambda: True)

    def send(
        self,
        target: Target,
        payload: Payload,
        type_name: str = ORGTOKEN,
        *,
        valid_siblings: bool = False,
        strings: str | None = None,
    ) -> list[str]:
        """Send one request; return its error messages after checking the answer is acceptable."""
        request = build_request(target, payload, type_name, valid_siblings=valid_siblings, strings=strings)
        argument: Any = write_state_chunks(request, payload) if target.rpc.client_streaming else request
        self.tally.requests += 1
        self.tally.per_target[str(target)] += 1
        what = f"{target} with {payload!r}, type name {type_name!r}"
        started = time.monotonic()
        try:
            responses = self.caller.call(target.rpc.name, argument)
        except grpc.RpcError as exc:
            self.tally.crashes += 1
            code = exc.code() if isinstance(exc, grpc.Call) else exc
            details = exc.details() if isinstance(exc, grpc.Call) else ""
            raise AssertionError(f"{what}: gRPC status {code} ({details})") from None
        finally:
            self.tally.seconds += time.monotonic() - started
        if not self.alive():
            self.tally.crashes += 1
            raise AssertionError(f"the server died on {what}")
        assert all(type(r) is target.rpc.response for r in responses), what
        assert target.rpc.server_streaming or len(responses) == 1, what
        errors = [message for response in responses for message in error_messages(response)]
        internal = [message for message in errors if is_internal_error(message)]
        assert not internal, f"{what}: {internal[0]}"
        if errors:
            self.tally.error_answers += 1
        if target.rpc.name in NEVER_ERROR:
            assert not errors, f"{what}: {errors}"
        reason = expected_error(target, payload, type_name)
        assert reason is None or errors, f"{what}: no error diagnostic, but {reason}"
        return errors


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """No credentials, and an API URL where nothing listens: whatever configuration the fuzzing
    stumbles on, no request ever leaves this machine and none waits on a network."""
    url = closed_local_url()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
        patch.setenv("PULUMI_BACKEND_URL", url)
        yield url


def serve_in_process() -> Iterator[Fuzzer]:
    with tempfile.TemporaryDirectory(prefix="tfp-fuzz-") as directory:
        provider = InProcessProvider(Path(directory))
        try:
            yield Fuzzer(ProviderCaller(provider.channel), TALLIES["in-process"])
        finally:
            provider.close()


@pytest.fixture(scope="module")
def in_process(api_url: str) -> Iterator[Fuzzer]:
    """One servicer for all the bulk fuzzing: whatever state one request leaves behind (a
    configuration, say) is part of what the next one meets."""
    yield from serve_in_process()


@pytest.fixture
def server(api_url: str) -> Iterator[Fuzzer]:
    """A fresh servicer, for focused tests that must not inherit what the fuzzing left behind
    (after a fuzzed StopProvider, for one, every create is cancelled before it looks at its input)."""
    yield from serve_in_process()


@pytest.fixture(scope="module")
def plugin(api_url: str) -> Iterator[PluginProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "PULUMI_"))}
    env.update(TF_PLUGIN_MAGIC_COOKIE=COOKIE, PLUGIN_PROTOCOL_VERSIONS="5,6", PULUMI_BACKEND_URL=api_url)
    with PluginProcess([sys.executable, "-m", "tfprovider"], env, tls=True) as process:
        yield process


@pytest.fixture(scope="module")
def in_plugin(plugin: PluginProcess) -> Fuzzer:
    return Fuzzer(
        ProviderCaller(plugin.channel), TALLIES["plugin process"], lambda: plugin.proc.poll() is None
    )


def target_named(name: str) -> Target:
    (target,) = (t for t in TARGETS if str(t) == name)
    return target


def assert_still_serving(fuzzer: Fuzzer) -> None:
    """The schema comes back whole, and a valid create plans exactly as it should."""
    caller = fuzzer.caller
    schema = caller.call_one(
        "GetProviderSchema", pb.GetProviderSchema.Request(), pb.GetProviderSchema.Response
    )
    assert not error_messages(schema)
    assert set(schema.resource_schemas) == {ORGTOKEN}
    assert {a.name for a in schema.resource_schemas[ORGTOKEN].block.attributes} == set(
        RESOURCE_TYPE.attributes
    )
    config = pb.DynamicValue(msgpack=VALID_CONFIG_MSGPACK)
    request = pb.PlanResourceChange.Request(
        type_name=ORGTOKEN,
        prior_state=pb.DynamicValue(msgpack=encode_msgpack(None, RESOURCE_TYPE)),
        proposed_new_state=config,
        config=config,
    )
    plan = caller.call_one("PlanResourceChange", request, pb.PlanResourceChange.Response)
    assert not error_messages(plan)
    planned = decode_msgpack(plan.planned_state.msgpack, RESOURCE_TYPE)
    assert planned == {
        **valid_config(),
        "admin": False,
        "description": "",
        "expires": Decimal(0),
        "id": UNKNOWN,
        "token_id": UNKNOWN,
        "token_value": UNKNOWN,
    }


# ---------------------------------------------------------------------------------------------
# The descriptor-driven target list itself
# ---------------------------------------------------------------------------------------------


def test_targets_reach_every_rpc_and_every_dynamic_value() -> None:
    assert len(RPCS) == 36
    assert {t.rpc.name for t in TARGETS} == {rpc.name for rpc in RPCS}
    streaming = {rpc.name for rpc in RPCS if rpc.client_streaming or rpc.server_streaming}
    assert streaming == {"ListResource", "ReadStateBytes", "WriteStateBytes", "InvokeAction"}
    names = {str(t) for t in TARGETS}
    for expected in (
        "CallFunction.arguments",
        "ReadResource.current_identity.identity_data",
        "ImportResourceState.identity.identity_data",
        "UpgradeResourceState.raw_state",
        "MoveResourceState.source_identity",
        "PlanResourceChange.prior_private",
        "ValidateListResourceConfig.limit",
        "WriteStateBytes.bytes",
        "GetMetadata.<names>",
    ):
        assert expected in names
    assert target_named("CallFunction.arguments").repeated
    dynamic_values = sum(1 for t in TARGETS if t.kind is FieldKind.DYNAMIC_VALUE)
    assert dynamic_values == sum(
        str(f.message_type.full_name if f.message_type else "") == "tfplugin6.DynamicValue"
        for rpc in RPCS
        for f in _all_fields(rpc.request.DESCRIPTOR)
    )


def _all_fields(descriptor: Any, seen: frozenset[str] = frozenset()) -> Iterator[Any]:
    """Every field reachable in a request, by a different walk than support.fuzz's."""
    for f in descriptor.fields:
        yield f
        message = f.message_type
        if (
            message is not None
            and message.full_name not in seen
            and message.full_name != "tfplugin6.DynamicValue"
        ):
            yield from _all_fields(message, seen | {message.full_name})


# ---------------------------------------------------------------------------------------------
# The bulk: hypothesis-generated payloads into every target of the in-process server
# ---------------------------------------------------------------------------------------------


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


BULK_TARGETS = [t for t in TARGETS if t.rpc.name != "StopProvider"]
"""StopProvider cancels every later create before it reads its input, which would hide what the
input does there; it is fuzzed in the last in-process round and called at the end of the plugin's."""
RESOURCE_TYPE_NAMES = st.sampled_from([ORGTOKEN, ORGTOKEN, ORGTOKEN, ORGTOKEN, "pulumiservice_nope"])
"""Mostly the real type name, so payloads reach the decoders; type names get their own family."""
RAW_STATE_TARGETS = [t for t in TARGETS if t.kind is FieldKind.RAW_STATE]
EPHEMERAL_CONFIG_TARGETS = [t for t in TARGETS if DECODED.get((t.rpc.name, t.path)) is EPHEMERAL_TYPE]
IDENTITY_TARGETS = [t for t in TARGETS if t.kind is FieldKind.DYNAMIC_VALUE and t.path[-1] == "identity_data"]
"""Every identity Terraform can send: decoded on import, ignored beside a state."""

FAMILIES: dict[str, tuple[st.SearchStrategy[Payload], int, list[Target]]] = {
    # family: (payloads, examples, targets)
    "random bytes": (random_bytes, 450, BULK_TARGETS),
    "wrong-shape msgpack": (wrong_shape_msgpack, 450, BULK_TARGETS),
    "mutated msgpack config": (mutated_config, 450, BULK_TARGETS),
    "mutated JSON config": (mutated_json_config, 200, BULK_TARGETS),
    "extension types": (extension_types, 300, BULK_TARGETS),
    "refined unknowns": (refined_unknowns, 250, BULK_TARGETS),
    "JSON garbage": (json_garbage, 250, BULK_TARGETS),
    "flatmap states": (flatmap_state, 60, RAW_STATE_TARGETS),
    "mutated ephemeral config": (mutated_ephemeral_config, 150, EPHEMERAL_CONFIG_TARGETS),
    "mutated identity": (mutated_identity, 150, IDENTITY_TARGETS),
}


def round_robin(targets: list[Target]) -> Iterator[list[Target]]:
    """Consecutive slices of ``targets``, wrapping around: every target gets an even share of
    the generated payloads, whatever values Hypothesis happens to draw (or shrink towards)."""
    for start in itertools.count(step=TARGETS_PER_EXAMPLE):
        yield [targets[(start + offset) % len(targets)] for offset in range(TARGETS_PER_EXAMPLE)]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzz_in_process(in_process: Fuzzer, family: str) -> None:
    payloads, examples, targets = FAMILIES[family]
    slices = round_robin(targets)

    @fuzz_settings(examples)
    @given(
        payload=payloads,
        type_name=RESOURCE_TYPE_NAMES,
        valid_siblings=st.booleans(),
        copies=st.integers(min_value=1, max_value=3),
    )
    def run(payload: Payload, type_name: str, valid_siblings: bool, copies: int) -> None:
        payload = Payload(payload.data, payload.encoding, payload.flatmap, copies)
        for target in dict.fromkeys(next(slices)):  # fewer targets than a slice: each once
            in_process.send(target, payload, type_name, valid_siblings=valid_siblings)

    run()


def test_fuzz_type_names_and_strings_in_process(in_process: Fuzzer) -> None:
    """Random, near-miss and valid type names (and random ids, state ids...) for every RPC."""

    slices = round_robin(TARGETS)

    @fuzz_settings(300)
    @given(
        type_name=type_names,
        strings=st.text(st.characters(codec="utf-8"), max_size=40),
        data=st.binary(max_size=32),
    )
    def run(type_name: str, strings: str, data: bytes) -> None:
        for target in next(slices):
            in_process.send(target, Payload(data), type_name, strings=strings)

    run()


def deep_payloads() -> list[tuple[str, Payload]]:
    return [
        ("msgpack arrays 10k deep", Payload(b"\x91" * 10_000 + b"\xc0")),
        ("msgpack maps 10k deep", Payload(b"\x81\xa1a" * 10_000 + b"\xc0")),
        ("JSON arrays 10k deep", Payload(b"[" * 10_000 + b"]" * 10_000, "json")),
        ("JSON objects 10k deep", Payload(b'{"a":' * 10_000 + b"null" + b"}" * 10_000, "json")),
    ]


def huge_payloads() -> list[tuple[str, Payload, list[str]]]:
    """20 MiB payloads, each with the targets where it is invalid (a 20 MiB name is a valid
    string in a stored state, but breaks the 40-character limit in a configuration)."""
    huge_name = object_with("name", msgpack.packb("n" * (20 * MIB)))
    return [
        ("20 MiB of random bytes", Payload(os.urandom(20 * MIB)), ["ReadResource.current_state"]),
        ("20 MiB name", Payload(huge_name), ["ValidateResourceConfig.config", "PlanResourceChange.config"]),
    ]


def test_deep_and_huge_payloads_in_process(in_process: Fuzzer) -> None:
    for label, payload in deep_payloads():
        for target in (t for t in BULK_TARGETS if (t.rpc.name, t.path) in DECODED):
            assert in_process.send(target, payload, valid_siblings=True), f"{label} into {target}"
    for label, payload, names in huge_payloads():
        for name in names:
            assert in_process.send(target_named(name), payload, valid_siblings=True), f"{label} into {name}"
    assert_still_serving(in_process)


# ---------------------------------------------------------------------------------------------
# A smaller share against the real plugin process
# ---------------------------------------------------------------------------------------------

ANY_PAYLOAD = st.one_of(
    random_bytes,
    wrong_shape_msgpack,
    mutated_config,
    mutated_json_config,
    extension_types,
    refined_unknowns,
    json_garbage,
)


def test_fuzz_real_plugin_process(in_plugin: Fuzzer, plugin: PluginProcess) -> None:
    slices = round_robin(BULK_TARGETS)

    @fuzz_settings(400)
    @given(
        payload=ANY_PAYLOAD,
        type_name=RESOURCE_TYPE_NAMES,
        valid_siblings=st.booleans(),
    )
    def run(payload: Payload, type_name: str, valid_siblings: bool) -> None:
        for target in next(slices):
            in_plugin.send(target, payload, type_name, valid_siblings=valid_siblings)

    run()
    for label, payload in deep_payloads():
        assert in_plugin.send(target_named("PlanResourceChange.config"), payload, valid_siblings=True), label
    for label, payload, names in huge_payloads():
        assert in_plugin.send(target_named(names[-1]), payload, valid_siblings=True), label

    in_plugin.send(target_named("StopProvider.<names>"), Payload(b""))  # cancels work, never exits
    assert plugin.proc.poll() is None, "the plugin process exited"
    assert_still_serving(in_plugin)
    assert "unexpected failure" not in plugin.stderr_text()
    assert plugin.shutdown() == 0


# ---------------------------------------------------------------------------------------------
# Focused cases: each hostile input named in the issue, with the answer Terraform needs
# ---------------------------------------------------------------------------------------------


def dv(raw: bytes) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=raw)


def known(value: dict[str, Any]) -> bytes:
    return encode_msgpack(value, RESOURCE_TYPE)


def state(**overrides: Any) -> dict[str, Any]:
    """A stored orgtoken state as the provider itself writes it: wholly known."""
    return (
        valid_config(
            admin=False, description="", expires=Decimal(0), id="acme/t1", token_id="t1", token_value="pul-x"
        )
        | overrides
    )


def call(fuzzer: Fuzzer, rpc: str, **fields: Any) -> list[str]:
    """Send one hand-made unary request; its error messages. A gRPC error status or an internal
    error fails the test, as in the fuzzing; the request is counted in the in-process tally."""
    request = fuzzer.caller.rpcs[rpc].request(**fields)
    started = time.monotonic()
    try:
        response = fuzzer.caller.call_one(rpc, request, fuzzer.caller.rpcs[rpc].response)
    except grpc.RpcError as exc:
        fuzzer.tally.crashes += 1
        raise AssertionError(f"{rpc}: gRPC failure {exc}") from None
    finally:
        fuzzer.tally.seconds += time.monotonic() - started
    fuzzer.tally.requests += 1
    errors = error_messages(response)
    assert not [e for e in errors if is_internal_error(e)], f"{rpc}: {errors}"
    if errors:
        fuzzer.tally.error_answers += 1
    return errors


def decoded_rpcs(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """One request per decoded resource field, with ``raw`` there and a valid config elsewhere."""
    valid = dv(VALID_CONFIG_MSGPACK)
    bad = dv(raw)
    return [
        ("ValidateResourceConfig", {"config": bad}),
        ("ReadResource", {"current_state": bad}),
        ("PlanResourceChange", {"prior_state": bad, "proposed_new_state": valid, "config": valid}),
        ("PlanResourceChange", {"proposed_new_state": bad, "config": valid}),
        ("PlanResourceChange", {"proposed_new_state": valid, "config": bad}),
        ("ApplyResourceChange", {"planned_state": bad, "config": valid}),
        ("GenerateResourceConfig", {"state": bad}),
    ]


def assert_rejected_everywhere(fuzzer: Fuzzer, raw: bytes, attribute: str | None = None) -> None:
    for rpc, fields in decoded_rpcs(raw):
        errors = call(fuzzer, rpc, type_name=ORGTOKEN, **fields)
        assert errors, f"{rpc} accepted {raw[:40]!r}"
    if attribute is not None:  # the diagnostic points at the attribute that holds the bad value
        request = pb.ValidateResourceConfig.Request(type_name=ORGTOKEN, config=dv(raw))
        response = fuzzer.caller.call_one(
            "ValidateResourceConfig", request, pb.ValidateResourceConfig.Response
        )
        (diagnostic,) = response.diagnostics
        assert [s.attribute_name for s in diagnostic.attribute.steps] == [attribute]


@pytest.mark.parametrize(
    "header",
    [
        b"\xdf\xff\xff\xff\xff",
        b"\xdd\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xffabc",
        b"\xc6\xff\xff\xff\xffabc",
    ],
    ids=["map32 of 2^32-1 entries", "array32 of 2^32-1 elements", "str32 of 4 GiB", "bin32 of 4 GiB"],
)
def test_length_headers_claiming_billions(server: Fuzzer, header: bytes) -> None:
    """msgpack's 32-bit headers top out at 2^32-1; a claim that large, with a few bytes behind it,
    is answered at once, as the whole value and as the value of `name`."""
    started = time.monotonic()
    assert_rejected_everywhere(server, header)
    assert_rejected_everywhere(server, object_with("name", header), attribute="name")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("payload", "encoding"),
    [
        (b"\x91" * 100_000 + b"\xc0", "msgpack"),
        (b"\x81\xa4name" * 100_000 + b"\xc0", "msgpack"),
        (b"[" * 100_000 + b"]" * 100_000, "json"),
        (b'{"name":' * 100_000 + b'"x"' + b"}" * 100_000, "json"),
    ],
    ids=["msgpack arrays", "msgpack maps", "JSON arrays", "JSON objects"],
)
def test_nesting_100k_levels(server: Fuzzer, payload: bytes, encoding: str) -> None:
    value = pb.DynamicValue(msgpack=payload) if encoding == "msgpack" else pb.DynamicValue(json=payload)
    assert call(server, "ValidateResourceConfig", type_name=ORGTOKEN, config=value)
    assert call(server, "PlanResourceChange", type_name=ORGTOKEN, proposed_new_state=value, config=value)
    if encoding == "json":
        raw = pb.RawState(json=payload)
        assert call(server, "UpgradeResourceState", type_name=ORGTOKEN, raw_state=raw)
    assert_still_serving(server)


def refined_string(prefix_bytes: int) -> bytes:
    """An unknown, not-null string whose prefix refinement makes the ext 12 payload this long."""
    shell = msgpack.packb({1: False, 2: ""})
    prefix = "p" * (prefix_bytes - len(shell))
    while len(msgpack.packb({1: False, 2: prefix})) > prefix_bytes:
        prefix = prefix[:-1]
    payload = msgpack.packb({1: False, 2: prefix})
    assert len(payload) == prefix_bytes
    return ext_bytes(12, payload)


def test_refined_unknown_over_1_kib_is_rejected(server: Fuzzer) -> None:
    """go-cty refuses refinement payloads over 1 KiB; so do we, naming the attribute."""
    assert_rejected_everywhere(server, object_with("name", refined_string(2048)), attribute="name")


def test_refined_unknown_of_1_kib_is_a_valid_unknown(server: Fuzzer) -> None:
    """The limit's other side: Terraform may send this in a configuration, and it is fine."""
    config = dv(object_with("name", refined_string(1024)))
    assert not call(server, "ValidateResourceConfig", type_name=ORGTOKEN, config=config)
    request = pb.PlanResourceChange.Request(type_name=ORGTOKEN, proposed_new_state=config, config=config)
    plan = server.caller.call_one("PlanResourceChange", request, pb.PlanResourceChange.Response)
    assert not error_messages(plan)
    planned = decode_msgpack(plan.planned_state.msgpack, RESOURCE_TYPE)
    assert isinstance(planned, dict)
    assert isinstance(planned["name"], Unknown) and planned["name"].not_null


def test_10_mib_string_attribute(server: Fuzzer) -> None:
    """A 10 MiB name breaks the 40-character limit (an error on `name`); a 10 MiB description is
    valid, and the plan carries it back byte for byte."""
    huge = "d" * (10 * MIB)
    errors = call(
        server, "ValidateResourceConfig", type_name=ORGTOKEN, config=dv(known(valid_config(name=huge)))
    )
    assert len(errors) == 1 and "40" in errors[0]
    config = dv(known(valid_config(description=huge)))
    assert not call(server, "ValidateResourceConfig", type_name=ORGTOKEN, config=config)
    request = pb.PlanResourceChange.Request(type_name=ORGTOKEN, proposed_new_state=config, config=config)
    plan = server.caller.call_one("PlanResourceChange", request, pb.PlanResourceChange.Response)
    assert not error_messages(plan)
    planned = decode_msgpack(plan.planned_state.msgpack, RESOURCE_TYPE)
    assert isinstance(planned, dict) and planned["description"] == huge


@pytest.mark.parametrize(
    "raw", [b"\xa2\xff\xfe", b"\xc4\x02\xff\xfe", b"\xa3\xed\xa0\x80"], ids=["str", "bin", "surrogate"]
)
def test_non_utf8_string_bytes(server: Fuzzer, raw: bytes) -> None:
    """Terraform only sends UTF-8; anything else is an error on the attribute, never a crash."""
    assert_rejected_everywhere(server, object_with("name", raw), attribute="name")
    raw_state = pb.RawState(json=b'{"name":"\xff\xfe","org_name":"acme"}')
    assert call(server, "UpgradeResourceState", type_name=ORGTOKEN, raw_state=raw_state)


NON_FINITE = {
    "NaN": b"\xcb" + struct.pack(">d", math.nan),
    "+inf": b"\xcb" + struct.pack(">d", math.inf),
    "-inf": b"\xcb" + struct.pack(">d", -math.inf),
    "float32 +inf": b"\xca" + struct.pack(">f", math.inf),
}


@pytest.mark.parametrize("raw", list(NON_FINITE.values()), ids=list(NON_FINITE))
def test_non_finite_expires(server: Fuzzer, raw: bytes) -> None:
    """cty has no NaN, and an infinite expiry is no unix time: validate, plan and the apply of a
    create all answer with an error (Terraform would not apply what failed to plan, but a create
    must not trust its input)."""
    config = object_with("expires", raw)
    request = pb.ValidateResourceConfig.Request(type_name=ORGTOKEN, config=dv(config))
    response = server.caller.call_one("ValidateResourceConfig", request, pb.ValidateResourceConfig.Response)
    (diagnostic,) = response.diagnostics
    assert diagnostic.severity == pb.Diagnostic.ERROR
    assert [s.attribute_name for s in diagnostic.attribute.steps] == ["expires"]
    assert call(
        server, "PlanResourceChange", type_name=ORGTOKEN, proposed_new_state=dv(config), config=dv(config)
    )
    assert call(
        server, "ApplyResourceChange", type_name=ORGTOKEN, planned_state=dv(config), config=dv(config)
    )


def test_nan_expires_is_rejected_everywhere(server: Fuzzer) -> None:
    assert_rejected_everywhere(server, object_with("expires", NON_FINITE["NaN"]), attribute="expires")


def test_non_finite_expires_in_stored_state(server: Fuzzer) -> None:
    for text in (b"NaN", b"Infinity", b"-Infinity"):
        raw = pb.RawState(json=b'{"name":"ci","org_name":"acme","expires":' + text + b"}")
        assert call(server, "UpgradeResourceState", type_name=ORGTOKEN, raw_state=raw), text


@pytest.mark.parametrize(
    "field_name",
    [
        "ValidateResourceConfig.config",
        "PlanResourceChange.config",
        "ReadResource.current_state",
        "GenerateResourceConfig.state",
        "ValidateProviderConfig.config",
        "ConfigureProvider.config",
    ],
)
def test_wholly_unknown_object_is_an_error(server: Fuzzer, field_name: str) -> None:
    """A resource or provider configuration is always a known object (only its attributes may be
    unknown); an unknown in its place is invalid input, to be reported, not tripped over."""
    rpc, field_path = field_name.split(".")
    for unknown in (b"\xd4\x00\x00", b"\xc7\x00\x0c", ext_bytes(12, msgpack.packb({1: False}))):
        fields: dict[str, Any] = {field_path: dv(unknown)}
        if rpc == "PlanResourceChange":
            fields["proposed_new_state"] = dv(unknown)
        if rpc in ("ValidateProviderConfig", "ConfigureProvider"):
            errors = call(server, rpc, **fields)
        else:
            errors = call(server, rpc, type_name=ORGTOKEN, **fields)
        assert errors, f"{field_name} = {unknown!r}"


@pytest.mark.parametrize(
    ("rpc", "field_name"),
    [
        ("ReadResource", "current_state"),
        ("PlanResourceChange", "prior_state"),
        ("ApplyResourceChange", "prior_state"),
    ],
)
def test_unknown_values_in_stored_state_are_errors(server: Fuzzer, rpc: str, field_name: str) -> None:
    """State never holds unknowns (Terraform rejects a refresh or apply that returns one), so an
    unknown `token_id` in a prior or current state is invalid input and gets an error."""
    prior = dv(known(state(token_id=UNKNOWN)))
    fields: dict[str, Any] = {field_name: prior}
    if rpc == "PlanResourceChange":
        fields.update(proposed_new_state=prior, config=dv(VALID_CONFIG_MSGPACK))
    if rpc == "ApplyResourceChange":
        fields.update(planned_state=prior, config=dv(VALID_CONFIG_MSGPACK))
    errors = call(server, rpc, type_name=ORGTOKEN, **fields)
    assert errors, f"{rpc} accepted an unknown token_id in {field_name}"


def test_unknown_values_in_configuration_are_fine(server: Fuzzer) -> None:
    """The counterpart: unknowns in a configuration are normal, and the plan keeps them unknown."""
    config = dv(known(valid_config(name=UNKNOWN, description=UNKNOWN)))
    assert not call(server, "ValidateResourceConfig", type_name=ORGTOKEN, config=config)
    request = pb.PlanResourceChange.Request(type_name=ORGTOKEN, proposed_new_state=config, config=config)
    plan = server.caller.call_one("PlanResourceChange", request, pb.PlanResourceChange.Response)
    assert not error_messages(plan)
    planned = decode_msgpack(plan.planned_state.msgpack, RESOURCE_TYPE)
    assert isinstance(planned, dict) and planned["name"] == UNKNOWN and planned["description"] == UNKNOWN


@pytest.mark.parametrize(
    ("rpc", "fields", "attribute"),
    [
        ("ReadResource", {"current_state": object_with("expires", msgpack.packb("soon"))}, "expires"),
        ("ReadResource", {"current_state": object_with("admin", msgpack.packb(1))}, "admin"),
        ("PlanResourceChange", {"config": object_with("name", msgpack.packb(5))}, "name"),
        ("PlanResourceChange", {"prior_state": msgpack.packb(["ci", "acme"])}, None),
        (
            "ApplyResourceChange",
            {"planned_state": object_with("org_name", msgpack.packb(["acme"]))},
            "org_name",
        ),
        ("ValidateResourceConfig", {"config": object_with("admin", msgpack.packb("true"))}, "admin"),
    ],
)
def test_mismatched_types_are_errors_on_the_attribute(
    server: Fuzzer, rpc: str, fields: dict[str, bytes], attribute: str | None
) -> None:
    request_fields: dict[str, Any] = {name: dv(raw) for name, raw in fields.items()}
    request = server.caller.rpcs[rpc].request(type_name=ORGTOKEN, **request_fields)
    (response,) = server.caller.call(rpc, request)
    server.tally.requests += 1
    errors = [d for d in cast(Any, response).diagnostics if d.severity == pb.Diagnostic.ERROR]
    assert len(errors) == 1, errors
    if attribute is not None:
        assert [s.attribute_name for s in errors[0].attribute.steps] == [attribute]


def test_conversions_go_cty_allows_are_not_errors(server: Fuzzer) -> None:
    """Numbers as decimal text (msgpack, as go-cty writes big numbers) and, in a stored JSON
    state, "true"/numeric strings where bool/number are due: go-cty converts these, so must we."""
    config = object_with("expires", msgpack.packb("1893456000"))
    assert not call(server, "ValidateResourceConfig", type_name=ORGTOKEN, config=dv(config))
    raw = pb.RawState(json=b'{"name":"ci","org_name":"acme","admin":"true","expires":"1893456000"}')
    request = pb.UpgradeResourceState.Request(type_name=ORGTOKEN, raw_state=raw)
    response = server.caller.call_one("UpgradeResourceState", request, pb.UpgradeResourceState.Response)
    assert not error_messages(response)
    upgraded = decode_msgpack(response.upgraded_state.msgpack, RESOURCE_TYPE)
    assert isinstance(upgraded, dict)
    assert upgraded["admin"] is True and upgraded["expires"] == Decimal(1893456000)


def test_missing_values(server: Fuzzer) -> None:
    """A DynamicValue that is present but empty is an error wherever it is decoded; an apply with
    neither a prior nor a planned state describes no change at all and is an error too."""
    for rpc, fields in decoded_rpcs(b""):  # dv(b"") is a DynamicValue with neither field set
        assert call(server, rpc, type_name=ORGTOKEN, **fields), rpc
    assert call(server, "ConfigureProvider", config=pb.DynamicValue())
    assert call(server, "ApplyResourceChange", type_name=ORGTOKEN)
    null = dv(b"\xc0")
    assert call(server, "ApplyResourceChange", type_name=ORGTOKEN, prior_state=null, planned_state=null)


def test_apply_of_a_create_checks_the_planned_state(server: Fuzzer) -> None:
    """Terraform only applies what the plan produced, but a create must not trust that: a planned
    state with nulls where the plan always puts values is an error, not a crash half-way."""
    for planned in (valid_config(), {name: None for name in RESOURCE_TYPE.attributes}):
        raw = dv(known(planned))
        assert call(server, "ApplyResourceChange", type_name=ORGTOKEN, planned_state=raw, config=raw), planned


# ---------------------------------------------------------------------------------------------
# Totals
# ---------------------------------------------------------------------------------------------


def test_fuzz_totals(record_property: Any) -> None:
    """Runs last: at least 10,000 requests, every target fuzzed, no crash, both servers used."""
    requests = sum(t.requests for t in TALLIES.values())
    errors = sum(t.error_answers for t in TALLIES.values())
    crashes = sum(t.crashes for t in TALLIES.values())
    seconds = sum(t.seconds for t in TALLIES.values())
    summary = (
        f"fuzzed tfplugin6 over gRPC: {requests} requests "
        f"({TALLIES['in-process'].requests} in-process, {TALLIES['plugin process'].requests} to the plugin "
        f"process), {errors} answered with error diagnostics, {crashes} crashes, {seconds:.1f} s in calls"
    )
    print("\n" + summary)
    record_property("fuzz_summary", summary)
    assert crashes == 0
    assert requests >= MIN_REQUESTS, f"{summary}; run the whole file, the fuzzing tests come first"
    assert TALLIES["plugin process"].requests >= 1000, summary
    fuzzed = TALLIES["in-process"].per_target
    starved = [str(t) for t in TARGETS if fuzzed[str(t)] < (50 if t in BULK_TARGETS else 5)]
    assert not starved, f"targets fuzzed too few times: {starved}"
