"""Errors from talking to Pulumi Cloud, each with a summary and a detail the user can act on.

Terraform shows a diagnostic as a one-line summary plus a detail paragraph, so every error here
carries exactly those two strings. The detail names the setting to change (``access_token``,
``org_name``, ``name``...) or says that waiting and retrying is the fix. Text that originates
outside the provider (a service message, a proxy's error page, an exception from the HTTP stack)
is passed through :func:`~tfprovider.secret.redact` before it is stored, so no credential can reach
a diagnostic or a log through an error.

This module imports nothing heavy at runtime: the HTTP response type is only needed for typing.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from tfprovider.secret import Secret, redact

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ApiError",
    "CancelledError",
    "CloudError",
    "LostTokenError",
    "NameConflictError",
    "ResponseFormatError",
    "TransportError",
]

#: Longest piece of a service or proxy message kept in an error; proxies can answer whole HTML pages.
MAX_SERVICE_MESSAGE: Final = 300

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


class CloudError(Exception):
    """Base of every error the Pulumi Cloud client raises.

    ``summary`` is a short statement of what failed; ``detail`` says what the user can do about it.
    """

    summary: str
    detail: str

    def __init__(self, summary: str, detail: str) -> None:
        super().__init__(summary, detail)
        self.summary = summary
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.summary}: {self.detail}" if self.detail else self.summary

    def __repr__(self) -> str:
        return f"{type(self).__name__}(summary={self.summary!r}, detail={self.detail!r})"

    def append_detail(self, sentence: str) -> None:
        """Add a sentence to the detail, e.g. how many attempts were made before giving up.

        Errors are built fresh for every request, so extending one in place before raising it is
        safe; ``args`` follows so the exception still prints and compares consistently.
        """
        self.detail = f"{self.detail} {sentence}".strip()
        self.args = (self.summary, self.detail)


class ApiError(CloudError):
    """Pulumi Cloud (or a proxy in front of it) answered with a status other than 2xx."""

    status: int
    code: int | None
    service_message: str
    retry_after: float | None

    def __init__(
        self,
        summary: str,
        detail: str,
        *,
        status: int,
        code: int | None = None,
        service_message: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(summary, detail)
        self.status = status
        self.code = code
        self.service_message = service_message
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        """Whether the same request may succeed later unchanged (rate limiting, service trouble)."""
        return self.status == 429 or self.status >= 500

    @classmethod
    def from_response(
        cls,
        response: httpx.Response,
        *,
        action: str,
        org: str,
        token_name: str | None = None,
        secrets: Iterable[Secret | None] = (),
    ) -> ApiError:
        """Build the error for a non-2xx ``response`` to the request that tried to ``action``.

        ``action`` completes the sentence "Could not …" (for example "create token 'ci' in
        organization 'acme'"); ``org`` and ``token_name`` let the detail name what to change.
        """
        status = response.status_code
        code, message = _service_message(response)
        message = redact(message, *secrets)
        retry_after = _parse_retry_after(response.headers.get("retry-after"))
        summary = redact(f"Could not {action}: Pulumi Cloud answered HTTP {status}", *secrets)
        detail = _advice(status, org=org, token_name=token_name, message=message, retry_after=retry_after)
        return cls(
            summary,
            redact(detail, *secrets),
            status=status,
            code=code,
            service_message=message,
            retry_after=retry_after,
        )


class TransportError(CloudError):
    """No HTTP answer arrived: the connection failed, broke or timed out.

    ``host`` names the Pulumi Cloud host that was being called (never a credential).
    ``may_have_reached_service`` is false only when the request certainly never left this machine
    (for example the connection was refused), which matters for requests that are not idempotent.
    ``timed_out`` tells a missing answer apart from a failed connection (for retry statistics).
    """

    host: str
    may_have_reached_service: bool
    timed_out: bool

    def __init__(
        self,
        summary: str,
        detail: str,
        *,
        host: str,
        may_have_reached_service: bool,
        timed_out: bool = False,
    ) -> None:
        super().__init__(summary, detail)
        self.host = host
        self.may_have_reached_service = may_have_reached_service
        self.timed_out = timed_out


class ResponseFormatError(CloudError):
    """Pulumi Cloud answered 2xx with a body this provider does not understand.

    ``problem`` says which part of the answer was wrong, by path and JSON type only: the body of a
    create answer contains a new token value, so values are never quoted.
    """

    problem: str

    def __init__(self, problem: str, *, action: str | None = None) -> None:
        what = f"Could not {action}" if action else "Unexpected answer from Pulumi Cloud"
        super().__init__(
            f"{what}: Pulumi Cloud sent an answer this provider does not understand",
            f"{problem}. Check that the API URL (`api_url` or PULUMI_BACKEND_URL) points at the Pulumi "
            "Cloud API (https://api.pulumi.com or your self-hosted API address, not the web console) and "
            "that no proxy rewrites the answers; if it does, report this together with your Pulumi Cloud "
            "version.",
        )
        self.problem = problem


#: Stands in for the Terraform resource address in the import command a :class:`NameConflictError`
#: suggests; the client does not know the address, the resource layer may substitute it.
IMPORT_ADDRESS_PLACEHOLDER: Final = "<resource address>"


class NameConflictError(ApiError):
    """A create answered 409: the name is taken, by a live token, an expired one or a deleted one.

    ``conflicting_token_id`` is the ID of the live token holding the name, when the provider could
    find one; the detail then carries the exact ``terraform import`` command (with
    :data:`IMPORT_ADDRESS_PLACEHOLDER` where the resource address goes).
    """

    conflicting_token_id: str | None

    def __init__(
        self,
        summary: str,
        detail: str,
        *,
        status: int,
        code: int | None = None,
        service_message: str = "",
        retry_after: float | None = None,
        conflicting_token_id: str | None = None,
    ) -> None:
        super().__init__(
            summary,
            detail,
            status=status,
            code=code,
            service_message=service_message,
            retry_after=retry_after,
        )
        self.conflicting_token_id = conflicting_token_id

    @classmethod
    def from_conflict(
        cls, error: ApiError, *, org: str, holder_id: str | None, holder: str
    ) -> NameConflictError:
        """Extend a 409 ``error`` with what the listing showed about the name's ``holder``.

        ``holder`` is ``"live"``, ``"expired"``, ``"deleted"`` (no listed token has the name) or
        ``"unknown"`` (the listing failed); ``holder_id`` is the holding token's ID when listed.
        """
        detail = error.detail
        conflicting: str | None = None
        if holder == "live" and holder_id:
            conflicting = holder_id
            detail += (
                f" The name is held by the live token {holder_id}. If that is the token this resource "
                "should manage, import it instead of creating it: "
                f"`terraform import {IMPORT_ADDRESS_PLACEHOLDER} {org}/{holder_id}` (Pulumi Cloud shows a "
                "token's value only once, so Terraform will not know the imported token's value)."
            )
        elif holder == "expired" and holder_id:
            detail += (
                f" The token holding the name ({holder_id}) has expired; an expired token's name cannot "
                "be reused either."
            )
        elif holder == "deleted":
            detail += (
                " No current token has this name, so a deleted token held it: Pulumi Cloud keeps the "
                "names of deleted tokens for good."
            )
        return cls(
            error.summary,
            detail,
            status=error.status,
            code=error.code,
            service_message=error.service_message,
            retry_after=error.retry_after,
            conflicting_token_id=conflicting,
        )


class LostTokenError(CloudError):
    """A create succeeded in Pulumi Cloud but its answer, the one copy of the value, never arrived.

    The token is useless to everyone (nobody can read its value again) yet it is a live credential,
    so the provider deletes it. ``orphan_deleted`` says whether that worked; when it did not, the
    detail names the token's ID and organization so the user can delete it by hand. Either way the
    name is spent: Pulumi Cloud never reuses one.
    """

    org: str
    token_name: str
    token_id: str
    orphan_deleted: bool

    def __init__(
        self,
        *,
        org: str,
        token_name: str,
        token_id: str,
        orphan_deleted: bool,
        what_happened: str,
        delete_problem: str = "",
    ) -> None:
        lost = (
            f"{what_happened} Pulumi Cloud created the token (ID {token_id}), but its value never reached "
            "the provider, and Pulumi Cloud shows a token's value only once."
        )
        renamed = (
            "Pulumi Cloud never reuses a token name, even after the token is deleted: choose a new `name` "
            "and apply again."
        )
        if orphan_deleted:
            summary = f"Token '{token_name}' was created in organization '{org}' but its value was lost"
            detail = (
                f"{lost} The provider deleted that token so that no live credential exists that nobody "
                f"holds. {renamed}"
            )
        else:
            summary = (
                f"Token '{token_name}' was created in organization '{org}' but its value was lost, "
                "and it could not be deleted"
            )
            detail = (
                f"{lost} The provider tried to delete it and failed ({delete_problem or 'no reason given'}). "
                f"Token {token_id} in organization '{org}' is a LIVE credential that nobody holds: delete "
                "it now in Pulumi Cloud (Settings → Access Tokens, or "
                f"DELETE /api/orgs/{org}/tokens/{token_id}). "
                f"{renamed}"
            )
        super().__init__(summary, detail)
        self.org = org
        self.token_name = token_name
        self.token_id = token_id
        self.orphan_deleted = orphan_deleted


class CancelledError(CloudError):
    """Terraform asked the provider to stop (StopProvider, e.g. after Ctrl-C) during a request.

    ``in_flight`` is true when a request had been sent and its answer was abandoned, so the
    service may still act on it. The detail says what is known about the outcome.
    """

    in_flight: bool

    def __init__(self, action: str, detail: str, *, in_flight: bool = False) -> None:
        super().__init__(f"Could not {action}: Terraform asked the provider to stop", detail)
        self.in_flight = in_flight


def json_type_name(value: object) -> str:
    """Name a decoded JSON value's type the way the JSON specification does (used in problems)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _service_message(response: httpx.Response) -> tuple[int | None, str]:
    """Extract Pulumi Cloud's ``{"code", "message"}`` error body, or a proxy's plain text."""
    raw = response.content
    if not raw:
        return None, ""
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        if isinstance(message, str):
            return (code if isinstance(code, int) and not isinstance(code, bool) else None), _tidy(message)
    content_type = response.headers.get("content-type", "")
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", text)
    return None, _tidy(text)


def _tidy(text: str) -> str:
    """Collapse whitespace and keep at most :data:`MAX_SERVICE_MESSAGE` characters."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) > MAX_SERVICE_MESSAGE:
        text = text[: MAX_SERVICE_MESSAGE - 1].rstrip() + "…"
    return text


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _advice(status: int, *, org: str, token_name: str | None, message: str, retry_after: float | None) -> str:
    """The user-actionable detail for ``status``, quoting the service's own message when there is one."""
    said = f' Pulumi Cloud said: "{message}".' if message else ""
    name = f"'{token_name}'" if token_name else "with this name"
    if status == 400:
        if not message:
            said = " Pulumi Cloud gave no reason."
        return (
            f"Pulumi Cloud rejected the request as invalid.{said} Correct the setting it names "
            "(`name` is at most 40 characters; `expires` is 0 or a unix time in the future at most two "
            "years away) and apply again."
        )
    if status == 401:
        return (
            "Pulumi Cloud did not accept the access token. Check the provider's `access_token` setting "
            "or the PULUMI_ACCESS_TOKEN environment variable: it must be a current Pulumi access token "
            f"issued by this Pulumi Cloud (check `api_url` or PULUMI_BACKEND_URL if you self-host).{said}"
        )
    if status == 403:
        return (
            f"The access token may not manage the tokens of organization '{org}'. Use the access token of "
            "an organization admin: an organization token may lack permission to create or delete "
            "organization tokens, and organization tokens need a Pulumi Cloud plan that includes them "
            f"(Enterprise or Business Critical).{said}"
        )
    if status == 404:
        return (
            f"Organization '{org}' was not found, or the access token cannot see it. Check `org_name` "
            "(the organization's name as it appears in Pulumi Cloud URLs) and that the token's owner "
            f"belongs to it; if you self-host, also check `api_url` or PULUMI_BACKEND_URL.{said}"
        )
    if status == 409:
        return (
            f"A token {name} exists or once existed in organization '{org}'. Token names are never "
            "reusable in Pulumi Cloud, even after the token is deleted: choose a new `name`."
            f"{said}"
        )
    if status == 429:
        wait = " Wait a few minutes and"
        if retry_after is not None:
            wait = f" Wait {retry_after:.0f} seconds and"
        return (
            f"Pulumi Cloud is busy and is limiting requests.{wait} try again; if it keeps happening, "
            f"run Terraform with a lower -parallelism.{said}"
        )
    if status >= 500:
        return (
            "Pulumi Cloud is unavailable or failed to handle the request. Try again in a few minutes; "
            f"if you self-host Pulumi Cloud, check that service and any proxy in front of it.{said}"
        )
    if 300 <= status < 400:
        return (
            "Pulumi Cloud redirected the request, so the `api_url` (or PULUMI_BACKEND_URL) is probably "
            "not the API address. Use "
            "https://api.pulumi.com or your self-hosted API address, with the right http/https scheme."
        )
    return (
        f"Pulumi Cloud refused the request.{said or ' It gave no reason.'} Check the provider "
        "configuration and the resource's settings, then try again."
    )
