"""HTTP client for Pulumi Cloud's organization-token endpoints.

One :class:`PulumiCloudClient` is made per configured provider and shared by every resource
operation Terraform runs in parallel (``-parallelism`` defaults to 10; the pool allows ~50 callers),
so it owns one pooled :class:`httpx.Client`, which is safe to use from several threads.

Every HTTP exchange goes through :meth:`PulumiCloudClient._exchange` (headers, timeout, mapping
transport failures and non-2xx answers to :mod:`tfprovider.cloud.errors`, cancellation), and the
request policy sits on top of it:

* GET and DELETE are idempotent, so :meth:`~PulumiCloudClient._request` repeats them after 429,
  500/502/503/504 and broken connections, under a :class:`~tfprovider.cloud.retry.RetryPolicy`.
  A DELETE repeated after its first answer was lost may meet 404: the token is gone, as wanted.
* A create is not idempotent and its answer holds the token's only copy of its value, so it is
  never repeated blindly. A definite refusal (429, a connection that never opened) is repeated; a
  lost answer (broken connection, 5xx that a proxy may have forwarded) is resolved by listing the
  organization's tokens: no token of that name means nothing happened and the create is tried
  again; a token of that name means Pulumi Cloud made it but the value is lost for good, so the
  provider deletes that orphan and raises :class:`~tfprovider.cloud.errors.LostTokenError`.
* Cancellation (Terraform's StopProvider) ends waits at once and abandons GET/DELETE in flight;
  a create in flight gets :data:`DEFAULT_CANCEL_GRACE` seconds to answer, because its answer is
  the token's value, and is otherwise settled by a quick listing (with orphan deletion) within
  :data:`DEFAULT_CANCEL_CLEANUP` seconds more.

Credentials: the access token is only revealed while a request's headers are built and is never
stored in the httpx client's default headers, the repr of this object, or any error. httpx masks
``Authorization`` in header reprs, and neither httpx nor httpcore logs request headers; the tests
check both at DEBUG level against a real local server. Error text is redacted against the access
token and every token value this client has received.

Logging (:mod:`tfprovider.log`, shown by Terraform with ``TF_LOG``): every exchange at DEBUG with
method, path, status, duration and attempt number, never headers, bodies or the query string
(``reason`` travels there and is the user's free text); each retry at WARN with its reason; a lost
token value at WARN when its orphan was deleted and at ERROR when it could not be.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Literal
from urllib.parse import quote

import httpx

import tfprovider
from tfprovider import log
from tfprovider.cloud.cancel import Cancellation
from tfprovider.cloud.errors import (
    ApiError,
    CancelledError,
    CloudError,
    LostTokenError,
    NameConflictError,
    ResponseFormatError,
    TransportError,
)
from tfprovider.cloud.models import CreatedToken, OrgToken, TokenPage, TokenSpec
from tfprovider.cloud.retry import DEFAULT_RETRY, RETRYABLE_STATUSES, RetryBudget, RetryPolicy
from tfprovider.cloud.stats import ClientStats
from tfprovider.cloud.workers import DaemonPool
from tfprovider.secret import Secret, redact

__all__ = [
    "AMBIGUOUS_CREATE_STATUSES",
    "DEFAULT_BASE_URL",
    "DEFAULT_CANCEL_CLEANUP",
    "DEFAULT_CANCEL_GRACE",
    "MAX_PAGES",
    "PAGE_SIZE",
    "CancelSignal",
    "PulumiCloudClient",
    "build_user_agent",
]

DEFAULT_BASE_URL: Final = "https://api.pulumi.com"
#: ``maxResults`` sent when listing: the largest page the service allows, so few round trips.
PAGE_SIZE: Final = 1000
#: Upper bound on pages followed in one listing (a million tokens), against a service that never ends.
MAX_PAGES: Final = 1000
#: The API version this client speaks, as Pulumi's own CLI asks for it.
ACCEPT: Final = "application/vnd.pulumi+8"

#: Seconds an in-flight create may still answer after Terraform asked the provider to stop.
DEFAULT_CANCEL_GRACE: Final = 3.0
#: Seconds, after that grace, for the quick listing (and orphan deletion) that settles the create.
DEFAULT_CANCEL_CLEANUP: Final = 1.0
#: Least time the orphan deletion gets in that cleanup, even when the listing used it all.
_MIN_CLEANUP_DELETE: Final = 0.25
#: Answers to a create after which it may or may not have happened (a proxy may have forwarded it).
AMBIGUOUS_CREATE_STATUSES: Final = frozenset({500, 502, 503, 504})
#: How much earlier than this create started a listed token's ``created`` time may be and still
#: be taken for the token this create made (allows for clock skew between here and the service).
CREATED_SKEW: Final = 600.0
#: Threads that run exchanges which a cancellation may abandon; matches the connection limit.
WORKERS: Final = 64

TokenFilter = Literal["active", "expired", "all"]
Method = Literal["GET", "POST", "DELETE"]
CancelSignal = threading.Event | Cancellation | None
"""What callers pass as ``cancel``: the provider's stop event, a :class:`Cancellation`, or nothing."""
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


@dataclass(frozen=True, slots=True)
class _Call:
    """One public operation's context: what may cancel it, its retry allowance, and, for the
    cleanup after a cancellation, a hard deadline on the real monotonic clock."""

    scope: Cancellation
    budget: RetryBudget
    deadline: float | None = None


def _created_from(future: Future[httpx.Response]) -> CreatedToken | None:
    """The token a finished create request made, if it finished with a readable 2xx answer."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return None
    response = future.result()
    if not 200 <= response.status_code < 300:
        return None
    try:
        return CreatedToken.from_api(json.loads(response.content))
    except (ValueError, ResponseFormatError):
        return None


def _timestamp(text: str) -> float | None:
    """Unix seconds of an ISO-8601 time, or None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _made_by(token: OrgToken, spec: TokenSpec, not_before: float) -> bool:
    """Whether ``token`` can be the one a create of ``spec`` that began at ``not_before`` made.

    Deleting a token is irreversible, so a token of the right name is only taken for this create's
    orphan when everything else matches too and it is not older than the create (give or take
    :data:`CREATED_SKEW`); anything else holding the name is reported, never deleted.
    """
    if (token.name, token.description, token.expires, token.admin) != (
        spec.name,
        spec.description,
        spec.expires,
        spec.admin,
    ):
        return False
    if spec.role_id is not None and token.role_id != spec.role_id:
        return False
    created = _timestamp(token.created)
    return created is None or created >= not_before - CREATED_SKEW


def _stopped_detail(method: Method, *, in_flight: bool) -> str:
    """What is known after a cancellation, by method: nothing changed, or what might have."""
    if method == "GET":
        return "The provider stopped before the answer arrived; nothing was changed in Pulumi Cloud."
    if method == "DELETE":
        if in_flight:
            return (
                "The delete request had been sent, so the token may be deleted already. Run Terraform "
                "again to finish; a token that is already gone counts as deleted."
            )
        return (
            "The provider stopped before Pulumi Cloud confirmed the deletion, so the token may still "
            "exist. Run Terraform again to delete it; a token that is already gone counts as deleted."
        )
    return "No token was created: the provider stopped before sending the create request. Apply again."


def _retry_kind(error: CloudError) -> str | None:
    """The :data:`~tfprovider.cloud.stats.RETRY_KINDS` entry for a failure worth repeating, else None."""
    if isinstance(error, ApiError):
        if error.status not in RETRYABLE_STATUSES:
            return None
        return "rate_limited" if error.status == 429 else "server_error"
    if isinstance(error, TransportError):
        return "timeout" if error.timed_out else "connection"
    return None


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _log_exchange(
    method: Method, path: str, attempt: int, started: float, *, status: int = 0, failure: str = ""
) -> None:
    """One DEBUG line per exchange. The path only: the query may hold ``reason``, the user's text,
    and headers and bodies hold credentials and token values."""
    if not log.enabled("debug"):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    if failure:
        log.debug(
            "Pulumi Cloud request failed",
            method=method,
            path=path,
            error=failure,
            duration_ms=duration_ms,
            attempt=attempt,
        )
    else:
        log.debug(
            "Pulumi Cloud request",
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            attempt=attempt,
        )


class PulumiCloudClient:
    """Calls ``/api/orgs/{org}/tokens`` on one Pulumi Cloud with one access token.

    Thread-safe; close it (or use it as a context manager) to release pooled connections.
    ``transport`` replaces the network (tests pass :class:`httpx.MockTransport`).

    ``retry`` is the request policy (:data:`~tfprovider.cloud.retry.DEFAULT_RETRY` when None).
    ``cancel`` stops every operation of this client when set (the provider passes its StopProvider
    event); each operation also takes its own ``cancel``. ``cancel_grace`` is how long an in-flight
    create may still answer after cancellation, ``cancel_cleanup`` how long the listing that then
    settles it may take. ``clock`` (monotonic seconds) and ``sleep`` drive the retry budget and the
    backoff waits only, so tests can run them on fake time; without ``sleep`` a backoff wait is a
    wait on the cancellation, which ends it at once. Counters are in :attr:`stats`.
    """

    stats: ClientStats

    def __init__(
        self,
        base_url: str,
        access_token: Secret,
        *,
        user_agent: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        cancel: CancelSignal = None,
        cancel_grace: float = DEFAULT_CANCEL_GRACE,
        cancel_cleanup: float = DEFAULT_CANCEL_CLEANUP,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not isinstance(access_token, Secret):
            raise TypeError("access_token must be a Secret")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if cancel_grace < 0 or cancel_cleanup <= 0:
            raise ValueError("cancel_grace must not be negative and cancel_cleanup must be positive")
        _check_access_token(access_token)
        self._base_url = _normalise_base_url(base_url)
        self._host = self._base_url.host
        self._access_token = access_token
        self._timeout = httpx.Timeout(timeout)
        self._timeout_seconds = timeout
        self._retry = retry or DEFAULT_RETRY
        self._cancel = cancel
        self._cancel_grace = cancel_grace
        self._cancel_cleanup = cancel_cleanup
        self._clock = clock
        self._sleep = sleep
        self.stats = ClientStats()
        self._closed = False
        self._lock = threading.Lock()
        # Token values this client received: redacted from later error text as well as the access
        # token, in case a service or proxy ever quotes one back.
        self._received: set[Secret] = set()
        # IDs of orphans whose deletion has begun, so the counters count each lost value once.
        self._orphans: set[str] = set()
        self._pool: DaemonPool | None = None
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

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    def close(self) -> None:
        """Release pooled connections; further calls raise :class:`RuntimeError`. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
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

    def create_token(
        self, org: str, spec: TokenSpec, *, reason: str | None = None, cancel: CancelSignal = None
    ) -> CreatedToken:
        """``POST /api/orgs/{org}/tokens``: create a token and return its id and one-time value.

        ``reason`` is an audit-log note; Pulumi Cloud takes it as a query parameter, and it is sent
        only when non-empty. Raises :class:`~tfprovider.cloud.errors.LostTokenError` when the token
        was made but its value could not be received (the token is then deleted),
        :class:`~tfprovider.cloud.errors.NameConflictError` on 409 and
        :class:`~tfprovider.cloud.errors.CancelledError` when stopped.
        """
        path = f"/api/orgs/{_segment(org, 'org')}/tokens"
        call = self._call(cancel)
        try:
            return self._create(org, spec, path, {"reason": reason} if reason else None, call)
        except CancelledError:
            self.stats.add("cancelled")
            raise

    def list_tokens(
        self, org: str, *, filter: TokenFilter = "all", cancel: CancelSignal = None
    ) -> list[OrgToken]:
        """``GET /api/orgs/{org}/tokens``, following continuation tokens to the last page.

        ``filter`` defaults to ``all`` (the service's own default, ``active``, hides expired tokens,
        which would then look deleted). A continuation token seen twice, or more than
        :data:`MAX_PAGES` pages, raises :class:`ResponseFormatError` instead of looping forever.
        All pages share one retry budget.
        """
        if filter not in _FILTERS:
            raise ValueError(f"filter must be one of {sorted(_FILTERS)}, not {filter!r}")
        _segment(org, "org")
        try:
            return self._list(org, filter, self._call(cancel))
        except CancelledError:
            self.stats.add("cancelled")
            raise

    def delete_token(self, org: str, token_id: str, *, cancel: CancelSignal = None) -> bool:
        """``DELETE /api/orgs/{org}/tokens/{token_id}``.

        Returns True when the token was deleted and False when Pulumi Cloud answered 404, meaning it
        was already gone (deleted out of band, by an earlier try whose answer was lost, or the
        organization itself no longer exists).
        """
        _segment(org, "org")
        _segment(token_id, "token_id")
        try:
            return self._delete(org, token_id, self._call(cancel))
        except CancelledError:
            self.stats.add("cancelled")
            raise

    # -- operation bodies -----------------------------------------------------------------------

    def _call(self, cancel: CancelSignal) -> _Call:
        return _Call(Cancellation(self._cancel, cancel), RetryBudget(self._retry, self._clock))

    def _cleanup_call(self, seconds: float) -> _Call:
        """A single-try, uncancellable context with a hard deadline, for settling after a stop."""
        return _Call(
            Cancellation.never(),
            RetryBudget(RetryPolicy.disabled(), self._clock),
            deadline=time.monotonic() + seconds,
        )

    def _list(self, org: str, filter: TokenFilter, call: _Call) -> list[OrgToken]:
        path = f"/api/orgs/{_segment(org, 'org')}/tokens"
        action = f"list the tokens of organization '{org}'"
        tokens: list[OrgToken] = []
        seen: set[str] = set()
        continuation: str | None = None
        for _ in range(MAX_PAGES):
            params = {"filter": filter, "maxResults": str(PAGE_SIZE)}
            if continuation is not None:
                params["continuationToken"] = continuation
            response = self._request("GET", path, params=params, action=action, org=org, call=call)
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

    def _delete(self, org: str, token_id: str, call: _Call) -> bool:
        path = f"/api/orgs/{_segment(org, 'org')}/tokens/{_segment(token_id, 'token_id')}"
        action = f"delete token {token_id} from organization '{org}'"
        response = self._request("DELETE", path, action=action, org=org, call=call, tolerate=frozenset({404}))
        return response.status_code != 404

    def _create(
        self, org: str, spec: TokenSpec, path: str, params: Mapping[str, str] | None, call: _Call
    ) -> CreatedToken:
        """The create protocol: repeat only what certainly did not happen; settle the rest."""
        action = f"create token '{spec.name}' in organization '{org}'"
        body = spec.to_api()
        not_before = time.time()
        attempts = 0
        ambiguous_seen = False
        while True:
            attempts += 1
            abandoned: list[Future[httpx.Response]] = []
            try:
                response = self._exchange(
                    "POST",
                    path,
                    action=action,
                    org=org,
                    call=call,
                    params=params,
                    body=body,
                    token_name=spec.name,
                    grace=self._cancel_grace,
                    on_abandon=abandoned.append,
                    attempt=attempts,
                )
            except CancelledError as err:
                if not err.in_flight:
                    raise
                what = (
                    "Terraform asked the provider to stop while the create request was in flight, and "
                    f"no answer came within {self._cancel_grace:g} seconds."
                )
                outcome = self._settle_after_cancel(org, spec, action, not_before, abandoned, what)
                if isinstance(outcome, CreatedToken):
                    return outcome
                raise outcome from None
            except ApiError as err:
                if err.status == 409:
                    raise self._name_conflict(err, org, spec, call, not_before, ambiguous_seen) from None
                if err.status == 429:  # refused outright: nothing was created, so asking again is safe
                    self._backoff(call, err, attempts, "rate_limited", action, "POST")
                    continue
                if err.status not in AMBIGUOUS_CREATE_STATUSES:
                    if err.status >= 500:
                        err.append_detail(
                            f"The token may have been created anyway: look for '{spec.name}' in the "
                            "organization's access tokens in Pulumi Cloud and delete it if it is unwanted."
                        )
                    raise
                failure: ApiError | TransportError = err
                what = f"Pulumi Cloud answered HTTP {err.status} to the create request."
            except TransportError as err:
                if not err.may_have_reached_service:  # the request never left: safe to send again
                    kind = "timeout" if err.timed_out else "connection"
                    self._backoff(call, err, attempts, kind, action, "POST")
                    continue
                failure = err
                what = f"The answer to the create request was lost ({err.summary.partition(': ')[2]})."
            else:
                try:
                    created = CreatedToken.from_api(self._json(response, action))
                except ResponseFormatError as err:
                    raise self._unreadable_create(err, org, spec, call, not_before, action) from None
                self._remember(created.value)
                return created

            # The create may or may not have happened: look before trying again.
            ambiguous_seen = True
            self.stats.add("ambiguous_creates")
            log.warn("create got no clear answer; listing tokens to check", org=org, token_name=spec.name)
            try:
                ours = self._find_ours(org, spec, call, not_before)
            except CancelledError:
                stopped = f"{what} Then Terraform asked the provider to stop."
                outcome = self._settle_after_cancel(org, spec, action, not_before, [], stopped)
                if isinstance(outcome, CreatedToken):
                    return outcome
                raise outcome from None
            except CloudError as exc:
                failure.append_detail(
                    f"Checking whether token '{spec.name}' was created failed as well ({exc.summary}). "
                    f"Look for '{spec.name}' under Settings → Access Tokens of organization '{org}': if it "
                    "exists, delete it (its value is lost) and choose a new `name`; if it does not, apply "
                    "again."
                )
                raise failure from None
            if ours is not None:
                raise self._discard_orphan(org, spec.name, ours.id, what, call) from None
            failure.append_detail(f"Pulumi Cloud shows no token named '{spec.name}', so none was created.")
            kind = _retry_kind(failure) or "server_error"
            self._backoff(call, failure, attempts, kind, action, "POST")

    def _find_ours(self, org: str, spec: TokenSpec, call: _Call, not_before: float) -> OrgToken | None:
        """The token this create made, if the listing shows one (see :func:`_made_by`)."""
        for token in self._list(org, "all", call):
            if token.name == spec.name:
                return token if _made_by(token, spec, not_before) else None
        return None

    def _name_conflict(
        self, err: ApiError, org: str, spec: TokenSpec, call: _Call, not_before: float, ambiguous_seen: bool
    ) -> CloudError:
        """Explain a 409 by who holds the name; an earlier lost create of ours may be the holder."""
        try:
            tokens = self._list(org, "all", call)
        except CloudError:
            return NameConflictError.from_conflict(err, org=org, holder_id=None, holder="unknown")
        holder = next((token for token in tokens if token.name == spec.name), None)
        if holder is None:
            return NameConflictError.from_conflict(err, org=org, holder_id=None, holder="deleted")
        if ambiguous_seen and _made_by(holder, spec, not_before):
            what = (
                "An earlier create request got no clear answer and did create the token after all "
                "(the repeated request was refused because the name was taken)."
            )
            return self._discard_orphan(org, spec.name, holder.id, what, call)
        live = holder.expires == 0 or holder.expires > time.time()
        return NameConflictError.from_conflict(
            err, org=org, holder_id=holder.id, holder="live" if live else "expired"
        )

    def _unreadable_create(
        self, err: ResponseFormatError, org: str, spec: TokenSpec, call: _Call, not_before: float, action: str
    ) -> CloudError:
        """A 2xx create answer that cannot be read: the token exists but its value is unusable."""
        try:
            ours = self._find_ours(org, spec, call, not_before)
        except CloudError:
            ours = None
        if ours is None:
            return ResponseFormatError(
                f"{err.problem}. The token may have been created anyway: look for '{spec.name}' in the "
                "organization's access tokens in Pulumi Cloud and delete it if it is unwanted",
                action=action,
            )
        what = f"Pulumi Cloud's answer to the create request could not be read ({err.problem})."
        return self._discard_orphan(org, spec.name, ours.id, what, call)

    def _discard_orphan(self, org: str, name: str, token_id: str, what: str, call: _Call) -> LostTokenError:
        """Delete a token whose value never arrived (a live credential nobody holds) and say so."""
        with self._lock:
            first = token_id not in self._orphans
            self._orphans.add(token_id)
        problem = ""
        try:
            try:
                self._delete(org, token_id, call)
            except CancelledError:  # stopping must not leave the credential behind: one quick try
                self._delete(org, token_id, self._cleanup_call(self._cancel_cleanup))
        except CloudError as exc:
            problem = exc.summary
        if first:
            self.stats.add("values_lost")
            self.stats.add("orphan_delete_failures" if problem else "orphans_deleted")
        error = LostTokenError(
            org=org,
            token_name=name,
            token_id=token_id,
            orphan_deleted=not problem,
            what_happened=what,
            delete_problem=problem,
        )
        if problem:
            log.error(
                "token value lost and the token could not be deleted; delete it by hand",
                org=org,
                token_name=name,
                token_id=token_id,
                problem=problem,
            )
        else:
            log.warn("token value lost; the token was deleted", org=org, token_name=name, token_id=token_id)
        return error

    def _settle_after_cancel(
        self,
        org: str,
        spec: TokenSpec,
        action: str,
        not_before: float,
        abandoned: list[Future[httpx.Response]],
        what: str,
    ) -> CreatedToken | CloudError:
        """After a stop interrupted a create whose outcome is unknown, list quickly, then return the
        token (its answer arrived meanwhile), or the error to raise: the orphan was deleted, or what
        is known. Bounded by ``cancel_cleanup`` seconds plus a short delete.

        A create request still in flight (``abandoned``) may yet be committed after the listing
        missed it; its late answer is then handled by :meth:`_on_late_create`, which deletes it.
        """
        call = self._cleanup_call(self._cancel_cleanup)
        try:
            ours = self._find_ours(org, spec, call, not_before)
        except CloudError as exc:
            ours = None
            outcome: CloudError = CancelledError(
                action,
                f"{what} Checking whether token '{spec.name}' was created did not finish in time "
                f"({exc.summary}). Look for '{spec.name}' under Settings → Access Tokens of organization "
                f"'{org}': if it exists, delete it (its value is lost) and choose a new `name`; if it does "
                "not, apply again.",
                in_flight=True,
            )
        else:
            outcome = CancelledError(
                action,
                f"{what} Pulumi Cloud shows no token named '{spec.name}', so it was not created; apply "
                "again to create it. Should the request still complete, the provider deletes the token "
                f"while it runs; if '{spec.name}' shows up later under Settings → Access Tokens, delete it "
                "and choose a new `name`.",
                in_flight=True,
            )
        for future in abandoned:
            created = _created_from(future)
            if created is not None:  # the answer came after all: the caller records the token
                self._remember(created.value)
                return created
        if ours is not None:
            for future in abandoned:  # its value, should it still arrive, is only kept for redaction
                future.add_done_callback(self._remember_late_value)
            seconds = max(_MIN_CLEANUP_DELETE, _remaining(call.deadline) or 0.0)
            return self._discard_orphan(org, spec.name, ours.id, what, self._cleanup_call(seconds))
        late_errors: list[LostTokenError] = []
        for future in abandoned:
            # Runs at once, in this thread, if the answer arrived since the check above.
            future.add_done_callback(
                lambda done: self._on_late_create(org, spec.name, done, late_errors.append)
            )
        return late_errors[0] if late_errors else outcome

    def _remember_late_value(self, future: Future[httpx.Response]) -> None:
        created = _created_from(future)
        if created is not None:
            self._remember(created.value)

    def _on_late_create(
        self,
        org: str,
        name: str,
        future: Future[httpx.Response],
        report: Callable[[LostTokenError], None],
    ) -> None:
        """A create answer that arrived after the operation gave up on it: delete its token, whose
        value nobody will ever record, and ``report`` the outcome. Runs on the worker thread."""
        created = _created_from(future)
        if created is None:
            return
        self._remember(created.value)
        what = (
            "Terraform asked the provider to stop while the create request was in flight; its answer "
            "arrived only after the provider had stopped waiting."
        )
        try:
            call = _Call(Cancellation.never(), RetryBudget(RetryPolicy.disabled(), self._clock))
            report(self._discard_orphan(org, name, created.id, what, call))
        except Exception as exc:  # the client may be closed by now; the log is all that is left
            log.error(
                "could not delete a token whose create answered too late; delete it by hand",
                org=org,
                token_name=name,
                token_id=created.id,
                exception=type(exc).__name__,
            )

    # -- the choke points -----------------------------------------------------------------------

    def _request(
        self,
        method: Literal["GET", "DELETE"],
        path: str,
        *,
        action: str,
        org: str,
        call: _Call,
        params: Mapping[str, str] | None = None,
        tolerate: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send an idempotent request, repeating it after transient failures under the policy."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._exchange(
                    method,
                    path,
                    action=action,
                    org=org,
                    call=call,
                    params=params,
                    tolerate=tolerate,
                    attempt=attempts,
                )
            except (ApiError, TransportError) as err:
                kind = _retry_kind(err)
                if kind is None:
                    raise
                self._backoff(call, err, attempts, kind, action, method)

    def _backoff(
        self, call: _Call, error: CloudError, attempts: int, kind: str, action: str, method: Method
    ) -> None:
        """Wait before another try, or raise ``error`` saying why no more tries are made."""
        retry_after = error.retry_after if isinstance(error, ApiError) else None
        wait = call.budget.next_wait(attempts, retry_after)
        status = error.status if isinstance(error, ApiError) else None
        if isinstance(wait, str):
            log.warn(
                "giving up on Pulumi Cloud request",
                action=action,
                cause=kind,
                status=status,
                attempts=attempts,
            )
            error.append_detail(wait)
            raise error
        log.warn(
            "retrying Pulumi Cloud request",
            action=action,
            cause=kind,
            status=status,
            attempt=attempts,
            wait_seconds=round(wait, 3),
        )
        if self._sleep is None:
            cancelled = call.scope.wait(wait)
        else:
            cancelled = call.scope.cancelled
            if not cancelled:
                self._sleep(wait)
                cancelled = call.scope.cancelled
        if cancelled:
            log.debug("retry wait ended by cancellation", action=action, cause=kind)
            raise CancelledError(action, _stopped_detail(method, in_flight=False)) from None
        self.stats.record_retry(kind)

    def _exchange(
        self,
        method: Method,
        path: str,
        *,
        action: str,
        org: str,
        call: _Call,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
        token_name: str | None = None,
        tolerate: frozenset[int] = frozenset(),
        grace: float = 0.0,
        on_abandon: Callable[[Future[httpx.Response]], None] | None = None,
        attempt: int = 1,
    ) -> httpx.Response:
        """Send one request; return a 2xx answer or one whose status is in ``tolerate``.

        Raises :class:`TransportError` when no answer arrives, :class:`ApiError` for any other
        status and :class:`CancelledError` when ``call`` is cancelled before or while it runs
        (after waiting ``grace`` more seconds for an answer; ``on_abandon`` then gets the
        abandoned request). ``action`` completes "Could not …" in those errors. Each exchange
        that was attempted is logged at DEBUG (``attempt`` counts the tries of one request).
        """
        if self._closed:
            raise RuntimeError("PulumiCloudClient is closed")
        if not path.startswith("/api/"):
            raise ValueError(f"Pulumi Cloud paths start with /api/, not {path!r}")
        if call.scope.cancelled:
            raise CancelledError(action, _stopped_detail(method, in_flight=False))
        headers = {"Authorization": f"token {self._access_token.reveal()}"}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        timeout = self._timeout
        remaining = _remaining(call.deadline)
        if remaining is not None:
            if remaining <= 0:
                raise self._deadline_error(action, 0.0, sent=False)
            timeout = httpx.Timeout(min(self._timeout_seconds, remaining))

        def send() -> httpx.Response:
            if method == "POST":  # counted here, so a request abandoned while still queued is not
                self.stats.add("create_requests")
            return self._http.request(
                method,
                path.lstrip("/"),  # relative, so a base URL path prefix (self-hosted) is kept
                params=params,
                content=content,
                headers=headers,
                timeout=timeout,
            )

        started = time.perf_counter()
        try:
            if call.scope.possible or call.deadline is not None:
                response = self._await(
                    send, call, action=action, method=method, grace=grace, on_abandon=on_abandon
                )
            else:
                response = send()
        except httpx.TransportError as exc:
            _log_exchange(method, path, attempt, started, failure=type(exc).__name__)
            raise self._transport_error(exc, action=action, method=method) from None
        except CloudError as exc:  # cancelled, or past the cleanup deadline
            _log_exchange(method, path, attempt, started, failure=type(exc).__name__)
            raise
        status = response.status_code
        _log_exchange(method, path, attempt, started, status=status)
        if 200 <= status < 300 or status in tolerate:
            return response
        raise ApiError.from_response(
            response, action=action, org=org, token_name=token_name, secrets=self._secrets()
        )

    def _await(
        self,
        send: Callable[[], httpx.Response],
        call: _Call,
        *,
        action: str,
        method: Method,
        grace: float,
        on_abandon: Callable[[Future[httpx.Response]], None] | None,
    ) -> httpx.Response:
        """Run ``send`` on a worker and wait for it, the cancellation or the deadline, whichever first."""
        started = time.monotonic()
        future = self._workers().submit(send)
        done = call.scope.wait_for(future, _remaining(call.deadline))
        if not done and call.scope.cancelled and grace > 0:
            limit = _remaining(call.deadline)
            done = Cancellation.never().wait_for(future, grace if limit is None else min(grace, limit))
        if not done and future.cancel():  # still queued: it was never sent
            if call.scope.cancelled:
                raise CancelledError(action, _stopped_detail(method, in_flight=False))
            raise self._deadline_error(action, time.monotonic() - started, sent=False)
        if not done:
            self.stats.add("abandoned_requests")
            if on_abandon is not None:
                on_abandon(future)
            if call.scope.cancelled:
                raise CancelledError(action, _stopped_detail(method, in_flight=True), in_flight=True)
            raise self._deadline_error(action, time.monotonic() - started, sent=True)
        return future.result()

    def _workers(self) -> DaemonPool:
        with self._lock:
            if self._closed:
                raise RuntimeError("PulumiCloudClient is closed")
            if self._pool is None:
                self._pool = DaemonPool(WORKERS, name="pulumi-cloud-http")
            return self._pool

    def _deadline_error(self, action: str, waited: float, *, sent: bool) -> TransportError:
        return TransportError(
            f"Could not {action}: no answer from {self._host} within {waited:.1f} seconds",
            "The provider was settling an operation after Terraform asked it to stop, and could not "
            "wait longer.",
            host=self._host,
            may_have_reached_service=sent,
            timed_out=True,
        )

    def _remember(self, value: Secret) -> None:
        with self._lock:
            self._received.add(value)

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
                "Check the network connection, any proxy settings (HTTPS_PROXY) and the API URL "
                "(`api_url` or PULUMI_BACKEND_URL), then try again."
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
            f"Could not {action}: {problem}",
            advice,
            host=host,
            may_have_reached_service=not never_sent,
            timed_out=isinstance(exc, httpx.TimeoutException),
        )
