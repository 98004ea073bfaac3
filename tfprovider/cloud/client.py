"""HTTP client for Pulumi Cloud's organization-token endpoints.

One :class:`PulumiCloudClient` is made per configured provider and shared by every resource
operation Terraform runs in parallel (``-parallelism`` defaults to 10; the pool allows ~50 callers),
so it owns one pooled :class:`httpx.Client`, which is safe to use from several threads.

Every request goes through :meth:`PulumiCloudClient._request`. That single choke point is where the
request policy lives: headers, the timeout, mapping transport failures and non-2xx answers to
:mod:`tfprovider.cloud.errors`. Retries, the recovery of a create whose answer was lost, and
cancellation belong there too when they are added.

Credentials: the access token is only revealed while a request's headers are built and is never
stored in the httpx client's default headers, the repr of this object, or any error. httpx masks
``Authorization`` in header reprs, and neither httpx nor httpcore logs request headers; the tests
check both at DEBUG level against a real local server. Error text is redacted against the access
token and every token value this client has received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Final, Literal
from urllib.parse import quote

import httpx

import tfprovider
from tfprovider.cloud.errors import ApiError, CloudError, ResponseFormatError, TransportError
from tfprovider.cloud.models import CreatedToken, OrgToken, TokenPage, TokenSpec
from tfprovider.secret import Secret, redact

__all__ = ["DEFAULT_BASE_URL", "MAX_PAGES", "PAGE_SIZE", "PulumiCloudClient", "build_user_agent"]

DEFAULT_BASE_URL: Final = "https://api.pulumi.com"
#: ``maxResults`` sent when listing: the largest page the service allows, so few round trips.
PAGE_SIZE: Final = 1000
#: Upper bound on pages followed in one listing (a million tokens), against a service that never ends.
MAX_PAGES: Final = 1000
#: The API version this client speaks, as Pulumi's own CLI asks for it.
ACCEPT: Final = "application/vnd.pulumi+8"

TokenFilter = Literal["active", "expired", "all"]
_FILTERS: Final = frozenset({"active", "expired", "all"})


def build_user_agent(terraform_version: str | None = None) -> str:
    """The ``User-Agent`` naming this provider and version (and Terraform's, when known).

    Pulumi's operators can then tell this provider's traffic apart when diagnosing a problem.
    """
    agent = f"terraform-provider-pulumiservice/{tfprovider.__version__} (+python httpx/{httpx.__version__})"
    if terraform_version:
        agent += f" Terraform/{terraform_version}"
    return agent


def _segment(value: str, what: str) -> str:
    """Percent-escape one path segment, including ``/`` and the dot segments ``.`` and ``..``."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    escaped = quote(value, safe="")
    if escaped in (".", ".."):
        escaped = escaped.replace(".", "%2E")  # otherwise URL normalisation would climb the path
    return escaped


def _normalise_base_url(base_url: str) -> httpx.URL:
    """Accept ``https://host``, ``https://host/`` or ``https://host/prefix/``; reject anything else."""
    problem = (
        "Use an absolute http:// or https:// URL such as https://api.pulumi.com, without credentials, "
        "query or fragment."
    )
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL:
        raise CloudError("Invalid Pulumi Cloud backend URL", problem) from None
    if url.scheme not in ("http", "https") or not url.host or url.userinfo or url.query or url.fragment:
        raise CloudError("Invalid Pulumi Cloud backend URL", problem)
    return url.copy_with(path=url.path.rstrip("/") + "/")


def _check_access_token(access_token: Secret) -> None:
    """Refuse tokens that cannot go in a header, with advice; the value itself is never shown."""
    if not access_token:
        raise CloudError(
            "No Pulumi Cloud access token",
            "Set the provider's `access_token` or the PULUMI_ACCESS_TOKEN environment variable.",
        )
    value = access_token.reveal()
    if not all("!" <= ch <= "~" for ch in value):
        # Header encoders quote an invalid value in their exception; stop before that can happen.
        raise CloudError(
            "Malformed Pulumi Cloud access token",
            "The access token contains spaces, line breaks or non-ASCII characters. Check the provider's "
            "`access_token` or PULUMI_ACCESS_TOKEN for a stray newline or quote characters.",
        )


class PulumiCloudClient:
    """Calls ``/api/orgs/{org}/tokens`` on one Pulumi Cloud with one access token.

    Thread-safe; close it (or use it as a context manager) to release pooled connections.
    ``transport`` replaces the network (tests pass :class:`httpx.MockTransport`).
    """

    def __init__(
        self,
        base_url: str,
        access_token: Secret,
        *,
        user_agent: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(access_token, Secret):
            raise TypeError("access_token must be a Secret")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        _check_access_token(access_token)
        self._base_url = _normalise_base_url(base_url)
        self._host = self._base_url.host
        self._access_token = access_token
        self._timeout = httpx.Timeout(timeout)
        self._timeout_seconds = timeout
        self._closed = False
        self._lock = threading.Lock()
        # Token values this client received: redacted from later error text as well as the access
        # token, in case a service or proxy ever quotes one back.
        self._received: set[Secret] = set()
        self._http = httpx.Client(
            base_url=self._base_url,
            headers={"User-Agent": user_agent or build_user_agent(), "Accept": ACCEPT},
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=50, keepalive_expiry=30.0),
            follow_redirects=False,  # a redirect means the backend URL is wrong: report it, do not guess
            transport=transport,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The normalised base URL (always ending in ``/``)."""
        return str(self._base_url)

    def close(self) -> None:
        """Release pooled connections; further calls raise :class:`RuntimeError`. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._http.close()

    def __enter__(self) -> PulumiCloudClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PulumiCloudClient(base_url={str(self._base_url)!r}, access_token={self._access_token!r})"

    # -- operations -----------------------------------------------------------------------------

    def create_token(self, org: str, spec: TokenSpec, *, reason: str | None = None) -> CreatedToken:
        """``POST /api/orgs/{org}/tokens``: create a token and return its id and one-time value.

        ``reason`` is an audit-log note; Pulumi Cloud takes it as a query parameter, and it is sent
        only when non-empty.
        """
        path = f"/api/orgs/{_segment(org, 'org')}/tokens"
        params = {"reason": reason} if reason else None
        action = f"create token '{spec.name}' in organization '{org}'"
        response = self._request(
            "POST", path, params=params, body=spec.to_api(), action=action, org=org, token_name=spec.name
        )
        try:
            created = CreatedToken.from_api(self._json(response, action))
        except ResponseFormatError as err:
            raise ResponseFormatError(
                f"{err.problem}. The token may have been created anyway: look for '{spec.name}' in the "
                "organization's access tokens in Pulumi Cloud and delete it if it is unwanted",
                action=action,
            ) from None
        with self._lock:
            self._received.add(created.value)
        return created

    def list_tokens(self, org: str, *, filter: TokenFilter = "all") -> list[OrgToken]:
        """``GET /api/orgs/{org}/tokens``, following continuation tokens to the last page.

        ``filter`` defaults to ``all`` (the service's own default, ``active``, hides expired tokens,
        which would then look deleted). A continuation token seen twice, or more than
        :data:`MAX_PAGES` pages, raises :class:`ResponseFormatError` instead of looping forever.
        """
        if filter not in _FILTERS:
            raise ValueError(f"filter must be one of {sorted(_FILTERS)}, not {filter!r}")
        path = f"/api/orgs/{_segment(org, 'org')}/tokens"
        action = f"list the tokens of organization '{org}'"
        tokens: list[OrgToken] = []
        seen: set[str] = set()
        continuation: str | None = None
        for _ in range(MAX_PAGES):
            params = {"filter": filter, "maxResults": str(PAGE_SIZE)}
            if continuation is not None:
                params["continuationToken"] = continuation
            response = self._request("GET", path, params=params, action=action, org=org)
            try:
                page = TokenPage.from_api(self._json(response, action))
            except ResponseFormatError as err:
                raise ResponseFormatError(err.problem, action=action) from None
            tokens.extend(page.tokens)
            continuation = page.continuation_token
            if continuation is None:
                return tokens
            if continuation in seen:
                raise ResponseFormatError(
                    f"the service returned the same continuationToken again after {len(seen) + 1} pages, "
                    "so the listing would never end",
                    action=action,
                )
            seen.add(continuation)
        raise ResponseFormatError(f"the listing did not end after {MAX_PAGES} pages", action=action)

    def delete_token(self, org: str, token_id: str) -> bool:
        """``DELETE /api/orgs/{org}/tokens/{token_id}``.

        Returns True when the token was deleted and False when Pulumi Cloud answered 404, meaning it
        was already gone (deleted out of band, or the organization itself no longer exists).
        """
        path = f"/api/orgs/{_segment(org, 'org')}/tokens/{_segment(token_id, 'token_id')}"
        action = f"delete token {token_id} from organization '{org}'"
        response = self._request("DELETE", path, action=action, org=org, tolerate=frozenset({404}))
        return response.status_code != 404

    # -- the choke point ------------------------------------------------------------------------

    def _request(
        self,
        method: Literal["GET", "POST", "DELETE"],
        path: str,
        *,
        action: str,
        org: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
        token_name: str | None = None,
        tolerate: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one request; return a 2xx answer or one whose status is in ``tolerate``.

        Raises :class:`TransportError` when no answer arrives and :class:`ApiError` for any other
        status. ``action`` completes "Could not …" in those errors.
        """
        if self._closed:
            raise RuntimeError("PulumiCloudClient is closed")
        if not path.startswith("/api/"):
            raise ValueError(f"Pulumi Cloud paths start with /api/, not {path!r}")
        headers = {"Authorization": f"token {self._access_token.reveal()}"}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method,
                path.lstrip("/"),  # relative, so a base URL path prefix (self-hosted) is kept
                params=params,
                content=content,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise self._transport_error(exc, action=action, method=method) from None
        status = response.status_code
        if 200 <= status < 300 or status in tolerate:
            return response
        raise ApiError.from_response(
            response, action=action, org=org, token_name=token_name, secrets=self._secrets()
        )

    def _secrets(self) -> tuple[Secret, ...]:
        """Every credential this client knows, for :func:`~tfprovider.secret.redact`."""
        with self._lock:
            return (self._access_token, *self._received)

    def _json(self, response: httpx.Response, action: str) -> object:
        """Decode a 2xx body; the error never quotes it (a create answer holds a token value)."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            content_type = response.headers.get("content-type", "no content type")
            raise ResponseFormatError(
                f"the answer (HTTP {response.status_code}, {content_type}) is not valid JSON", action=action
            ) from None

    def _transport_error(self, exc: httpx.TransportError, *, action: str, method: str) -> TransportError:
        """Describe a failed exchange by host and kind; httpx's own text is redacted before use."""
        host = self._host
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if isinstance(exc, httpx.TimeoutException):
            problem = f"no answer from {host} within {self._timeout_seconds:g} seconds"
            advice = "Pulumi Cloud may be slow or unreachable; try again."
        elif isinstance(exc, httpx.ConnectError):
            problem = f"could not connect to {host}"
            advice = (
                "Check the network connection, any proxy settings (HTTPS_PROXY) and the API URL (`api_url` or PULUMI_BACKEND_URL), "
                "then try again."
            )
        else:
            problem = f"the connection to {host} failed"
            advice = "Check the network connection and any proxy in between, then try again."
        cause = redact(str(exc), *self._secrets()).strip()
        if cause:
            advice += f" ({type(exc).__name__}: {cause})"
        else:
            advice += f" ({type(exc).__name__})"
        if method == "POST" and not never_sent:
            advice += (
                " The request may have reached Pulumi Cloud, so the token may exist already: check the "
                "organization's access tokens before choosing a new `name`."
            )
        return TransportError(
            f"Could not {action}: {problem}", advice, host=host, may_have_reached_service=not never_sent
        )
