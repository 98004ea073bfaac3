"""When and how long to wait before repeating a request to Pulumi Cloud.

Pulumi Cloud sits behind a WAF that answers 429 in bursts, and any large service has moments of
502/503 or dropped connections. A Terraform run creating or reading dozens of tokens in parallel
should ride those out instead of failing half-way, but it must also not hang: every operation has
a total time budget, and a single wait is capped so a hostile ``Retry-After`` cannot stall a run.

This module only decides; :mod:`tfprovider.cloud.client` applies the decisions (which requests
may be repeated at all is the client's business: a create is never repeated blindly).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["DEFAULT_RETRY", "RETRYABLE_STATUSES", "Jitter", "RetryBudget", "RetryPolicy"]

#: Statuses after which the same request may succeed unchanged: rate limiting and the gateway-style
#: server failures. 501 (not implemented) and other 5xx are definite and not repeated.
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

Jitter = Literal["full", "equal", "none"]

#: Shared source of jitter when a policy brings none; ``random.Random`` methods are safe to call
#: from several threads.
_SYSTEM_RNG: Final = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, bounded by attempts and by total elapsed time.

    The n-th retry waits about ``base_delay * 2**(n-1)`` seconds, at most ``max_delay``. Jitter
    spreads the many parallel callers of one provider apart: ``"full"`` draws the wait uniformly
    from ``[0, delay]``, ``"equal"`` from ``[delay/2, delay]``, ``"none"`` waits exactly ``delay``.
    A ``Retry-After`` from the service raises the wait to what it asks, still capped at
    ``max_delay`` (Pulumi's own CLI caps at 30 s too). ``max_attempts`` counts the first try;
    ``max_elapsed`` is the whole operation's budget, and a wait that would end past it is not
    started: the last error is raised instead. ``rng`` makes jitter reproducible in tests.
    """

    max_attempts: int = 6
    max_elapsed: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: Jitter = "equal"
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (1 means no retries)")
        if self.max_elapsed < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("max_elapsed, base_delay and max_delay must not be negative")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"jitter must be 'full', 'equal' or 'none', not {self.jitter!r}")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """Every request is tried once (an ambiguous create is still checked, never repeated)."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int) -> float:
        """The jittered wait before retry ``retry_number`` (1 for the first retry)."""
        if retry_number < 1:
            raise ValueError("retry_number starts at 1")
        # min() before the power would overflow only past 2**1023; clamp the exponent instead.
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(retry_number - 1, 60))
        rng = self.rng or _SYSTEM_RNG
        if self.jitter == "full":
            return rng.uniform(0.0, delay)
        if self.jitter == "equal":
            return delay / 2 + rng.uniform(0.0, delay / 2)
        return delay

    def wait_before(self, retry_number: int, retry_after: float | None = None) -> float:
        """The wait before retry ``retry_number``, honouring the service's ``Retry-After``."""
        wait = self.backoff(retry_number)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_delay)


#: The policy a client uses when it is given none.
DEFAULT_RETRY: Final = RetryPolicy()


class RetryBudget:
    """One logical operation's allowance under a policy (a listing with all its pages, or a create
    with its recovery), measured on ``clock`` from when the operation began.

    Not shared between threads: each operation makes its own.
    """

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._started = clock()

    @property
    def elapsed(self) -> float:
        return max(0.0, self._clock() - self._started)

    def next_wait(self, attempts: int, retry_after: float | None = None) -> float | str:
        """How long to wait before another try after ``attempts`` failed ones of one request.

        Returns the wait in seconds, or, when the policy allows no more, a sentence for the error
        saying how many attempts were made and why the provider gave up.
        """
        policy = self.policy
        if attempts >= policy.max_attempts:
            if policy.max_attempts == 1:
                return "Retries are turned off, so the provider tried once."
            return f"The provider tried {attempts} times over {self.elapsed:.0f} seconds before giving up."
        wait = policy.wait_before(attempts, retry_after)
        elapsed = self.elapsed
        if elapsed + wait > policy.max_elapsed:
            return (
                f"The provider tried {attempts} time{'s' if attempts != 1 else ''} over {elapsed:.0f} "
                f"seconds; waiting {wait:.0f} more seconds would exceed its {policy.max_elapsed:g}-second "
                "retry budget, so it gave up."
            )
        return wait
