"""Cancellation: Terraform's StopProvider reaching requests that are waiting or in flight.

Terraform sends StopProvider when the user presses Ctrl-C, then waits only briefly before killing
the plugin. A request stuck in a 30-second backoff or a slow answer must notice at once. The
provider signals with a :class:`threading.Event`; the client may hold one for its lifetime and a
caller may add one per call, so a :class:`Cancellation` watches any number of events.

Waiting on several events, or on an event and a future together, has no primitive in
:mod:`threading`; those waits poll in short slices (:data:`POLL_INTERVAL`), which bounds the
reaction time well under the half second Terraform users would notice.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from typing import Any, Final

__all__ = ["POLL_INTERVAL", "Cancellation"]

#: Longest a combined wait goes without looking at every event again.
POLL_INTERVAL: Final = 0.02


class Cancellation:
    """Set when any of its events is set. Cheap to build; safe to share between threads.

    ``Cancellation()`` owns a fresh event (call :meth:`cancel` to set it);
    ``Cancellation(event_a, event_b)`` watches existing events; ``None`` entries are skipped.
    """

    __slots__ = ("_events",)

    def __init__(self, *events: threading.Event | Cancellation | None) -> None:
        watched: list[threading.Event] = []
        for event in events:
            if isinstance(event, Cancellation):
                watched.extend(event._events)
            elif event is not None:
                watched.append(event)
        if not events:
            watched.append(threading.Event())
        # Same event twice (constructor and per call) must not double the polling.
        self._events: tuple[threading.Event, ...] = tuple(dict.fromkeys(watched))

    @classmethod
    def never(cls) -> Cancellation:
        """A cancellation that cannot happen: no events at all."""
        return cls(None)

    @property
    def possible(self) -> bool:
        """Whether anything could ever set this (false for :meth:`never`)."""
        return bool(self._events)

    @property
    def cancelled(self) -> bool:
        return any(event.is_set() for event in self._events)

    def cancel(self) -> None:
        """Set every watched event."""
        for event in self._events:
            event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once on cancellation; return ``cancelled``."""
        if timeout <= 0 or not self._events:
            if self._events:
                return self.cancelled
            time.sleep(max(0.0, timeout))
            return False
        if len(self._events) == 1:
            return self._events[0].wait(timeout)
        deadline = time.monotonic() + timeout
        while not self.cancelled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._events[0].wait(min(POLL_INTERVAL, remaining))
        return True

    def wait_for(self, future: Future[Any], timeout: float | None = None) -> bool:
        """Wait until ``future`` is done, cancellation, or ``timeout``; return whether it is done.

        Checks the future first, so an answer that arrived is used even when cancellation came too.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if future.done():
                return True
            if self.cancelled:
                return False
            slice_ = POLL_INTERVAL if self._events else 3600.0
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return future.done()
                slice_ = min(slice_, remaining)
            wait_futures([future], timeout=slice_)

    def __repr__(self) -> str:
        return f"Cancellation(cancelled={self.cancelled}, events={len(self._events)})"
