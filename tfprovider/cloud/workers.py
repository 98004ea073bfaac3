"""A small pool of daemon threads that run HTTP exchanges the caller may stop waiting for.

A blocking httpx call cannot be interrupted from another thread. To abandon one promptly when
Terraform asks the provider to stop, the caller runs it here and waits on the future *or* the
stop signal. The standard :class:`~concurrent.futures.ThreadPoolExecutor` would do, except that
its threads are joined at interpreter exit: an abandoned request could then hold the provider's
exit hostage for a whole HTTP timeout. These threads are daemons, so exit never waits for them.

Threads start on demand up to ``max_workers`` and leave after ``idle_timeout`` seconds without
work, so an idle provider holds none.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

__all__ = ["DaemonPool"]

T = TypeVar("T")

_Job = tuple[Future[object], Callable[[], object]]


class DaemonPool:
    """Run callables on daemon threads; :meth:`submit` returns a standard :class:`Future`."""

    def __init__(self, max_workers: int, *, idle_timeout: float = 30.0, name: str = "pool") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._idle_timeout = idle_timeout
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # All three under _lock. A started thread counts as idle until it takes a job, so a burst of
        # submits starts one thread per job instead of queueing behind a thread still starting.
        self._workers = 0
        self._idle = 0
        self._pending = 0
        self._shutdown = False

    @property
    def workers(self) -> int:
        """Threads alive now (for tests and diagnostics)."""
        with self._lock:
            return self._workers

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("the pool is shut down")
            self._jobs.put((future, fn))  # type: ignore[arg-type]  # Future is invariant; T is erased here
            self._pending += 1
            if self._pending > self._idle and self._workers < self._max_workers:
                self._workers += 1
                self._idle += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._workers}", daemon=True).start()
        return future

    def shutdown(self) -> None:
        """Refuse new work and let threads go once the queue is drained; running jobs still finish."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            for _ in range(self._workers):
                self._jobs.put(None)

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    if self._pending == 0:
                        self._workers -= 1
                        self._idle -= 1
                        return
                continue  # a job arrived just now: take it
            with self._lock:
                self._idle -= 1
                if job is None:
                    self._workers -= 1
                    return
                self._pending -= 1
            future, fn = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del job, future, fn
            with self._lock:
                self._idle += 1
