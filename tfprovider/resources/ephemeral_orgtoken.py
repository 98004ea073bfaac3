"""Ephemeral ``pulumiservice_api_tokens_orgtoken``: an organization token that lives for one run.

Terraform 1.10+ opens an ephemeral resource when a run needs its value and closes it when the
run is done; the value is handed to the configuration (say, another provider block's
``access_token``) and never written to a plan or state file. For a Pulumi Cloud token that means:

* **open** creates a token and returns its value; **close** deletes it (a 404 means it is already
  gone, which is the same outcome);
* Terraform opens the resource during ``plan`` and again during ``apply`` — each open is a new
  token, and Pulumi Cloud never reuses a token name, so every open gets a name of its own:
  ``name_prefix`` plus a random suffix;
* every token is created with a short expiry (``expires_in``, an hour by default). If Terraform
  is killed before it can close the resource, nobody deletes the token, and the expiry is what
  ends it: keep ``expires_in`` as short as the run needs;
* ``private`` (Terraform hands it back to close) holds the organization, token ID, name and
  expiry — enough to delete the token or report it — and never the value.

No renewal is needed: the token is valid for its whole ``expires_in``, so open asks for none and
renew has nothing to do.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from tfprovider.cty import BOOL, NUMBER, STRING, is_known
from tfprovider.diagnostics import Diagnostic, DiagnosticError, error, has_errors, warning
from tfprovider.resources.base import ObjectValue, OpenResult, OperationContext
from tfprovider.resources.orgtoken import (
    MAX_EXPIRY_SECONDS,
    MAX_NAME_LENGTH,
    TYPE_NAME,
    org_name_problems,
)
from tfprovider.schema import Attribute, Block, Schema

if TYPE_CHECKING:
    from tfprovider.cloud import CloudError, CreatedToken, TokenSpec

SUFFIX_HEX_DIGITS = 12
"""48 random bits per name: across a million opens in one organization the chance of any two
names colliding is about one in 500; a collision costs one more create, never a failure."""
MAX_PREFIX_LENGTH = MAX_NAME_LENGTH - SUFFIX_HEX_DIGITS
DEFAULT_NAME_PREFIX = "terraform-ephemeral-"
DEFAULT_DESCRIPTION = "Opened by Terraform for one run; deleted when the run ends"
DEFAULT_EXPIRES_IN = 3600
MIN_EXPIRES_IN = 60
MAX_CREATE_ATTEMPTS = 3
"""Creates tried with fresh names when Pulumi Cloud says a name is taken."""
PRIVATE_VERSION = 1

DEFAULTS: dict[str, object] = {
    "name_prefix": DEFAULT_NAME_PREFIX,
    "description": DEFAULT_DESCRIPTION,
    "admin": False,
    "expires_in": Decimal(DEFAULT_EXPIRES_IN),
}
RESULT_ATTRIBUTES = ("name", "token_id", "token_value", "expires")

SCHEMA = Schema(
    version=0,
    block=Block(
        description=(
            "A short-lived Pulumi Cloud organization token for one Terraform run (Terraform 1.10 "
            "or later). Terraform creates it when the run needs its value and deletes it when the "
            "run ends; the value never enters a plan or state file. Terraform opens ephemeral "
            "resources during `plan` and again during `apply`, so each opening creates a token of "
            "its own, with a unique name."
        ),
        attributes=(
            Attribute(
                "org_name",
                STRING,
                "The Pulumi Cloud organization that owns the token.",
                required=True,
            ),
            Attribute(
                "name_prefix",
                STRING,
                f"The start of the token's name; a random suffix of {SUFFIX_HEX_DIGITS} hex digits "
                f"follows, so every opening gets a name Pulumi Cloud has never seen. At most "
                f"{MAX_PREFIX_LENGTH} characters. Defaults to `{DEFAULT_NAME_PREFIX}`.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "description",
                STRING,
                f"A free-form description shown in Pulumi Cloud. Defaults to `{DEFAULT_DESCRIPTION}`.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "admin",
                BOOL,
                "Whether the token has admin rights in the organization. Defaults to `false`.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "role_id",
                STRING,
                "The ID of a custom role to scope the token to, instead of the default "
                "organization token permissions.",
                optional=True,
            ),
            Attribute(
                "reason",
                STRING,
                "A note recorded in the organization's audit log with each token's creation.",
                optional=True,
            ),
            Attribute(
                "expires_in",
                NUMBER,
                f"How long the token stays valid, in whole seconds from its creation: from "
                f"{MIN_EXPIRES_IN} to {MAX_EXPIRY_SECONDS} (two years). Defaults to "
                f"{DEFAULT_EXPIRES_IN} (one hour). Terraform deletes the token when the run ends; "
                "the expiry is the safety net for a run that is killed before it can.",
                optional=True,
                computed=True,
            ),
            Attribute(
                "name", STRING, "The token's name: `name_prefix` and the random suffix.", computed=True
            ),
            Attribute("token_id", STRING, "The token's ID in Pulumi Cloud.", computed=True),
            Attribute(
                "token_value",
                STRING,
                "The secret token value. Use it only where ephemeral values are accepted, such as a "
                "provider block or a write-only argument.",
                computed=True,
                sensitive=True,
            ),
            Attribute(
                "expires",
                NUMBER,
                "When the token expires, in unix seconds.",
                computed=True,
            ),
        ),
    ),
)


def _is_set(value: object) -> bool:
    return value is not None and is_known(value)


def validate_config(config: ObjectValue) -> list[Diagnostic]:
    """Checks of the arguments; values unknown now are checked when Terraform opens the resource
    (it only opens one whose configuration is wholly known)."""
    diagnostics = org_name_problems(config.get("org_name"))
    prefix = config.get("name_prefix")
    if _is_set(prefix):
        assert isinstance(prefix, str)
        if not prefix.strip():
            diagnostics.append(
                error(
                    "Invalid name prefix",
                    f"`name_prefix` must not be empty or blank; leave it out to use {DEFAULT_NAME_PREFIX!r}.",
                    "name_prefix",
                )
            )
        elif len(prefix) > MAX_PREFIX_LENGTH:
            diagnostics.append(
                error(
                    "Invalid name prefix",
                    f"`name_prefix` is {len(prefix)} characters long; at most {MAX_PREFIX_LENGTH} fit, "
                    f"because Pulumi Cloud allows {MAX_NAME_LENGTH} characters and the random suffix "
                    f"takes {SUFFIX_HEX_DIGITS}.",
                    "name_prefix",
                )
            )
    expires_in = config.get("expires_in")
    if _is_set(expires_in):
        assert isinstance(expires_in, Decimal)
        if (
            not expires_in.is_finite()
            or expires_in != expires_in.to_integral_value()
            or not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRY_SECONDS
        ):
            diagnostics.append(
                error(
                    "Invalid token lifetime",
                    f"`expires_in` is {expires_in}; it must be a whole number of seconds from "
                    f"{MIN_EXPIRES_IN} to {MAX_EXPIRY_SECONDS} (two years), for example 3600 for "
                    "an hour. Pick the shortest time the run needs.",
                    "expires_in",
                )
            )
    return diagnostics


def with_defaults(config: ObjectValue) -> ObjectValue:
    """The configuration with every unset optional argument at its default."""
    resolved = dict(config)
    for name, default in DEFAULTS.items():
        if resolved.get(name) is None:
            resolved[name] = default
    return resolved


@dataclass(frozen=True)
class OpenedToken:
    """What ``private`` carries from open to close: where the token is, never its value."""

    org_name: str
    token_id: str
    name: str
    expires: int

    def to_private(self) -> bytes:
        data = {
            "v": PRIVATE_VERSION,
            "org_name": self.org_name,
            "token_id": self.token_id,
            "name": self.name,
            "expires": self.expires,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_private(cls, private: bytes) -> OpenedToken:
        try:
            data = json.loads(private)
        except (UnicodeDecodeError, ValueError):
            data = None
        if not (
            isinstance(data, dict)
            and data.get("v") == PRIVATE_VERSION
            and isinstance(data.get("org_name"), str)
            and data["org_name"]
            and isinstance(data.get("token_id"), str)
            and data["token_id"]
            and isinstance(data.get("name"), str)
            and isinstance(data.get("expires"), int)
            and not isinstance(data.get("expires"), bool)
        ):
            raise DiagnosticError(
                error(
                    "Cannot close the ephemeral organization token",
                    "Terraform handed back private data this provider did not write, so it cannot tell "
                    "which token to delete. A token opened by this run, if any, stays valid until its "
                    "`expires_in` runs out; delete it in Pulumi Cloud (Settings → Access Tokens) to end "
                    "it sooner. This is a bug in the calling tool or a mismatched provider version.",
                )
            )
        return cls(data["org_name"], data["token_id"], data["name"], data["expires"])


def random_suffix() -> str:
    return secrets.token_hex(SUFFIX_HEX_DIGITS // 2)


class EphemeralOrgTokenResource:
    """Open creates a uniquely named, short-lived token; close deletes it."""

    type_name: ClassVar[str] = TYPE_NAME
    schema: ClassVar[Schema] = SCHEMA

    def __init__(
        self, clock: Callable[[], float] = time.time, suffix: Callable[[], str] = random_suffix
    ) -> None:
        self._clock = clock
        self._suffix = suffix

    def validate(self, config: ObjectValue) -> list[Diagnostic]:
        return validate_config(config)

    def open(self, config: ObjectValue, context: OperationContext) -> OpenResult:
        from tfprovider.cloud import CloudError, NameConflictError, OrgToken, TokenSpec

        diagnostics = validate_config(config)
        resolved = with_defaults(config)
        missing = [name for name in ("org_name", *DEFAULTS) if not _is_set(resolved.get(name))]
        missing += [name for name in ("role_id", "reason") if not is_known(resolved.get(name))]
        if missing:
            diagnostics.append(
                error(
                    "Configuration not known",
                    f"{', '.join(f'`{n}`' for n in missing)} must be known to open the token. Terraform "
                    "only opens an ephemeral resource whose configuration is known; this is a bug in "
                    "the calling tool.",
                )
            )
        if has_errors(diagnostics):
            return OpenResult(result=None, diagnostics=diagnostics)
        if context.stopped.is_set():
            stopped = "Terraform asked the provider to stop before it could create the token."
            return OpenResult(result=None, diagnostics=[error("Operation cancelled", stopped)])
        org = str(resolved["org_name"])
        expires = int(self._clock()) + int(resolved["expires_in"])
        created: CreatedToken | None = None
        spec: TokenSpec | None = None
        for _attempt in range(MAX_CREATE_ATTEMPTS):
            spec = TokenSpec(
                name=f"{resolved['name_prefix']}{self._suffix()}",
                description=str(resolved["description"]),
                expires=expires,
                admin=bool(resolved["admin"]),
                role_id=resolved.get("role_id"),
            )
            try:
                created = context.client().create_token(org, spec, reason=resolved.get("reason"))
            except NameConflictError:
                continue  # another open drew the same suffix: draw again
            except DiagnosticError as exc:
                return OpenResult(result=None, diagnostics=list(exc.diagnostics))
            except CloudError as exc:
                return OpenResult(result=None, diagnostics=[_open_failure(exc)])
            break
        if created is None or spec is None:
            return OpenResult(
                result=None,
                diagnostics=[
                    error(
                        "Cannot create the ephemeral organization token",
                        f"Pulumi Cloud said the name was taken for {MAX_CREATE_ATTEMPTS} random names in a "
                        f"row in organization {org!r}. Set a different `name_prefix`.",
                        "name_prefix",
                    )
                ],
            )
        context.tokens.record_created(org, OrgToken.created_from(created.id, spec))
        result = dict(resolved)
        result.update(
            name=spec.name,
            token_id=created.id,
            token_value=created.value.reveal(),
            expires=Decimal(expires),
        )
        opened = OpenedToken(org, created.id, spec.name, expires)
        return OpenResult(result=result, private=opened.to_private())

    def renew(self, private: bytes, context: OperationContext) -> list[Diagnostic]:
        """Never requested (open sets no renew time): the token is valid for its whole lifetime."""
        return []

    def close(self, private: bytes, context: OperationContext) -> list[Diagnostic]:
        from tfprovider.cloud import CancelledError, CloudError

        opened = OpenedToken.from_private(private)
        fallback = (
            f"Token {opened.name!r} (ID {opened.token_id}) in organization {opened.org_name!r} stays "
            f"valid until it expires at unix time {opened.expires}; delete it in Pulumi Cloud "
            "(Settings → Access Tokens) to end it sooner."
        )
        try:
            context.client().delete_token(opened.org_name, opened.token_id)
        except DiagnosticError as exc:
            return [*exc.diagnostics, warning("Ephemeral organization token not deleted", fallback)]
        except CancelledError:
            return [
                warning(
                    "Ephemeral organization token not deleted",
                    f"Terraform asked the provider to stop before the token could be deleted. {fallback}",
                )
            ]
        except CloudError as exc:
            return [error(exc.summary, f"{exc.detail} {fallback}".strip())]
        context.tokens.record_deleted(opened.org_name, opened.token_id)
        return []  # a 404 means it was already gone: the same outcome


def _open_failure(exc: CloudError) -> Diagnostic:
    from tfprovider.cloud import LostTokenError

    if isinstance(exc, LostTokenError):
        # The client's advice (choose a new name) does not apply: every open draws a new name.
        return error(
            exc.summary,
            f"{exc.detail} Here the name is random for every opening, so running Terraform again is enough.",
        )
    return error(exc.summary, exc.detail)
