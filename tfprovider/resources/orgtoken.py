"""``pulumiservice_api_tokens_orgtoken``: a Pulumi Cloud organization access token.

Pulumi Cloud can create, list and delete organization tokens, nothing more: there is no update
and no single-token read. That shapes everything here:

* every argument the service stores is replace-only; only ``reason`` (a note on the creation's
  audit entry, never read back) changes in place, without an API call;
* a token name is never reusable in an organization, even after deletion, so a replacement
  that keeps the name is refused at plan time — otherwise Terraform would destroy a working
  credential for a create that must fail with 409;
* the token value exists only in the create answer, so it is kept from state on every read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from tfprovider.cty import BOOL, NUMBER, STRING, UNKNOWN, is_known
from tfprovider.diagnostics import Diagnostic, DiagnosticError, PathStep, error, warning
from tfprovider.resources.base import (
    ApplyRequest,
    ApplyResult,
    ImportResult,
    ObjectValue,
    OperationContext,
    PlanRequest,
    PlanResult,
    ReadRequest,
    ReadResult,
)
from tfprovider.schema import Attribute, Block, IdentityAttribute, IdentitySchema, Schema

if TYPE_CHECKING:
    from tfprovider.cloud import CloudError, OrgToken

TYPE_NAME = "pulumiservice_api_tokens_orgtoken"
MAX_NAME_LENGTH = 40
MAX_EXPIRY_SECONDS = 2 * 365 * 24 * 60 * 60
"""Pulumi Cloud accepts an expiry at most two years ahead."""
MAX_INT64 = 2**63 - 1

REPLACE_ATTRIBUTES = ("admin", "description", "expires", "name", "org_name", "role_id")
"""Everything Pulumi Cloud stores: with no update endpoint, any change means a new token."""
COMPUTED_ATTRIBUTES = ("id", "token_id", "token_value")
DEFAULTS: dict[str, Any] = {"admin": False, "description": "", "expires": Decimal(0)}
"""Applied at plan time so that state holds what the service holds, never null."""

SCHEMA = Schema(
    version=0,
    block=Block(
        description=(
            "An access token for a Pulumi Cloud organization, for CI/CD and automation. "
            "Pulumi Cloud cannot update a token: changing any argument except `reason` "
            "replaces it, and a replacement needs a new `name` because token names are never "
            "reusable, even after deletion."
        ),
        attributes=(
            Attribute(
                "name",
                STRING,
                "The token's name, unique in the organization (at most 40 characters). Pulumi "
                "Cloud never reuses a name, even after the token is deleted, so a replacement "
                "needs a new name.",
                required=True,
            ),
            Attribute(
                "org_name",
                STRING,
                "The Pulumi Cloud organization that owns the token. Changing it replaces the token.",
                required=True,
            ),
            Attribute(
                "admin",
                BOOL,
                "Whether the token has admin rights in the organization. Defaults to `false`. "
                "Changing it replaces the token.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "description",
                STRING,
                "A free-form description shown in Pulumi Cloud. Defaults to an empty string. "
                "Changing it replaces the token.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "expires",
                NUMBER,
                "When the token expires, in unix seconds; `0` (the default) means never. It must "
                "be in the future and at most two years ahead when the token is created. "
                "Changing it replaces the token.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "reason",
                STRING,
                "A note recorded in the organization's audit log with the token's creation. "
                "Pulumi Cloud never returns it, so changing it only updates Terraform's state.",
                optional=True,
            ),
            Attribute(
                "role_id",
                STRING,
                "The ID of a custom role to scope the token to, instead of the default "
                "organization token permissions. Changing it replaces the token.",
                optional=True,
            ),
            Attribute(
                "id",
                STRING,
                "The resource ID, `ORG/TOKEN_ID`. Import also accepts `ORG/NAME/TOKEN_ID`.",
                computed=True,
            ),
            Attribute("token_id", STRING, "The token's ID in Pulumi Cloud.", computed=True),
            Attribute(
                "token_value",
                STRING,
                "The secret token value. Pulumi Cloud reveals it only when the token is created, "
                "so it is null for an imported token.",
                computed=True,
                sensitive=True,
            ),
        ),
    ),
)


IDENTITY_SCHEMA = IdentitySchema(
    version=0,
    attributes=(
        IdentityAttribute(
            "org_name",
            STRING,
            "The Pulumi Cloud organization that owns the token.",
            required_for_import=True,
        ),
        IdentityAttribute(
            "token_id",
            STRING,
            "The token's ID in Pulumi Cloud, shown under Settings → Access Tokens.",
            required_for_import=True,
        ),
    ),
)
"""A token is named on its own by its organization and ID: the same pair as the import ID
``ORG/TOKEN_ID``, as structured data for `import` blocks with `identity` (Terraform 1.12+)."""


def _is_set(value: object) -> bool:
    """Known and not null: a value we can check now."""
    return value is not None and is_known(value)


def validate_config(config: ObjectValue) -> list[Diagnostic]:
    """Checks that hold whatever the prior state is. Unknown values are checked once known."""
    diagnostics: list[Diagnostic] = []
    name = config.get("name")
    if _is_set(name):
        assert isinstance(name, str)
        if not name:
            diagnostics.append(
                error("Invalid token name", "`name` must not be empty: give the token a name.", "name")
            )
        elif len(name) > MAX_NAME_LENGTH:
            diagnostics.append(
                error(
                    "Invalid token name",
                    f"`name` is {len(name)} characters long; Pulumi Cloud allows at most "
                    f"{MAX_NAME_LENGTH}. Choose a shorter name.",
                    "name",
                )
            )
    diagnostics += org_name_problems(config.get("org_name"))
    expires = config.get("expires")
    if _is_set(expires):
        assert isinstance(expires, Decimal)
        if expires < 0:
            diagnostics.append(
                error(
                    "Invalid expiry",
                    f"`expires` is {expires}; it must be a unix time in seconds, or 0 for a "
                    "token that never expires.",
                    "expires",
                )
            )
        elif expires != expires.to_integral_value():
            diagnostics.append(
                error(
                    "Invalid expiry",
                    f"`expires` is {expires}; it must be a whole number of seconds since the "
                    "unix epoch (for example 1767225600), or 0 for never.",
                    "expires",
                )
            )
        elif expires > MAX_INT64:
            diagnostics.append(
                error("Invalid expiry", f"`expires` is {expires}, far beyond any valid time.", "expires")
            )
    return diagnostics


def org_name_problems(org: object, *path: PathStep) -> list[Diagnostic]:
    """Why ``org`` cannot be a Pulumi Cloud organization name (none while unknown or null).

    ``path`` is where the value sits; it defaults to the attribute ``org_name``."""
    where = path or ("org_name",)
    if not _is_set(org):
        return []
    assert isinstance(org, str)
    if not org.strip():
        return [
            error(
                "Invalid organization name",
                "`org_name` must not be empty: set it to the Pulumi Cloud organization that "
                "should own the token.",
                *where,
            )
        ]
    if "/" in org or org != org.strip():
        return [
            error(
                "Invalid organization name",
                f"`org_name` {org!r} contains a slash or surrounding spaces; Pulumi Cloud "
                "organization names have neither. Use the name shown in the Pulumi Cloud URL.",
                *where,
            )
        ]
    return []


def validate_expiry_for_create(expires: object, now: float) -> list[Diagnostic]:
    """Time-relative checks, made only when a token is about to be created.

    An existing token keeps its configured expiry after that moment passes, so these checks
    must not run on plans that leave the token alone.
    """
    if not _is_set(expires):
        return []
    assert isinstance(expires, Decimal)
    if expires == 0 or expires < 0 or expires != expires.to_integral_value():
        return []
    latest = int(now) + MAX_EXPIRY_SECONDS
    if expires <= Decimal(int(now)):
        return [
            error(
                "Expiry in the past",
                f"`expires` is {expires}, which is not in the future (now is {int(now)}). Pulumi "
                "Cloud only creates tokens that expire later; set a future unix time, or 0 for "
                "never.",
                "expires",
            )
        ]
    if expires > latest:
        return [
            error(
                "Expiry too far ahead",
                f"`expires` is {expires}, more than two years from now; Pulumi Cloud allows at "
                f"most {latest} (now + 2 years). Choose an earlier time, or 0 for never.",
                "expires",
            )
        ]
    return []


def _same(a: object, b: object) -> bool:
    """Equal and both known: an unknown value may turn out different, so it never counts as same."""
    return is_known(a) and is_known(b) and a == b


@dataclass(frozen=True)
class ImportId:
    org_name: str
    token_id: str
    name: str | None


def parse_import_id(raw: str) -> ImportId:
    """``ORG/TOKEN_ID``, or the older ``ORG/NAME/TOKEN_ID`` where NAME may itself contain ``/``."""
    org, sep, rest = raw.partition("/")
    if sep and "/" in rest:
        name, _, token_id = rest.rpartition("/")
    else:
        name, token_id = None, rest
    if not sep or not org or not token_id or name == "":
        raise DiagnosticError(
            error(
                "Invalid import ID",
                f"The import ID {raw!r} is not of the form ORG/TOKEN_ID (or ORG/NAME/TOKEN_ID). "
                "Find the token's ID in Pulumi Cloud under Settings → Access Tokens.",
            )
        )
    return ImportId(org, token_id, name)


def parse_import_identity(identity: ObjectValue) -> ImportId:
    """The identity object of an `import` block: both attributes set, and a plausible org name."""
    problems: list[Diagnostic] = []
    for name in ("org_name", "token_id"):
        value = identity.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(
                error(
                    "Invalid import identity",
                    f"The import identity needs `{name}` as a non-empty string; it is "
                    f"{'null' if value is None else 'empty' if isinstance(value, str) else 'unknown'}. "
                    'Write `identity = { org_name = "ORG", token_id = "TOKEN_ID" }` with the ID '
                    "shown in Pulumi Cloud under Settings → Access Tokens.",
                )
            )
    if problems:
        raise DiagnosticError(*problems)
    org, token_id = str(identity["org_name"]), str(identity["token_id"])
    problems = org_name_problems(org, "org_name")
    if "/" in token_id:
        problems.append(
            error(
                "Invalid import identity",
                f"`token_id` {token_id!r} holds a slash; Pulumi Cloud token IDs never do. Copy the "
                "ID from Settings → Access Tokens.",
            )
        )
    if problems:
        raise DiagnosticError(*problems)
    return ImportId(org, token_id, None)


def _state_from_token(token: OrgToken, org: str, base: ObjectValue | None) -> ObjectValue:
    """The state for a token as the service describes it; what the service never returns
    (the value, the reason) is carried over from ``base``."""
    return {
        "id": f"{org}/{token.id}",
        "token_id": token.id,
        "org_name": org,
        "name": token.name,
        "description": token.description,
        "admin": token.admin,
        "expires": Decimal(token.expires),
        "role_id": token.role_id,
        "reason": base.get("reason") if base else None,
        "token_value": base.get("token_value") if base else None,
    }


def _cloud_failure(exc: CloudError) -> Diagnostic:
    """A cloud client error as a diagnostic: its summary already names the action, its detail
    what to do, and neither ever holds a credential."""
    return error(exc.summary, exc.detail)


class OrgTokenResource:
    """Plan, apply, read and import for organization tokens."""

    type_name: ClassVar[str] = TYPE_NAME
    schema: ClassVar[Schema] = SCHEMA
    identity_schema: ClassVar[IdentitySchema] = IDENTITY_SCHEMA

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock

    def identity(self, state: ObjectValue) -> ObjectValue | None:
        """``{org_name, token_id}`` once both are known; None while the token does not exist yet."""
        org, token_id = state.get("org_name"), state.get("token_id")
        if isinstance(org, str) and isinstance(token_id, str):
            return {"org_name": org, "token_id": token_id}
        return None

    def generate_config(self, state: ObjectValue) -> ObjectValue:
        """The configuration `terraform plan -generate-config-out` writes for an imported token.

        Arguments the service stores are copied; those equal to their default are left out (the
        plan fills the default back in, so the generated block stays short and still plans no
        change); computed-only attributes — `id`, `token_id` and the secret `token_value` — are
        never configuration. `reason` is copied, which after an import means null.
        """
        config: ObjectValue = {}
        for attr in SCHEMA.block.attributes:
            value = state.get(attr.name)
            default = DEFAULTS.get(attr.name)
            read_only = attr.computed and not attr.optional
            is_default = default is not None and type(value) is type(default) and value == default
            config[attr.name] = None if read_only or is_default else value
        return config

    def validate(self, config: ObjectValue) -> list[Diagnostic]:
        return validate_config(config)

    def plan(self, request: PlanRequest) -> PlanResult:
        if request.proposed is None or request.config is None:
            return PlanResult(planned=None)  # destroy
        diagnostics = validate_config(request.config)
        planned = dict(request.proposed)
        for attr, default in DEFAULTS.items():
            if request.config.get(attr) is None:
                planned[attr] = default

        prior = request.prior
        if prior is None:
            for attr in COMPUTED_ATTRIBUTES:
                planned[attr] = UNKNOWN
            diagnostics += validate_expiry_for_create(planned["expires"], self._clock())
            diagnostics += _name_in_use(planned, request.known_tokens)
            return PlanResult(planned=planned, diagnostics=diagnostics)

        changed = [a for a in REPLACE_ATTRIBUTES if not _same(prior.get(a), planned.get(a))]
        if not changed:
            for attr in COMPUTED_ATTRIBUTES:
                planned[attr] = prior.get(attr)
            return PlanResult(planned=planned, diagnostics=diagnostics)

        for attr in COMPUTED_ATTRIBUTES:
            planned[attr] = UNKNOWN
        diagnostics += validate_expiry_for_create(planned["expires"], self._clock())
        if "name" not in changed and "org_name" not in changed:
            what = ", ".join(f"`{a}`" for a in changed)
            diagnostics.append(
                error(
                    "Token name cannot be reused",
                    f"Changing {what} replaces this token, but the replacement would keep the "
                    f"name {planned['name']!r}. Pulumi Cloud never reuses a token name in an "
                    "organization, even after the token is deleted, so the new token could not "
                    "be created and the current one would already be gone. Give the token a new "
                    "`name` in the same change (for example with a version suffix).",
                    "name",
                )
            )
        return PlanResult(
            planned=planned, requires_replace=[(attr,) for attr in changed], diagnostics=diagnostics
        )

    def apply(self, request: ApplyRequest, context: OperationContext) -> ApplyResult:
        if request.planned is None:
            if request.prior is None:
                return ApplyResult(
                    new_state=None, diagnostics=[_invalid_apply("neither a prior nor a planned state")]
                )
            return self._delete(request.prior, context)
        if request.prior is None:
            return self._create(request.planned, context)
        # Only `reason` can change in place: it annotates the creation, the service keeps no copy.
        changed = [a for a in REPLACE_ATTRIBUTES if request.prior.get(a) != request.planned.get(a)]
        if changed:
            return ApplyResult(
                new_state=request.prior,
                diagnostics=[
                    error(
                        "Cannot update an organization token in place",
                        "Pulumi Cloud has no update for tokens; the provider planned a "
                        f"replacement for {', '.join(changed)}. Run `terraform plan` again.",
                    )
                ],
            )
        return ApplyResult(new_state=dict(request.planned))

    def _create(self, planned: ObjectValue, context: OperationContext) -> ApplyResult:
        from tfprovider.cloud import CloudError, OrgToken, TokenSpec

        problems = _unplannable(planned)
        if problems:
            return ApplyResult(new_state=None, diagnostics=problems)
        if context.stopped.is_set():
            return ApplyResult(new_state=None, diagnostics=[_stopped("create the token")])
        org = str(planned["org_name"])
        spec = TokenSpec(
            name=str(planned["name"]),
            description=str(planned["description"]),
            expires=int(planned["expires"]),
            admin=bool(planned["admin"]),
            role_id=planned["role_id"],
        )
        try:
            created = context.client().create_token(org, spec, reason=planned["reason"])
        except DiagnosticError as exc:
            return ApplyResult(new_state=None, diagnostics=list(exc.diagnostics))
        except CloudError as exc:
            return ApplyResult(new_state=None, diagnostics=[_cloud_failure(exc)])
        # From here on the token exists: it must reach Terraform's state whatever happens. No
        # error diagnostic either, or Terraform would taint it and plan a same-name re-create.
        state = dict(planned)
        state.update(id=f"{org}/{created.id}", token_id=created.id, token_value=created.value.reveal())
        context.tokens.record_created(org, OrgToken.created_from(created.id, spec))
        diagnostics = []
        if context.stopped.is_set():
            diagnostics.append(
                warning(
                    "Token created while stopping",
                    f"Terraform asked the provider to stop, but token {spec.name!r} had already been "
                    "created; it is recorded in the state.",
                )
            )
        return ApplyResult(new_state=state, diagnostics=diagnostics)

    def _delete(self, prior: ObjectValue, context: OperationContext) -> ApplyResult:
        from tfprovider.cloud import CloudError

        if context.stopped.is_set():
            return ApplyResult(new_state=prior, diagnostics=[_stopped("delete the token")])
        org, token_id = str(prior["org_name"]), str(prior["token_id"])
        try:
            context.client().delete_token(org, token_id)
        except DiagnosticError as exc:
            return ApplyResult(new_state=prior, diagnostics=list(exc.diagnostics))
        except CloudError as exc:
            return ApplyResult(new_state=prior, diagnostics=[_cloud_failure(exc)])
        context.tokens.record_deleted(org, token_id)
        return ApplyResult(new_state=None)  # a 404 means it was already gone: same outcome

    def read(self, request: ReadRequest, context: OperationContext) -> ReadResult:
        from tfprovider.cloud import CloudError

        current = request.current
        org, token_id = current.get("org_name"), current.get("token_id")
        if not isinstance(org, str) or not isinstance(token_id, str):
            return ReadResult(new_state=current, private=request.private)
        try:
            token = context.tokens.find(org, token_id)
        except DiagnosticError as exc:
            return ReadResult(new_state=current, private=request.private, diagnostics=list(exc.diagnostics))
        except CloudError as exc:
            return ReadResult(
                new_state=current,
                private=request.private,
                diagnostics=[_cloud_failure(exc)],
            )
        if token is None:
            return ReadResult(new_state=None)  # deleted out of band: Terraform plans a create
        state = _state_from_token(token, org, current)
        diagnostics = _expiry_warnings(token, self._clock())
        return ReadResult(new_state=state, private=request.private, diagnostics=diagnostics)

    def import_state(self, resource_id: str, context: OperationContext) -> ImportResult:
        try:
            wanted = parse_import_id(resource_id)
        except DiagnosticError as exc:
            return ImportResult(diagnostics=list(exc.diagnostics))
        return self._import(wanted, context)

    def import_identity(self, identity: ObjectValue, context: OperationContext) -> ImportResult:
        """An `import` block with `identity = { org_name = …, token_id = … }` (Terraform 1.12+)."""
        try:
            wanted = parse_import_identity(identity)
        except DiagnosticError as exc:
            return ImportResult(diagnostics=list(exc.diagnostics))
        return self._import(wanted, context)

    def _import(self, wanted: ImportId, context: OperationContext) -> ImportResult:
        from tfprovider.cloud import CloudError

        try:
            token = context.tokens.find(wanted.org_name, wanted.token_id)
        except DiagnosticError as exc:
            return ImportResult(diagnostics=list(exc.diagnostics))
        except CloudError as exc:
            return ImportResult(diagnostics=[_cloud_failure(exc)])
        if token is None:
            return ImportResult(
                diagnostics=[
                    error(
                        "Token not found",
                        f"Organization {wanted.org_name!r} has no token with ID {wanted.token_id!r} "
                        "(deleted tokens cannot be imported). Check the ID in Pulumi Cloud under "
                        "Settings → Access Tokens.",
                    )
                ]
            )
        if wanted.name is not None and wanted.name != token.name:
            return ImportResult(
                diagnostics=[
                    error(
                        "Token name does not match",
                        f"Token {wanted.token_id!r} is named {token.name!r}, not {wanted.name!r}. "
                        f"Import it as {wanted.org_name}/{wanted.token_id}.",
                    )
                ]
            )
        return ImportResult(states=[_state_from_token(token, wanted.org_name, None)])


def _invalid_apply(what: str) -> Diagnostic:
    return error(
        "Invalid apply request",
        f"Terraform asked to apply a change with {what}. This is a bug in the calling tool; run "
        "`terraform plan` again.",
    )


def _unplannable(planned: ObjectValue) -> list[Diagnostic]:
    """Why a planned state cannot be created as it stands: a plan by this provider never gives
    these, so they come from a request Terraform would not send, and must not reach the API."""
    diagnostics = validate_config(planned)
    for attr, kind in (("name", str), ("org_name", str), ("description", str), ("admin", bool)):
        if not isinstance(planned.get(attr), kind):
            diagnostics.append(_invalid_apply(f"`{attr}` null or unknown in the planned state"))
    expires = planned.get("expires")
    if not isinstance(expires, Decimal) or not expires.is_finite():
        diagnostics.append(_invalid_apply("`expires` null, unknown or not finite in the planned state"))
    return diagnostics


def _name_in_use(
    planned: ObjectValue, known_tokens: Callable[[str], Mapping[str, OrgToken] | None] | None
) -> list[Diagnostic]:
    """A create whose name a listed token already holds must fail with 409 at apply. Say so now.

    This catches what the replacement check above cannot see: `terraform apply -replace=…` and
    tainted tokens, which Terraform plans as a fresh create while the old token (refreshed into
    this process's list a moment ago) still holds the name, and would destroy it first.
    """
    org, name = planned.get("org_name"), planned.get("name")
    if known_tokens is None or not isinstance(org, str) or not isinstance(name, str):
        return []
    holder = next((t for t in (known_tokens(org) or {}).values() if t.name == name), None)
    if holder is None:
        return []
    return [
        error(
            "Token name already in use",
            f"Organization {org!r} already has a token named {name!r} (ID {holder.id}), and Pulumi "
            "Cloud never reuses a token name, so this create would fail. If Terraform is "
            "replacing that token (`terraform apply -replace`, or a tainted token), it would "
            "delete the working token first. Give the token a new `name` to rotate it, or import "
            f"the existing one with `terraform import <resource address> {org}/{holder.id}`.",
            "name",
        )
    ]


def _stopped(action: str) -> Diagnostic:
    return error("Operation cancelled", f"Terraform asked the provider to stop before it could {action}.")


def _expiry_warnings(token: OrgToken, now: float) -> list[Diagnostic]:
    if token.expires and token.expires <= now:
        return [
            warning(
                "Organization token has expired",
                f"Token {token.name!r} expired at unix time {token.expires}; it no longer "
                "authenticates. To get a working token, give it a new `name` and a new `expires`.",
            )
        ]
    return []
