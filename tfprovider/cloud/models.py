"""Typed values exchanged with Pulumi Cloud's organization-token endpoints.

Answers are validated here, at the edge, so the rest of the provider can trust field types: a
malformed answer becomes a :class:`~tfprovider.cloud.errors.ResponseFormatError` naming the field,
instead of a ``KeyError`` or a wrong value stored in Terraform state.

Fields the provider keeps in state (``id``, ``name``, ``description``, ``expires``, ``admin``) must be
present with the right type. Informational fields (``created``, ``lastUsed``, ``createdBy``, ``role``,
``type``) default when absent, so a service that omits them does not break refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfprovider.cloud.errors import ResponseFormatError, json_type_name
from tfprovider.secret import Secret

__all__ = ["CreatedToken", "OrgToken", "TokenPage", "TokenSpec"]


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """What to create: the body of ``POST /api/orgs/{org}/tokens``.

    ``expires`` is unix seconds, 0 meaning never. ``role_id`` is optional in Pulumi's API schema and
    the official provider never sends it, so ``None`` leaves ``roleID`` out of the body entirely
    rather than sending ``null`` (which a strictly typed service could reject).
    """

    name: str
    description: str
    expires: int
    admin: bool
    role_id: str | None = None

    def to_api(self) -> dict[str, object]:
        """The JSON body, with the service's spelling (``roleID``, ID in capitals)."""
        body: dict[str, object] = {
            "name": self.name,
            "description": self.description,
            "expires": self.expires,
            "admin": self.admin,
        }
        if self.role_id is not None:
            body["roleID"] = self.role_id
        return body


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """The answer to a create: the new token's id and its value, which Pulumi Cloud shows only once."""

    id: str
    value: Secret

    @classmethod
    def from_api(cls, obj: object) -> CreatedToken:
        """Validate ``{"id", "tokenValue"}``; problems name the field, never the value."""
        body = _object(obj, "the create answer")
        token_id = _text(body, "id", "the create answer", required=True, non_empty=True)
        value = _text(body, "tokenValue", "the create answer", required=True, non_empty=True)
        return cls(id=token_id, value=Secret(value))


@dataclass(frozen=True, slots=True)
class OrgToken:
    """One organization token as the list endpoint describes it (the value is never included)."""

    id: str
    name: str
    description: str
    created: str
    last_used: int
    expires: int
    admin: bool
    created_by: str
    role_id: str | None
    type: str | None

    @classmethod
    def created_from(cls, token_id: str, spec: TokenSpec) -> OrgToken:
        """What the service will list for a token just created from ``spec``, so a caller can
        keep a cached listing current without listing again."""
        return cls(
            id=token_id,
            name=spec.name,
            description=spec.description,
            created="",
            last_used=0,
            expires=spec.expires,
            admin=spec.admin,
            created_by="",
            role_id=spec.role_id,
            type="organization",
        )

    @classmethod
    def from_api(cls, obj: object, *, where: str = "token") -> OrgToken:
        """Validate one AccessToken object; ``where`` locates it in problems (e.g. ``tokens[3]``)."""
        body = _object(obj, where)
        role = body.get("role")
        role_id: str | None = None
        if role is not None:
            role_obj = _object(role, f"{where}.role")
            role_id = _text(role_obj, "id", f"{where}.role", required=True, non_empty=True)
        token_type = body.get("type")
        if token_type is not None and not isinstance(token_type, str):
            raise ResponseFormatError(f"{where}.type should be a string, got {json_type_name(token_type)}")
        return cls(
            id=_text(body, "id", where, required=True, non_empty=True),
            name=_text(body, "name", where, required=True),
            description=_text(body, "description", where, required=True),
            created=_text(body, "created", where, required=False),
            last_used=_integer(body, "lastUsed", where, required=False),
            expires=_integer(body, "expires", where, required=True),
            admin=_boolean(body, "admin", where),
            created_by=_text(body, "createdBy", where, required=False),
            role_id=role_id,
            type=token_type,
        )


@dataclass(frozen=True, slots=True)
class TokenPage:
    """One page of ``GET /api/orgs/{org}/tokens``: its tokens and where the next page starts.

    An absent, null or empty ``continuationToken`` all mean "last page": the API schema types it as
    a plain string, so an empty string is how a service without nullable strings would say it.
    """

    tokens: tuple[OrgToken, ...]
    continuation_token: str | None

    @classmethod
    def from_api(cls, obj: object) -> TokenPage:
        body = _object(obj, "the list answer")
        raw_tokens = body.get("tokens")
        if raw_tokens is None:
            raw_tokens = []  # Go encodes an empty slice as null
        if not isinstance(raw_tokens, list):
            raise ResponseFormatError(f"tokens should be an array, got {json_type_name(raw_tokens)}")
        tokens = tuple(OrgToken.from_api(item, where=f"tokens[{i}]") for i, item in enumerate(raw_tokens))
        continuation = body.get("continuationToken")
        if continuation is not None and not isinstance(continuation, str):
            raise ResponseFormatError(
                f"continuationToken should be a string or null, got {json_type_name(continuation)}"
            )
        return cls(tokens=tokens, continuation_token=continuation or None)


def _object(obj: object, where: str) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise ResponseFormatError(f"{where} should be a JSON object, got {json_type_name(obj)}")
    return obj


def _text(body: Mapping[str, Any], key: str, where: str, *, required: bool, non_empty: bool = False) -> str:
    if key not in body or body[key] is None:
        if required:
            raise ResponseFormatError(f"{where}.{key} is missing")
        return ""
    value = body[key]
    if not isinstance(value, str):
        raise ResponseFormatError(f"{where}.{key} should be a string, got {json_type_name(value)}")
    if non_empty and not value:
        raise ResponseFormatError(f"{where}.{key} is empty")
    return value


def _integer(body: Mapping[str, Any], key: str, where: str, *, required: bool) -> int:
    if key not in body or body[key] is None:
        if required:
            raise ResponseFormatError(f"{where}.{key} is missing")
        return 0
    value = body[key]
    # JSON numbers with an integral value may arrive as floats (1.7e9); booleans are not numbers here.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ResponseFormatError(f"{where}.{key} should be an integer, got {json_type_name(value)}")
    return value


def _boolean(body: Mapping[str, Any], key: str, where: str) -> bool:
    if key not in body:
        raise ResponseFormatError(f"{where}.{key} is missing")
    value = body[key]
    if not isinstance(value, bool):
        raise ResponseFormatError(f"{where}.{key} should be a boolean, got {json_type_name(value)}")
    return value
