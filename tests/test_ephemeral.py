"""The ephemeral organization token, without Terraform: validation, open (a uniquely named,
short-lived token per open), renew, close (delete; 404 is fine), the servicer's wiring, and the
emulator accepting the values of the live tokens it issued as credentials."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tfprovider.cloud import ApiError, CancelledError, CreatedToken, NameConflictError, OrgToken, TokenSpec
from tfprovider.cty import UNKNOWN, decode_msgpack, encode_msgpack, is_wholly_known
from tfprovider.diagnostics import Diagnostic, DiagnosticError, Severity
from tfprovider.emulator.app import ApiRequest, EmulatorApp
from tfprovider.emulator.store import Store, TokenRequest
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.provider import Provider
from tfprovider.resources.base import OperationContext
from tfprovider.resources.ephemeral_orgtoken import (
    DEFAULT_DESCRIPTION,
    DEFAULT_EXPIRES_IN,
    DEFAULT_NAME_PREFIX,
    MAX_PREFIX_LENGTH,
    SCHEMA,
    EphemeralOrgTokenResource,
    OpenedToken,
    validate_config,
)
from tfprovider.resources.orgtoken import MAX_EXPIRY_SECONDS, MAX_NAME_LENGTH, TYPE_NAME
from tfprovider.resources.token_lists import TokenLists
from tfprovider.secret import Secret
from tfprovider.server import ProviderServicer

NOW = 1_800_000_000
TYPE = SCHEMA.value_type()
COMPUTED_ONLY = {a.name for a in SCHEMA.block.attributes if a.computed and not a.optional}


def decoded(raw: bytes) -> Any:
    """A resource value from a response (Any: tests index into it freely)."""
    return decode_msgpack(raw, TYPE)


def rpc(servicer: ProviderServicer, name: str, request: Any) -> Any:
    """Call one servicer method as gRPC would (the handlers never use the gRPC context)."""
    return getattr(servicer, name)(request, None)


def config(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = dict.fromkeys(TYPE.attributes)
    value.update(org_name="acme")
    value.update(overrides)
    return value


class FakeClient:
    """Records creates and deletes; ``conflicts`` creates answer 409 before one succeeds."""

    def __init__(self, conflicts: int = 0, delete_error: Exception | None = None) -> None:
        self.created: list[tuple[str, TokenSpec, str | None]] = []
        self.deleted: list[tuple[str, str]] = []
        self.conflicts = conflicts
        self.delete_error = delete_error
        self.live: set[str] = set()

    def create_token(self, org: str, spec: TokenSpec, *, reason: str | None = None) -> CreatedToken:
        if self.conflicts:
            self.conflicts -= 1
            raise NameConflictError("Conflict", "name taken", status=409)
        self.created.append((org, spec, reason))
        token_id = f"t-{len(self.created)}"
        self.live.add(token_id)
        return CreatedToken(id=token_id, value=Secret(f"pul-{len(self.created):040d}"))

    def delete_token(self, org: str, token_id: str) -> bool:
        if self.delete_error is not None:
            raise self.delete_error
        self.deleted.append((org, token_id))
        if token_id in self.live:
            self.live.remove(token_id)
            return True
        return False  # 404: already gone


def context_for(client: FakeClient, stopped: bool = False) -> OperationContext:
    event = threading.Event()
    if stopped:
        event.set()
    lists = TokenLists(lambda org: [])
    return OperationContext(client=lambda: client, tokens=lists, stopped=event)  # type: ignore[arg-type,return-value]


def suffixes(*values: str) -> Any:
    it = iter(values)
    return lambda: next(it)


def error_paths(diags: list[Diagnostic]) -> list[tuple[Any, ...]]:
    return [d.path for d in diags if d.severity is Severity.ERROR]


# --- schema and validation -----------------------------------------------------------------


def test_schema_shape() -> None:
    assert sorted(COMPUTED_ONLY) == ["expires", "name", "token_id", "token_value"]
    assert SCHEMA.sensitive_names == frozenset({"token_value"})
    assert SCHEMA.block.attribute("org_name").required
    assert MAX_PREFIX_LENGTH + 12 == MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"org_name": "a/b"}, ("org_name",)),
        ({"name_prefix": ""}, ("name_prefix",)),
        ({"name_prefix": "x" * (MAX_PREFIX_LENGTH + 1)}, ("name_prefix",)),
        ({"expires_in": Decimal(59)}, ("expires_in",)),
        ({"expires_in": Decimal("3600.5")}, ("expires_in",)),
        ({"expires_in": Decimal(MAX_EXPIRY_SECONDS + 1)}, ("expires_in",)),
    ],
)
def test_invalid_arguments_name_the_attribute(overrides: dict[str, Any], path: tuple[str]) -> None:
    assert error_paths(validate_config(config(**overrides))) == [path]


def test_boundaries_and_unknowns_pass_validation() -> None:
    assert validate_config(config(name_prefix="x" * MAX_PREFIX_LENGTH, expires_in=Decimal(60))) == []
    assert validate_config(config(expires_in=Decimal(MAX_EXPIRY_SECONDS))) == []
    assert validate_config(config(org_name=UNKNOWN, name_prefix=UNKNOWN, expires_in=UNKNOWN)) == []


# --- open ------------------------------------------------------------------------------------


def test_open_creates_a_short_lived_uniquely_named_token_and_returns_its_value() -> None:
    client = FakeClient()
    resource = EphemeralOrgTokenResource(clock=lambda: NOW + 0.7, suffix=suffixes("0123456789ab"))
    opened = resource.open(config(reason="deploy run"), context_for(client))
    assert opened.diagnostics == []
    ((org, spec, reason),) = client.created
    assert org == "acme" and reason == "deploy run"
    assert spec == TokenSpec(
        name=f"{DEFAULT_NAME_PREFIX}0123456789ab",
        description=DEFAULT_DESCRIPTION,
        expires=NOW + DEFAULT_EXPIRES_IN,
        admin=False,
        role_id=None,
    )
    result = opened.result
    assert result is not None and is_wholly_known(result)
    assert result["name"] == spec.name and result["token_id"] == "t-1"
    assert result["token_value"] == f"pul-{1:040d}"
    assert result["expires"] == Decimal(NOW + DEFAULT_EXPIRES_IN)
    assert result["name_prefix"] == DEFAULT_NAME_PREFIX
    assert result["expires_in"] == Decimal(DEFAULT_EXPIRES_IN)
    assert result["reason"] == "deploy run" and result["role_id"] is None


def test_result_keeps_every_configured_value_as_terraform_requires() -> None:
    """Terraform checks an opened result like a planned create: configured values come back
    unchanged and non-computed unset ones stay null."""
    cfg = config(
        name_prefix="ci-",
        description="pipeline",
        admin=True,
        role_id="stack-admin",
        reason="why",
        expires_in=Decimal(120),
    )
    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(cfg, context_for(FakeClient()))
    assert opened.result is not None
    for name, value in cfg.items():
        if name not in COMPUTED_ONLY:
            assert opened.result[name] == value, name
    assert opened.result["expires"] == Decimal(NOW + 120)
    assert re.fullmatch(r"ci-[0-9a-f]{12}", opened.result["name"])


def test_every_open_gets_a_new_name_within_the_length_limit() -> None:
    client = FakeClient()
    resource = EphemeralOrgTokenResource(clock=lambda: NOW)
    prefix = "p" * MAX_PREFIX_LENGTH
    names = set()
    for _ in range(20):
        opened = resource.open(config(name_prefix=prefix), context_for(client))
        assert opened.result is not None
        names.add(opened.result["name"])
    assert len(names) == 20
    assert all(len(name) == MAX_NAME_LENGTH and name.startswith(prefix) for name in names)


def test_a_taken_name_is_retried_with_a_new_suffix() -> None:
    client = FakeClient(conflicts=2)
    resource = EphemeralOrgTokenResource(clock=lambda: NOW, suffix=suffixes("aaa", "bbb", "ccc"))
    opened = resource.open(config(), context_for(client))
    assert opened.diagnostics == []
    assert [spec.name for _, spec, _ in client.created] == [f"{DEFAULT_NAME_PREFIX}ccc"]


def test_names_taken_every_time_end_in_an_error_on_the_prefix() -> None:
    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(config(), context_for(FakeClient(conflicts=3)))
    assert opened.result is None and error_paths(opened.diagnostics) == [("name_prefix",)]


def test_private_data_locates_the_token_and_never_holds_its_value() -> None:
    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(config(), context_for(FakeClient()))
    assert opened.result is not None
    assert opened.result["token_value"].encode() not in opened.private
    assert json.loads(opened.private) == {
        "v": 1,
        "org_name": "acme",
        "token_id": "t-1",
        "name": opened.result["name"],
        "expires": NOW + DEFAULT_EXPIRES_IN,
    }


def test_open_refuses_invalid_config_and_after_stop_without_calling_the_api() -> None:
    client = FakeClient()
    resource = EphemeralOrgTokenResource(clock=lambda: NOW)
    invalid = resource.open(config(expires_in=Decimal(10)), context_for(client))
    assert invalid.result is None and error_paths(invalid.diagnostics) == [("expires_in",)]
    stopped = resource.open(config(), context_for(client, stopped=True))
    assert stopped.result is None and "stop" in stopped.diagnostics[0].detail
    assert client.created == []


def test_open_reports_a_cloud_error() -> None:
    class Failing(FakeClient):
        def create_token(self, org: str, spec: TokenSpec, *, reason: str | None = None) -> CreatedToken:
            raise ApiError("Could not create token", "Pulumi Cloud answered 403.", status=403)

    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(config(), context_for(Failing()))
    assert opened.result is None
    assert [d.summary for d in opened.diagnostics] == ["Could not create token"]


# --- renew and close -------------------------------------------------------------------------


def opened_private(client: FakeClient) -> bytes:
    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(config(), context_for(client))
    return opened.private


def test_renew_needs_nothing() -> None:
    client = FakeClient()
    assert EphemeralOrgTokenResource().renew(opened_private(client), context_for(client)) == []


def test_close_deletes_the_token_and_a_second_close_finds_it_gone() -> None:
    client = FakeClient()
    private = opened_private(client)
    resource = EphemeralOrgTokenResource()
    assert resource.close(private, context_for(client)) == []
    assert resource.close(private, context_for(client)) == []  # 404: already gone, same outcome
    assert client.deleted == [("acme", "t-1"), ("acme", "t-1")] and client.live == set()


@pytest.mark.parametrize(
    "private",
    [b"", b"not json", b'{"v":1}', b'{"v":2,"org_name":"acme","token_id":"t","name":"n","expires":1}'],
)
def test_close_with_foreign_private_data_is_an_error_that_explains_the_expiry(private: bytes) -> None:
    with pytest.raises(DiagnosticError) as failure:
        EphemeralOrgTokenResource().close(private, context_for(FakeClient()))
    assert "expires_in" in failure.value.diagnostics[0].detail


def test_close_that_fails_names_the_token_and_its_expiry() -> None:
    failure = ApiError("Could not delete token", "Pulumi Cloud answered 500.", status=500)
    client = FakeClient(delete_error=failure)
    (diagnostic,) = EphemeralOrgTokenResource().close(opened_private(client), context_for(client))
    assert diagnostic.severity is Severity.ERROR
    assert "t-1" in diagnostic.detail and str(NOW + DEFAULT_EXPIRES_IN) in diagnostic.detail


def test_close_after_stop_is_a_warning_about_the_expiry() -> None:
    client = FakeClient(delete_error=CancelledError("delete token t-1", "nothing was sent"))
    (diagnostic,) = EphemeralOrgTokenResource().close(opened_private(client), context_for(client))
    assert diagnostic.severity is Severity.WARNING
    assert str(NOW + DEFAULT_EXPIRES_IN) in diagnostic.detail


def test_opened_token_private_round_trip() -> None:
    token = OpenedToken("acme", "t-9", "terraform-ephemeral-x", NOW)
    assert OpenedToken.from_private(token.to_private()) == token


# --- the servicer ----------------------------------------------------------------------------


@pytest.fixture
def servicer() -> ProviderServicer:
    return ProviderServicer(Provider(environ={}))


def test_metadata_and_schema_offer_the_ephemeral_resource(servicer: ProviderServicer) -> None:
    meta = rpc(servicer, "GetMetadata", pb.GetMetadata.Request())
    assert [e.type_name for e in meta.ephemeral_resources] == [TYPE_NAME]
    schema = rpc(servicer, "GetProviderSchema", pb.GetProviderSchema.Request())
    assert set(schema.ephemeral_resource_schemas) == {TYPE_NAME}
    attributes = {a.name: a for a in schema.ephemeral_resource_schemas[TYPE_NAME].block.attributes}
    assert set(attributes) == set(TYPE.attributes)
    assert attributes["token_value"].sensitive and attributes["token_value"].computed


def test_servicer_validates_and_refuses_unknown_types(servicer: ProviderServicer) -> None:
    bad = pb.DynamicValue(msgpack=encode_msgpack(config(name_prefix=""), TYPE))
    request = pb.ValidateEphemeralResourceConfig.Request(type_name=TYPE_NAME, config=bad)
    response = rpc(servicer, "ValidateEphemeralResourceConfig", request)
    assert [d.attribute.steps[0].attribute_name for d in response.diagnostics] == ["name_prefix"]
    for name, unknown_type in (
        ("OpenEphemeralResource", pb.OpenEphemeralResource.Request(type_name="nope", config=bad)),
        ("RenewEphemeralResource", pb.RenewEphemeralResource.Request(type_name="nope")),
        ("CloseEphemeralResource", pb.CloseEphemeralResource.Request(type_name="nope")),
    ):
        answer = rpc(servicer, name, unknown_type)
        assert [d.summary for d in answer.diagnostics] == ["Unsupported ephemeral resource type"], name


def test_servicer_open_without_credentials_is_a_clear_error(servicer: ProviderServicer) -> None:
    servicer.provider.configure({"api_url": "http://127.0.0.1:9"}, "1.15.5")
    request = pb.OpenEphemeralResource.Request(
        type_name=TYPE_NAME, config=pb.DynamicValue(msgpack=encode_msgpack(config(), TYPE))
    )
    response = rpc(servicer, "OpenEphemeralResource", request)
    assert [d.summary for d in response.diagnostics] == ["Missing Pulumi Cloud access token"]
    assert not response.HasField("result") and not response.HasField("private")


def test_servicer_open_returns_result_and_private(servicer: ProviderServicer) -> None:
    client = FakeClient()
    servicer.provider.client = lambda: client  # type: ignore[assignment,method-assign,return-value]
    request = pb.OpenEphemeralResource.Request(
        type_name=TYPE_NAME, config=pb.DynamicValue(msgpack=encode_msgpack(config(), TYPE))
    )
    response = rpc(servicer, "OpenEphemeralResource", request)
    assert not response.diagnostics
    result = decoded(response.result.msgpack)
    assert result["token_id"] == "t-1" and not response.HasField("renew_at")
    close_request = pb.CloseEphemeralResource.Request(type_name=TYPE_NAME, private=response.private)
    close = rpc(servicer, "CloseEphemeralResource", close_request)
    assert not close.diagnostics and client.live == set()


# --- the emulator takes a live token's value as a credential ----------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def call(app: EmulatorApp, method: str, path: str, credential: str, body: Any = None) -> tuple[int, Any]:
    request = ApiRequest(
        method,
        path,
        {"authorization": f"token {credential}"},
        json.dumps(body).encode() if body is not None else b"",
    )
    response = app(request)
    return response.status, json.loads(response.body) if response.body else None


def test_emulator_accepts_live_org_tokens_for_their_own_org_only() -> None:
    clock = Clock()
    store = Store(None, orgs=["acme", "other"], clock=clock)
    app = EmulatorApp(store, "admin-token", stats=lambda: {})
    forever = store.create_token("acme", TokenRequest(name="forever")).token_value
    brief = store.create_token("acme", TokenRequest(name="brief", expires=NOW + 60)).token_value

    status, made = call(app, "POST", "/api/orgs/acme/tokens", forever, {"name": "made-with-org-token"})
    assert status == 200
    assert call(app, "GET", "/api/orgs/acme/tokens", brief)[0] == 200
    assert call(app, "GET", "/api/orgs/other/tokens", forever)[0] == 403
    assert call(app, "GET", "/api/emulator/stats", forever)[0] == 403
    assert call(app, "GET", "/api/orgs/acme/tokens", forever + "x")[0] == 401
    assert call(app, "DELETE", f"/api/orgs/acme/tokens/{made['id']}", forever)[0] == 204
    assert call(app, "GET", "/api/orgs/acme/tokens", made["tokenValue"])[0] == 401  # deleted

    clock.now = NOW + 61
    assert call(app, "GET", "/api/orgs/acme/tokens", brief)[0] == 401  # expired
    assert call(app, "GET", "/api/orgs/acme/tokens", forever)[0] == 200
    assert call(app, "GET", "/api/emulator/stats", "admin-token")[0] == 200
    store.close()


def test_emulator_records_issued_values_only_when_asked(tmp_path: Any) -> None:
    record = tmp_path / "issued.txt"
    store = Store(None, orgs=["acme"], issued_values_path=str(record))
    values = [store.create_token("acme", TokenRequest(name=f"t{i}")).token_value for i in range(3)]
    assert record.read_text().splitlines() == values
    plain = Store(None, orgs=["acme"])
    plain.create_token("acme", TokenRequest(name="t"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issued.txt"]
    store.close()
    plain.close()


def test_opened_token_is_listed_by_this_process() -> None:
    """The token lists of the provider process learn of the token, as they do for a resource's."""
    client = FakeClient()
    ctx = context_for(client)
    ctx.tokens.tokens("acme")  # a cached, empty list
    opened = EphemeralOrgTokenResource(clock=lambda: NOW).open(config(), ctx)
    assert opened.result is not None
    listed = ctx.tokens.find("acme", "t-1")
    assert isinstance(listed, OrgToken) and listed.name == opened.result["name"]
    EphemeralOrgTokenResource().close(opened.private, ctx)
    assert ctx.tokens.find("acme", "t-1") is None


# --- the documentation lists exactly this schema --------------------------------------------


def test_resource_page_documents_every_ephemeral_attribute_as_the_schema_says() -> None:
    """The ephemeral arguments and results on the resource page are the schema's own lines (as
    docs/generate.py writes attribute lines), so a changed description cannot go unnoticed."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("docs_generate_ephemeral", root / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generator
    spec.loader.exec_module(generator)
    page = (root / "docs" / "resources" / "api_tokens_orgtoken.md").read_text()
    ephemeral = page[page.index("## Ephemeral resource") :]
    for attribute in SCHEMA.block.attributes:
        assert generator.attribute_line(attribute) in ephemeral, attribute.name
    documented = re.findall(r"^- `([a-z_]+)` \(", ephemeral, flags=re.MULTILINE)
    assert sorted(documented) == sorted(TYPE.attributes)
