"""Resource logic of pulumiservice_api_tokens_orgtoken, without gRPC: validation, plan, apply,
read and import against an in-memory stand-in for the API client."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from tfprovider.cloud import CreatedToken, OrgToken, TokenSpec
from tfprovider.cty import UNKNOWN, Unknown
from tfprovider.diagnostics import DiagnosticError, Severity
from tfprovider.resources.base import ApplyRequest, OperationContext, PlanRequest, ReadRequest
from tfprovider.resources.orgtoken import OrgTokenResource, parse_import_id, validate_config
from tfprovider.resources.token_lists import TokenLists
from tfprovider.secret import Secret

NOW = 1_800_000_000


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "ci",
        "org_name": "acme",
        "admin": None,
        "description": None,
        "expires": None,
        "reason": None,
        "role_id": None,
        "id": None,
        "token_id": None,
        "token_value": None,
    }
    base.update(overrides)
    return base


def state(**overrides: Any) -> dict[str, Any]:
    base = config(
        admin=False,
        description="",
        expires=Decimal(0),
        id="acme/t-1",
        token_id="t-1",
        token_value="pul-secret",
    )
    base.update(overrides)
    return base


class FakeClient:
    def __init__(self) -> None:
        self.tokens: dict[str, list[OrgToken]] = {"acme": []}
        self.created: list[tuple[str, TokenSpec, str | None]] = []
        self.deleted: list[tuple[str, str]] = []

    def create_token(self, org: str, spec: TokenSpec, *, reason: str | None) -> CreatedToken:
        self.created.append((org, spec, reason))
        token_id = f"t-{len(self.created)}"
        self.tokens.setdefault(org, []).append(OrgToken.created_from(token_id, spec))
        return CreatedToken(id=token_id, value=Secret("pul-" + "a" * 40))

    def list_tokens(self, org: str, *, filter: str = "all") -> list[OrgToken]:
        return list(self.tokens.get(org, []))

    def delete_token(self, org: str, token_id: str) -> bool:
        self.deleted.append((org, token_id))
        before = len(self.tokens.get(org, []))
        self.tokens[org] = [t for t in self.tokens.get(org, []) if t.id != token_id]
        return len(self.tokens[org]) < before


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def context(client: FakeClient) -> OperationContext:
    lists = TokenLists(lambda org: client.list_tokens(org))
    return OperationContext(client=lambda: client, tokens=lists, stopped=threading.Event())  # type: ignore[arg-type,return-value]


resource = OrgTokenResource(clock=lambda: NOW)


def error_paths(diags: list[Any]) -> list[tuple[Any, ...]]:
    return [d.path for d in diags if d.severity is Severity.ERROR]


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"name": ""}, ("name",)),
        ({"name": "x" * 41}, ("name",)),
        ({"org_name": ""}, ("org_name",)),
        ({"org_name": "a/b"}, ("org_name",)),
        ({"expires": Decimal(-1)}, ("expires",)),
        ({"expires": Decimal("1.5")}, ("expires",)),
    ],
)
def test_invalid_config_names_the_attribute(overrides: dict[str, Any], path: tuple[str]) -> None:
    assert error_paths(validate_config(config(**overrides))) == [path]


def test_valid_and_unknown_values_pass_validation() -> None:
    assert validate_config(config(name="x" * 40, expires=Decimal(NOW + 60))) == []
    assert validate_config(config(name=UNKNOWN, org_name=UNKNOWN, expires=UNKNOWN)) == []


# -- plan ---------------------------------------------------------------------------------------


def test_create_plans_defaults_and_unknown_computed_attributes() -> None:
    plan = resource.plan(PlanRequest(prior=None, proposed=config(), config=config()))
    assert plan.diagnostics == []
    assert plan.planned is not None
    assert plan.planned["admin"] is False
    assert plan.planned["expires"] == Decimal(0)
    assert plan.planned["description"] == ""
    for attr in ("id", "token_id", "token_value"):
        assert isinstance(plan.planned[attr], Unknown)


@pytest.mark.parametrize("expires", [NOW - 10, NOW + 3 * 365 * 86400])
def test_create_refuses_expiry_in_the_past_or_beyond_two_years(expires: int) -> None:
    cfg = config(expires=Decimal(expires))
    plan = resource.plan(PlanRequest(prior=None, proposed=cfg, config=cfg))
    assert error_paths(plan.diagnostics) == [("expires",)]


def test_unchanged_token_plans_no_replacement_even_after_its_expiry_passed() -> None:
    prior = state(expires=Decimal(NOW - 100))
    cfg = config(expires=Decimal(NOW - 100))
    proposed = dict(prior)
    plan = resource.plan(PlanRequest(prior=prior, proposed=proposed, config=cfg))
    assert plan.diagnostics == [] and plan.requires_replace == []
    assert plan.planned == prior


def test_reason_alone_changes_in_place() -> None:
    prior = state()
    cfg = config(reason="rotated for audit")
    proposed = dict(prior, reason="rotated for audit")
    plan = resource.plan(PlanRequest(prior=prior, proposed=proposed, config=cfg))
    assert plan.requires_replace == [] and plan.diagnostics == []
    assert plan.planned is not None and plan.planned["token_value"] == "pul-secret"


def test_replacement_keeping_the_name_is_refused_on_name() -> None:
    prior = state()
    cfg = config(description="new words")
    proposed = dict(prior, description="new words")
    plan = resource.plan(PlanRequest(prior=prior, proposed=proposed, config=cfg))
    assert error_paths(plan.diagnostics) == [("name",)]
    assert "never reuses" in plan.diagnostics[0].detail
    assert ("description",) in plan.requires_replace


def test_replacement_with_a_new_name_is_planned() -> None:
    prior = state()
    cfg = config(description="new words", name="ci-v2")
    proposed = dict(prior, description="new words", name="ci-v2")
    plan = resource.plan(PlanRequest(prior=prior, proposed=proposed, config=cfg))
    assert plan.diagnostics == []
    assert sorted(plan.requires_replace) == [("description",), ("name",)]
    assert plan.planned is not None and isinstance(plan.planned["token_value"], Unknown)


def test_removing_admin_from_config_plans_the_default_and_a_replacement() -> None:
    prior = state(admin=True)
    proposed = dict(prior)  # Terraform proposes the prior value for a null optional+computed
    cfg = config(name="ci-v2")
    proposed["name"] = "ci-v2"
    plan = resource.plan(PlanRequest(prior=prior, proposed=proposed, config=cfg))
    assert plan.planned is not None and plan.planned["admin"] is False
    assert ("admin",) in plan.requires_replace


def test_destroy_plans_null() -> None:
    plan = resource.plan(PlanRequest(prior=state(), proposed=None, config=None))
    assert plan.planned is None and plan.diagnostics == []


# -- apply, read, import ------------------------------------------------------------------------


def test_create_sends_every_argument_and_records_the_value(
    client: FakeClient, context: OperationContext
) -> None:
    planned = resource.plan(
        PlanRequest(
            prior=None,
            proposed=config(admin=True, role_id="r1", reason="why"),
            config=config(admin=True, role_id="r1", reason="why"),
        )
    ).planned
    result = resource.apply(ApplyRequest(prior=None, planned=planned, config=None), context)
    assert result.diagnostics == []
    assert client.created == [("acme", TokenSpec("ci", "", 0, True, "r1"), "why")]
    assert result.new_state is not None
    assert result.new_state["id"] == "acme/t-1"
    assert result.new_state["token_value"] == "pul-" + "a" * 40


def test_reason_update_calls_no_api(client: FakeClient, context: OperationContext) -> None:
    prior = state()
    planned = dict(prior, reason="new reason")
    result = resource.apply(ApplyRequest(prior=prior, planned=planned, config=None), context)
    assert result.new_state == planned
    assert client.created == [] and client.deleted == []


def test_destroy_deletes(client: FakeClient, context: OperationContext) -> None:
    result = resource.apply(ApplyRequest(prior=state(), planned=None, config=None), context)
    assert result.new_state is None and client.deleted == [("acme", "t-1")]


def test_read_refreshes_from_the_service_and_keeps_value_and_reason(
    client: FakeClient, context: OperationContext
) -> None:
    client.create_token("acme", TokenSpec("renamed", "changed", 0, True, None), reason=None)
    current = state(reason="kept")
    result = resource.read(ReadRequest(current), context)
    assert result.new_state is not None
    assert result.new_state["name"] == "renamed"
    assert result.new_state["description"] == "changed"
    assert result.new_state["admin"] is True
    assert result.new_state["token_value"] == "pul-secret"
    assert result.new_state["reason"] == "kept"


def test_read_of_a_deleted_token_is_null(context: OperationContext) -> None:
    assert resource.read(ReadRequest(state()), context).new_state is None


def test_read_of_an_expired_token_keeps_it_with_a_warning(
    client: FakeClient, context: OperationContext
) -> None:
    client.create_token("acme", TokenSpec("ci", "", NOW - 5, False, None), reason=None)
    result = resource.read(ReadRequest(state(expires=Decimal(NOW - 5))), context)
    assert result.new_state is not None
    assert [d.severity for d in result.diagnostics] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("raw", "org", "name", "token_id"),
    [
        ("acme/t-1", "acme", None, "t-1"),
        ("acme/ci/t-1", "acme", "ci", "t-1"),
        ("acme/team/ci/t-1", "acme", "team/ci", "t-1"),
    ],
)
def test_import_ids(raw: str, org: str, name: str | None, token_id: str) -> None:
    parsed = parse_import_id(raw)
    assert (parsed.org_name, parsed.name, parsed.token_id) == (org, name, token_id)


@pytest.mark.parametrize("raw", ["acme", "/t-1", "acme/", "acme//t-1", ""])
def test_bad_import_ids_say_the_expected_form(raw: str) -> None:
    with pytest.raises(DiagnosticError) as info:
        parse_import_id(raw)
    assert "ORG/TOKEN_ID" in info.value.diagnostics[0].detail


def test_import_fills_state_but_not_the_value(client: FakeClient, context: OperationContext) -> None:
    client.create_token("acme", TokenSpec("ci", "d", 0, False, None), reason=None)
    result = resource.import_state("acme/ci/t-1", context)
    assert result.diagnostics == []
    (imported,) = result.states
    assert imported["id"] == "acme/t-1" and imported["token_value"] is None
    assert (
        resource.import_state("acme/other/t-1", context).diagnostics[0].summary == "Token name does not match"
    )
    assert resource.import_state("acme/t-9", context).diagnostics[0].summary == "Token not found"


def test_create_of_a_name_a_listed_token_holds_is_refused_on_name(client: FakeClient) -> None:
    client.create_token("acme", TokenSpec("ci", "", 0, False, None), reason=None)
    lists = TokenLists(lambda org: client.list_tokens(org))
    assert lists.cached("acme") is None  # never fetched: nothing to say, and nothing fetched
    request = PlanRequest(prior=None, proposed=config(), config=config(), known_tokens=lists.cached)
    assert resource.plan(request).diagnostics == []
    lists.tokens("acme")  # as a refresh in the same process would
    diags = resource.plan(request).diagnostics
    assert error_paths(diags) == [("name",)] and "acme/t-1" in diags[0].detail
    other = config(name="ci-v2")
    ok = PlanRequest(prior=None, proposed=other, config=other, known_tokens=lists.cached)
    assert resource.plan(ok).diagnostics == []
