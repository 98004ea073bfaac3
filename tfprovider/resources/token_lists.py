"""One token list per organization per provider process, shared by every concurrent read.

Pulumi Cloud has no single-token GET: the only way to read a token is to list its organization.
Terraform refreshes resources in parallel, so a naive provider lists once per resource and a
refresh of N tokens costs N list requests. Here the first reader of an organization fetches the
list (all pages) while the others wait for that same answer (single flight); later reads use
it, and this process's own creates and deletes keep it current.

A failed fetch is handed to the readers that waited for it but never cached: the next read
tries again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfprovider.cloud import OrgToken


@dataclass
class _Flight:
    """One fetch of one organization's list, and the readers waiting for it."""

    done: threading.Event = field(default_factory=threading.Event)
    tokens: dict[str, OrgToken] | None = None
    error: BaseException | None = None


class TokenLists:
    """Per-organization token lists keyed by token ID, fetched at most once while valid."""

    def __init__(self, fetch: Callable[[str], list[OrgToken]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}
        self.fetches = 0
        """How many list fetches this process made (for tests and benchmarks)."""

    def tokens(self, org: str) -> dict[str, OrgToken]:
        """The organization's tokens by ID; fetches only if no valid list is cached or in flight."""
        flight = self._settled(org)
        with self._lock:
            return dict(flight.tokens or {})

    def _settled(self, org: str) -> _Flight:
        """A completed, successful fetch of ``org``'s list: cached, awaited, or made now."""
        with self._lock:
            flight = self._flights.get(org)
            leader = flight is None
            if flight is None:
                flight = self._flights[org] = _Flight()
                self.fetches += 1
        if leader:
            try:
                fetched = {token.id: token for token in self._fetch(org)}
            except BaseException as exc:
                with self._lock:
                    flight.error = exc
                    if self._flights.get(org) is flight:
                        del self._flights[org]  # never cache a failure
                flight.done.set()
                raise
            with self._lock:
                flight.tokens = fetched
            flight.done.set()
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        assert flight.tokens is not None
        return flight

    def cached(self, org: str) -> dict[str, OrgToken] | None:
        """The organization's tokens if a list has already been fetched; never fetches."""
        with self._lock:
            flight = self._flights.get(org)
            if flight is None or flight.tokens is None:
                return None
            return dict(flight.tokens)

    def find(self, org: str, token_id: str) -> OrgToken | None:
        # One lookup, not a copy: a refresh of N tokens calls this N times on a list of N.
        flight = self._settled(org)
        with self._lock:
            return (flight.tokens or {}).get(token_id)

    def record_created(self, org: str, token: OrgToken) -> None:
        """Our own create: add it to a cached list so a later read in this process sees it."""
        with self._lock:
            flight = self._flights.get(org)
            if flight is not None and flight.tokens is not None:
                flight.tokens[token.id] = token
            elif flight is not None:
                # A fetch is in flight and may or may not include the new token: refetch later.
                del self._flights[org]

    def record_deleted(self, org: str, token_id: str) -> None:
        with self._lock:
            flight = self._flights.get(org)
            if flight is not None and flight.tokens is not None:
                flight.tokens.pop(token_id, None)
            elif flight is not None:
                del self._flights[org]

    def invalidate(self, org: str) -> None:
        with self._lock:
            self._flights.pop(org, None)
