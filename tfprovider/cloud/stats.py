"""Counters of what the request policy did, for logs and end-of-run reports.

Retries and recovered creates are invisible when they work; counting them shows an operator that a
run only succeeded thanks to retries (a sign of rate limiting or an unhealthy service), and how
many token values were lost. One client is shared by every parallel Terraform operation, so the
counters take a lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Final

__all__ = ["COUNTERS", "RETRY_KINDS", "ClientStats"]

#: Why a request was repeated: HTTP 429; a 500/502/503/504; a connection that failed or broke;
#: no answer in time.
RETRY_KINDS: Final = ("rate_limited", "server_error", "connection", "timeout")

#: Every other counter, as named in :meth:`ClientStats.snapshot`.
COUNTERS: Final = (
    "retries",
    "create_requests",
    "ambiguous_creates",
    "orphans_deleted",
    "orphan_delete_failures",
    "values_lost",
    "cancelled",
    "abandoned_requests",
)


class ClientStats:
    """Thread-safe counters; read them as properties or all at once with :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._retries_by_kind: Counter[str] = Counter()

    def record_retry(self, kind: str) -> None:
        if kind not in RETRY_KINDS:
            raise ValueError(f"unknown retry kind {kind!r}")
        with self._lock:
            self._counts["retries"] += 1
            self._retries_by_kind[kind] += 1

    def add(self, counter: str, amount: int = 1) -> None:
        if counter not in COUNTERS or counter == "retries":
            raise ValueError(f"unknown counter {counter!r}")
        with self._lock:
            self._counts[counter] += amount

    def _get(self, counter: str) -> int:
        with self._lock:
            return self._counts[counter]

    @property
    def retries(self) -> int:
        """Requests sent again after a transient failure (all methods, creates included)."""
        return self._get("retries")

    @property
    def retries_by_kind(self) -> dict[str, int]:
        """:attr:`retries` split by :data:`RETRY_KINDS` (every kind present, zero when unseen)."""
        with self._lock:
            return {kind: self._retries_by_kind[kind] for kind in RETRY_KINDS}

    @property
    def create_requests(self) -> int:
        """POST requests sent (first tries and retries)."""
        return self._get("create_requests")

    @property
    def ambiguous_creates(self) -> int:
        """Create requests whose outcome was unknown and had to be checked by listing."""
        return self._get("ambiguous_creates")

    @property
    def orphans_deleted(self) -> int:
        """Tokens created without their value reaching the provider, then deleted by it."""
        return self._get("orphans_deleted")

    @property
    def orphan_delete_failures(self) -> int:
        """Such tokens the provider could not delete (the user was told their IDs)."""
        return self._get("orphan_delete_failures")

    @property
    def values_lost(self) -> int:
        """Token values Pulumi Cloud issued that never reached the provider."""
        return self._get("values_lost")

    @property
    def cancelled(self) -> int:
        """Operations ended because Terraform asked the provider to stop."""
        return self._get("cancelled")

    @property
    def abandoned_requests(self) -> int:
        """Requests in flight whose answers were no longer awaited (cancellation or deadline)."""
        return self._get("abandoned_requests")

    def snapshot(self) -> dict[str, int]:
        """Every counter by name, retries per kind as ``retries.<kind>``."""
        with self._lock:
            result = {name: self._counts[name] for name in COUNTERS}
            result.update({f"retries.{kind}": self._retries_by_kind[kind] for kind in RETRY_KINDS})
            return result

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v}" for k, v in self.snapshot().items() if v)
        return f"ClientStats({items})"
