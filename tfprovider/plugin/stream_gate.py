"""Holding long-lived server streams open, and letting them go when the server stops.

Its own module because the runtime creates the gate before the handshake, while the services
that use it are loaded only afterwards (see ``deferred.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc


class StreamGate:
    """Holds long-lived server streams open until the server stops or their client goes away.

    A stream handler occupies a worker thread while it waits, so it must end on both events:
    at shutdown so the server can stop within its grace period, and on cancellation so a client
    that attaches again and again (debug mode) cannot use up the worker pool.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._closed = False

    def close(self) -> None:
        """Release every held stream, now and later."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def hold(self, context: grpc.ServicerContext) -> None:
        """Block until :meth:`close` or until the RPC of ``context`` has ended."""

        def wake() -> None:
            with self._changed:
                self._changed.notify_all()

        if not context.add_callback(wake):
            return  # the RPC has already terminated
        with self._changed:
            self._changed.wait_for(lambda: self._closed or not context.is_active())
