"""Resource identity (Terraform 1.12+) and generated configuration for the organization token.

The servicer is called directly (no sockets for gRPC) with a provider configured against an
in-process emulator, so every RPC is checked exactly as Terraform would see its answer: which
identity travels with which state, import by identity, identity upgrades, and configuration
generated from an imported state — by this provider's GenerateResourceConfig and by Terraform's
own fallback — planning no change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tfprovider.cty import UNKNOWN, decode_msgpack, encode_msgpack, type_from_json_bytes
from tfprovider.emulator.app import EmulatorApp, EmulatorServer
from tfprovider.emulator.store import Store, TokenRequest
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.provider import Provider
from tfprovider.resources.base import PlanRequest
from tfprovider.resources.orgtoken import IDENTITY_SCHEMA, SCHEMA, TYPE_NAME, OrgTokenResource
from tfprovider.server import ProviderServicer

ACCESS_TOKEN = "pul-identity-test-access-token"
TYPE = SCHEMA.value_type()
IDENTITY_TYPE = IDENTITY_SCHEMA.value_type()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(None, orgs=["acme"])
    yield store
    store.close()


@pytest.fixture
def api_url(store: Store) -> Iterator[str]:
    server = EmulatorServer("127.0.0.1", 0, EmulatorApp(store, ACCESS_TOKEN))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.url
    server.shutdown()
    server.server_close()


@pytest.fixture
def servicer(api_url: str) -> Iterator[ProviderServicer]:
    provider = Provider(environ={"PULUMI_ACCESS_TOKEN": ACCESS_TOKEN, "PULUMI_BACKEND_URL": api_url})
    assert provider.configure({}, "1.15.5") == []
    yield ProviderServicer(provider)
    provider.close()


def decoded(raw: bytes) -> Any:
    """A resource value from a response (Any: tests index into it freely)."""
    return decode_msgpack(raw, TYPE)


def rpc(servicer: ProviderServicer, name: str, request: Any) -> Any:
    """Call one servicer method as gRPC would (the handlers never use the gRPC context)."""
    return getattr(servicer, name)(request, None)


def dv(value: Any, ty: Any = TYPE) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode_msgpack(value, ty))


def identity_message(value: Any) -> pb.ResourceIdentityData:
    return pb.ResourceIdentityData(identity_data=dv(value, IDENTITY_TYPE))


def identity_of(message: pb.ResourceIdentityData) -> Any:
    return decode_msgpack(message.identity_data.msgpack, IDENTITY_TYPE)


def errors(response: Any) -> list[str]:
    return [f"{d.summary}: {d.detail}" for d in response.diagnostics if d.severity == pb.Diagnostic.ERROR]


def config(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = dict.fromkeys(TYPE.attributes)
    value.update(name="ci", org_name="acme")
    value.update(overrides)
    return value


def state(**overrides: Any) -> dict[str, Any]:
    return config(
        admin=False, description="", expires=Decimal(0), id="acme/t-1", token_id="t-1", token_value="pul-x"
    ) | overrides


def make_token(store: Store, name: str = "by-hand", **fields: Any) -> str:
    return store.create_token("acme", TokenRequest(name=name, **fields)).id


# --- the identity schema ---------------------------------------------------------------------


def test_identity_schema_names_org_and_token_id_both_required_for_import(servicer: ProviderServicer) -> None:
    response = rpc(servicer, "GetResourceIdentitySchemas", pb.GetResourceIdentitySchemas.Request())
    assert not errors(response)
    assert set(response.identity_schemas) == {TYPE_NAME}
    schema = response.identity_schemas[TYPE_NAME]
    assert schema.version == 0
    assert [a.name for a in schema.identity_attributes] == ["org_name", "token_id"]
    for attribute in schema.identity_attributes:
        assert str(type_from_json_bytes(attribute.type)) == "string"
        assert attribute.required_for_import and not attribute.optional_for_import
        assert attribute.description


def test_identity_is_derived_from_a_state_once_the_token_exists() -> None:
    resource = OrgTokenResource()
    assert resource.identity(state()) == {"org_name": "acme", "token_id": "t-1"}
    assert resource.identity(config(token_id=UNKNOWN)) is None
    assert resource.identity(config()) is None


# --- identity on every state the provider returns ----------------------------------------------


def plan(servicer: ProviderServicer, prior: Any, proposed: Any, cfg: Any) -> pb.PlanResourceChange.Response:
    request = pb.PlanResourceChange.Request(
        type_name=TYPE_NAME, prior_state=dv(prior), proposed_new_state=dv(proposed), config=dv(cfg)
    )
    response: pb.PlanResourceChange.Response = rpc(servicer, "PlanResourceChange", request)
    return response


def test_plan_of_a_create_has_no_identity_yet(servicer: ProviderServicer) -> None:
    response = plan(servicer, None, config(), config())
    assert not errors(response)
    assert not response.HasField("planned_identity")


def test_plan_of_an_in_place_update_keeps_the_prior_identity(servicer: ProviderServicer) -> None:
    prior = state()
    response = plan(servicer, prior, prior | {"reason": "audit"}, config(reason="audit"))
    assert not errors(response) and not response.requires_replace
    assert identity_of(response.planned_identity) == {"org_name": "acme", "token_id": "t-1"}


def test_plan_of_a_replacement_or_destroy_has_no_identity(servicer: ProviderServicer) -> None:
    prior = state()
    replace = plan(servicer, prior, prior | {"name": "ci-v2"}, config(name="ci-v2"))
    assert replace.requires_replace and not replace.HasField("planned_identity")
    destroy = plan(servicer, prior, None, None)
    assert not errors(destroy) and not destroy.HasField("planned_identity")


def test_apply_create_returns_the_new_identity_and_destroy_none(
    servicer: ProviderServicer, store: Store
) -> None:
    planned = plan(servicer, None, config(), config())
    request = pb.ApplyResourceChange.Request(
        type_name=TYPE_NAME, prior_state=dv(None), planned_state=planned.planned_state, config=dv(config())
    )
    created = rpc(servicer, "ApplyResourceChange", request)
    assert not errors(created)
    new_state = decoded(created.new_state.msgpack)
    (live,) = store.list_tokens("acme").tokens
    assert identity_of(created.new_identity) == {"org_name": "acme", "token_id": live.id}
    assert new_state["token_id"] == live.id

    destroyed = rpc(
        servicer,
        "ApplyResourceChange",
        pb.ApplyResourceChange.Request(
            type_name=TYPE_NAME,
            prior_state=created.new_state,
            planned_state=dv(None),
            config=dv(None),
            planned_identity=created.new_identity,
        ),
    )
    assert not errors(destroyed)
    assert decoded(destroyed.new_state.msgpack) is None
    assert not destroyed.HasField("new_identity")


def test_read_returns_the_identity_of_a_live_token_and_none_of_a_deleted_one(
    servicer: ProviderServicer, store: Store
) -> None:
    token_id = make_token(store)
    current = state(name="by-hand", id=f"acme/{token_id}", token_id=token_id)
    request = pb.ReadResource.Request(type_name=TYPE_NAME, current_state=dv(current))
    read = rpc(servicer, "ReadResource", request)
    assert not errors(read)
    assert identity_of(read.new_identity) == {"org_name": "acme", "token_id": token_id}

    store.delete_token("acme", token_id)  # out of band: this process's cached list must not hide it
    servicer.provider.token_lists.invalidate("acme")
    gone = rpc(servicer, "ReadResource", request)
    assert not errors(gone)
    assert decoded(gone.new_state.msgpack) is None
    assert not gone.HasField("new_identity")


# --- import by identity ----------------------------------------------------------------------


def import_request(**fields: Any) -> pb.ImportResourceState.Request:
    return pb.ImportResourceState.Request(type_name=TYPE_NAME, **fields)


def test_import_by_identity_returns_state_and_identity(servicer: ProviderServicer, store: Store) -> None:
    token_id = make_token(store, "team/deployer", description="made by hand", admin=True)
    identity = {"org_name": "acme", "token_id": token_id}
    response = rpc(servicer, "ImportResourceState", import_request(identity=identity_message(identity)))
    assert not errors(response)
    (imported,) = response.imported_resources
    assert imported.type_name == TYPE_NAME
    assert identity_of(imported.identity) == identity
    values = decoded(imported.state.msgpack)
    assert values["id"] == f"acme/{token_id}" and values["name"] == "team/deployer"
    assert values["admin"] is True and values["token_value"] is None and values["reason"] is None


def test_import_by_id_returns_the_identity_too(servicer: ProviderServicer, store: Store) -> None:
    token_id = make_token(store)
    response = rpc(servicer, "ImportResourceState", import_request(id=f"acme/{token_id}"))
    (imported,) = response.imported_resources
    assert identity_of(imported.identity) == {"org_name": "acme", "token_id": token_id}


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"org_name": "acme", "token_id": "00000000-dead-beef"}, "Token not found"),
        ({"org_name": "acme", "token_id": None}, "needs `token_id`"),
        ({"org_name": "", "token_id": "t"}, "needs `org_name`"),
        ({"org_name": "ac/me", "token_id": "t"}, "contains a slash"),
        ({"org_name": "acme", "token_id": "a/b"}, "holds a slash"),
        ({"org_name": "acme", "token_id": UNKNOWN}, "unknown values"),
    ],
)
def test_bad_import_identities_are_errors_that_say_what_to_fix(
    servicer: ProviderServicer, identity: dict[str, Any], message: str
) -> None:
    response = rpc(servicer, "ImportResourceState", import_request(identity=identity_message(identity)))
    assert not response.imported_resources
    assert any(message in text for text in errors(response)), errors(response)


def test_undecodable_import_identity_is_an_error(servicer: ProviderServicer) -> None:
    garbage = pb.ResourceIdentityData(identity_data=pb.DynamicValue(msgpack=b"\x92\x01"))
    response = rpc(servicer, "ImportResourceState", import_request(identity=garbage))
    assert errors(response) and not response.imported_resources


# --- identity upgrades -----------------------------------------------------------------------


def upgrade(servicer: ProviderServicer, version: int, raw: bytes, type_name: str = TYPE_NAME) -> Any:
    request = pb.UpgradeResourceIdentity.Request(
        type_name=type_name, version=version, raw_identity=pb.RawState(json=raw)
    )
    return rpc(servicer, "UpgradeResourceIdentity", request)


def test_upgrade_identity_version_0_returns_it_decoded(servicer: ProviderServicer) -> None:
    response = upgrade(servicer, 0, b'{"org_name":"acme","token_id":"t-1"}')
    assert not errors(response)
    assert identity_of(response.upgraded_identity) == {"org_name": "acme", "token_id": "t-1"}


@pytest.mark.parametrize(
    ("version", "raw", "message"),
    [
        (1, b'{"org_name":"acme","token_id":"t-1"}', "newer provider"),
        (-1, b'{"org_name":"acme","token_id":"t-1"}', "Unknown identity version"),
        (0, b'{"org_name":"acme","token_id":', "Invalid"),
        (0, b'{"org_name":["acme"],"token_id":"t"}', "Invalid"),
        (0, b"", "Invalid stored identity"),
    ],
)
def test_upgrade_identity_refuses_other_versions_and_bad_json(
    servicer: ProviderServicer, version: int, raw: bytes, message: str
) -> None:
    response = upgrade(servicer, version, raw)
    assert any(message in text for text in errors(response)), errors(response)
    assert not response.HasField("upgraded_identity")


def test_upgrade_identity_of_an_unknown_type_is_an_error(servicer: ProviderServicer) -> None:
    assert errors(upgrade(servicer, 0, b"{}", type_name="pulumiservice_nope"))


# --- generated configuration plans no change -------------------------------------------------


IMPORTED_STATES = [
    state(),
    state(description="made by hand", admin=True, expires=Decimal(1_900_000_000), role_id="stack-admin"),
    state(name="123", description="true"),  # JSON-looking strings stay strings
]


def proposed_new(prior: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """What Terraform proposes for a flat schema: config values, and prior values where a computed
    attribute is null in the configuration (plans/objchange ProposedNew)."""
    proposed = {}
    for attribute in SCHEMA.block.attributes:
        value = cfg[attribute.name]
        proposed[attribute.name] = prior[attribute.name] if attribute.computed and value is None else value
    return proposed


def legacy_generated_config(imported: dict[str, Any]) -> dict[str, Any]:
    """Terraform's fallback when a provider does not offer GenerateResourceConfig
    (genconfig.ExtractLegacyConfigFromState): computed-only and deprecated attributes dropped,
    an optional+computed `id` dropped, an empty string in an optional attribute taken as null."""
    result = {}
    for attribute in SCHEMA.block.attributes:
        value = imported[attribute.name]
        read_only = attribute.deprecated or (attribute.computed and not attribute.optional)
        legacy_id = attribute.name == "id" and attribute.computed and attribute.optional
        empty_optional = value == "" and attribute.optional
        result[attribute.name] = None if read_only or legacy_id or empty_optional else value
    return result


def provider_generated_config(servicer: ProviderServicer, imported: dict[str, Any]) -> dict[str, Any]:
    request = pb.GenerateResourceConfig.Request(type_name=TYPE_NAME, state=dv(imported))
    response = rpc(servicer, "GenerateResourceConfig", request)
    assert not errors(response)
    generated: dict[str, Any] = decoded(response.config.msgpack)
    return generated


@pytest.mark.parametrize("imported", IMPORTED_STATES, ids=["defaults", "everything-set", "json-like"])
@pytest.mark.parametrize("generator", ["provider", "terraform-fallback"])
def test_generated_config_plans_no_change(
    servicer: ProviderServicer, imported: dict[str, Any], generator: str
) -> None:
    imported = imported | {"reason": None, "token_value": None}  # as an import leaves them
    if generator == "provider":
        generated = provider_generated_config(servicer, imported)
    else:
        generated = legacy_generated_config(imported)
    for attribute in ("id", "token_id", "token_value"):
        assert generated[attribute] is None, f"{attribute} is not configuration"
    result = OrgTokenResource().plan(
        PlanRequest(prior=imported, proposed=proposed_new(imported, generated), config=generated)
    )
    assert result.diagnostics == [] and result.requires_replace == []
    assert result.planned == imported


def test_provider_generated_config_leaves_out_defaults_and_keeps_the_rest(servicer: ProviderServicer) -> None:
    plain = provider_generated_config(servicer, state())
    assert plain == config(name="ci", org_name="acme")  # admin, description, expires at their defaults
    full = provider_generated_config(servicer, IMPORTED_STATES[1])
    assert full["description"] == "made by hand" and full["admin"] is True
    assert full["expires"] == Decimal(1_900_000_000) and full["role_id"] == "stack-admin"


def test_schema_advertises_generate_resource_config(servicer: ProviderServicer) -> None:
    """Terraform 1.14+ calls GenerateResourceConfig only when this capability is set."""
    response = rpc(servicer, "GetProviderSchema", pb.GetProviderSchema.Request())
    assert response.server_capabilities.generate_resource_config


def test_generate_config_refuses_a_state_with_unknowns(servicer: ProviderServicer) -> None:
    request = pb.GenerateResourceConfig.Request(type_name=TYPE_NAME, state=dv(state(token_id=UNKNOWN)))
    response = rpc(servicer, "GenerateResourceConfig", request)
    assert errors(response)


def test_resource_page_documents_the_identity_attributes() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "resources" / "api_tokens_orgtoken.md").read_text()
    section = page[page.index("### Import by identity") : page.index("### Generated configuration")]
    for attribute in IDENTITY_SCHEMA.attributes:
        assert f"- `{attribute.name}` (String) {attribute.description}" in section
    assert "identity = {" in section
