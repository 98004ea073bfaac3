"""Deterministic fault injection: the emulator misbehaving the way a real service behind proxies does.

Why: retry and recovery code (429 with ``Retry-After``, a 5xx from a proxy, a connection reset, a
create that committed although its answer was lost) can only be trusted once it has run, and it
is only debuggable when a failing run can be repeated. So every fault decision comes from ONE
``random.Random`` seeded with ``--seed``: the same seed and the same order of requests give the
same faults, request by request.

Which requests can be faulted: every request under ``/api/`` except the emulator's own harness
endpoints, the audit log (``GET /api/orgs/{org}/auditlogs``) and the counters
(``GET /api/emulator/stats``), which tests and reports must be able to read reliably. Those never
draw from the RNG either, so reading them between requests does not shift the sequence. Requests
outside ``/api/`` (a readiness probe on ``/``) are never faulted, and nothing here runs before the
server listens, so the ``PULUMI_BACKEND_URL=...`` first line on stdout is never delayed.

Faults, with their CLI flags (rates are probabilities in [0, 1], each an independent draw):

* ``--latency-ms`` / ``--latency-jitter-ms``: sleep ``latency + uniform(0, jitter)`` ms before
  handling the request (also before answering with any fault below);
* ``--reset-rate``: reset the connection (RST) without handling the request; nothing is changed;
* ``--throttle-rate``: answer 429 with ``Retry-After`` either ``1`` (seconds form) or the HTTP
  date of the next whole second (date form); nothing is changed;
* ``--error-rate``: answer 500, 502 or 503, with a JSON ``{"code", "message"}`` body or, one time
  in four, a plain-text body as a proxy would send; nothing is changed;
* ``--drop-after-commit-rate``: creates only: handle the create, and if it succeeded (the token is
  committed and its value is now lost for good) reset the connection instead of answering. A
  refused create (400, 409, ...) is answered normally.

Order of draws, fixed: for each faultable request, under the RNG lock, exactly seven numbers are
drawn whatever the outcome, so the numbers the n-th faultable request gets depend only on the seed
and n (not on which endpoints came before; with concurrent clients, n is the order of arrival):

1. latency jitter; 2. reset; 3. throttle; 4. error; 5. drop-after-commit (drawn for every request,
used only by creates); 6. variant: the 5xx status (thirds: 500, 502, 503) or the ``Retry-After``
form (halves: seconds, date); 7. variant: the 5xx body form (below 0.25: plain text).

The first of 2-5 whose draw is below its rate is the fault applied; the others are ignored.
"""

from __future__ import annotations

import enum
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from email.utils import formatdate
from http import HTTPStatus

from tfprovider.emulator.app import ApiRequest, ApiResponse, DropConnection, Operation, RequestHandler

EXEMPT_OPERATIONS = frozenset({Operation.AUDIT_LOG, Operation.STATS})
"""Harness endpoints: never delayed or faulted, and they draw nothing from the RNG."""

ERROR_STATUSES = (HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE)
PLAIN_TEXT_SHARE = 0.25
"""The share of injected 5xx answers that carry a plain-text body instead of JSON."""
RETRY_AFTER_SECONDS = 1

_DRAWS_PER_REQUEST = 7


class FaultKind(enum.StrEnum):
    ERROR = "error"
    THROTTLE = "throttle"
    RESET = "reset"
    DROP_AFTER_COMMIT = "drop_after_commit"


class FaultSettingsError(ValueError):
    """A fault setting out of range; the message names the command-line flag and what to give."""


RATE_HINT = "give a number from 0 to 1 (e.g. 0.1 for 10% of requests)"
MILLIS_HINT = "give a number of milliseconds, 0 or more"


def is_rate(value: float) -> bool:
    return math.isfinite(value) and 0.0 <= value <= 1.0


def is_millis(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


@dataclass(frozen=True)
class FaultSettings:
    """What to inject; all zero (the default) means a well-behaved emulator."""

    seed: int
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    reset_rate: float = 0.0
    drop_after_commit_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise FaultSettingsError(f"--seed must be 0 or more, got {self.seed}")
        delays = (("--latency-ms", self.latency_ms), ("--latency-jitter-ms", self.latency_jitter_ms))
        for flag, millis in delays:
            if not is_millis(millis):
                raise FaultSettingsError(f"{flag} is {millis}: {MILLIS_HINT}")
        for flag, rate in (
            ("--error-rate", self.error_rate),
            ("--throttle-rate", self.throttle_rate),
            ("--reset-rate", self.reset_rate),
            ("--drop-after-commit-rate", self.drop_after_commit_rate),
        ):
            if not is_rate(rate):
                raise FaultSettingsError(f"{flag} is {rate}, not a probability: {RATE_HINT}")

    @property
    def active(self) -> bool:
        return any(value > 0 for name, value in asdict(self).items() if name != "seed")

    def describe(self) -> str:
        """One line for the startup log, so a run can be repeated from its log alone."""
        return (
            f"seed {self.seed}, latency {self.latency_ms:g}+{self.latency_jitter_ms:g}ms, "
            f"error {self.error_rate:g}, throttle {self.throttle_rate:g}, reset {self.reset_rate:g}, "
            f"drop-after-commit {self.drop_after_commit_rate:g}"
        )


class TrafficStats:
    """Thread-safe counters of requests by operation and of injected faults.

    ``snapshot`` is the payload of ``GET /api/emulator/stats``; every key is always present (zero
    when nothing happened), so a harness can index it without checks. A stats request counts itself.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._requests = dict.fromkeys(Operation, 0)
        self._faults = dict.fromkeys(FaultKind, 0)

    def count_request(self, operation: Operation) -> None:
        with self._lock:
            self._requests[operation] += 1

    def count_fault(self, kind: FaultKind) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "seed": self._seed,
                "requests": {str(operation): count for operation, count in self._requests.items()},
                "faults": {str(kind): count for kind, count in self._faults.items()},
            }


@dataclass(frozen=True)
class _Draws:
    """The seven numbers of one request, in the documented order."""

    jitter: float
    reset: float
    throttle: float
    error: float
    drop_after_commit: float
    variant: float
    body_form: float


class FaultInjector:
    """Wraps the emulator's request handler; the server runs this instead of the app itself.

    ``classify`` names each request's operation (``EmulatorApp.operation``); ``sleep`` and
    ``clock`` are injectable so unit tests need not wait.
    """

    def __init__(
        self,
        inner: RequestHandler,
        classify: Callable[[ApiRequest], Operation],
        settings: FaultSettings,
        stats: TrafficStats,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inner = inner
        self._classify = classify
        self._settings = settings
        self._stats = stats
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(settings.seed)
        self._rng_lock = threading.Lock()

    def __call__(self, request: ApiRequest) -> ApiResponse:
        operation = self._classify(request)
        self._stats.count_request(operation)
        if not request.path.startswith("/api/") or operation in EXEMPT_OPERATIONS:
            return self._inner(request)
        draws = self._draw()
        settings = self._settings
        delay_ms = settings.latency_ms + draws.jitter * settings.latency_jitter_ms
        if delay_ms > 0:
            self._sleep(delay_ms / 1000)
        if draws.reset < settings.reset_rate:
            self._stats.count_fault(FaultKind.RESET)
            raise DropConnection("fault: reset")
        if draws.throttle < settings.throttle_rate:
            self._stats.count_fault(FaultKind.THROTTLE)
            return self._throttled(date_form=draws.variant >= 0.5)
        if draws.error < settings.error_rate:
            self._stats.count_fault(FaultKind.ERROR)
            status = ERROR_STATUSES[min(int(draws.variant * len(ERROR_STATUSES)), len(ERROR_STATUSES) - 1)]
            return _server_error(status, plain_text=draws.body_form < PLAIN_TEXT_SHARE)
        response = self._inner(request)
        if (
            operation is Operation.CREATE
            and draws.drop_after_commit < settings.drop_after_commit_rate
            and response.status == HTTPStatus.OK
        ):
            self._stats.count_fault(FaultKind.DROP_AFTER_COMMIT)
            raise DropConnection("fault: drop after commit")
        return response

    def _draw(self) -> _Draws:
        with self._rng_lock:  # one critical section per request: concurrent draws never interleave
            numbers = [self._rng.random() for _ in range(_DRAWS_PER_REQUEST)]
        return _Draws(*numbers)

    def _throttled(self, *, date_form: bool) -> ApiResponse:
        if date_form:
            # The next whole second: never in the past when sent, at most about a second ahead.
            retry_after = formatdate(math.floor(self._clock()) + RETRY_AFTER_SECONDS, usegmt=True)
        else:
            retry_after = str(RETRY_AFTER_SECONDS)
        response = ApiResponse.error(
            HTTPStatus.TOO_MANY_REQUESTS,
            "Too Many Requests: rate limit exceeded (injected by --throttle-rate); the request had "
            "no effect, retry it after the Retry-After delay.",
            (("Retry-After", retry_after),),
        )
        return replace(response, log_note=f"fault: throttle, Retry-After {retry_after}")


def _server_error(status: HTTPStatus, *, plain_text: bool) -> ApiResponse:
    if plain_text:
        text = f"{status.value} {status.phrase}: upstream unavailable (injected by --error-rate)\n"
        response = ApiResponse(status, text.encode(), (("Content-Type", "text/plain; charset=utf-8"),))
    else:
        message = f"{status.phrase}: injected by --error-rate; the request had no effect, retry it."
        response = ApiResponse.error(status, message)
    return replace(response, log_note=f"fault: error ({'text' if plain_text else 'json'})")
