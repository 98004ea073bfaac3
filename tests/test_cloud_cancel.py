"""Cancellation: Terraform's StopProvider ends waits at once, abandons reads and deletes in flight,
and gives an in-flight create a grace period because its answer is the token's only value.

Blocking transports stand in for a slow service: their handlers wait on an event the test sets.
Timings are asserted with generous margins, yet every test takes well under a few seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from test_cloud_client import ACCESS, VALUE, api_token, assert_no_credentials

from tfprovider.cloud.cancel import Cancellation
from tfprovider.cloud.client import PulumiCloudClient
from tfprovider.cloud.errors import CancelledError, LostTokenError
from tfprovider.cloud.models import TokenSpec
from tfprovider.cloud.retry import RetryPolicy
from tfprovider.cloud.workers import DaemonPool
from tfprovider.secret import Secret

SPEC = TokenSpec(name="ci", description="for CI", expires=0, admin=False)
TOKEN_ID = "0b7c4a52-93c1-4f0e-8d8e-6c3b2f1a9d00"


def listed(name: str = "ci") -> dict[str, Any]:
    return api_token(0, id=TOKEN_ID, name=name, description=SPEC.description, created="")


class SlowCloud:
    """Answers each method with a handler; ``hold`` methods first wait for ``release``."""

    def __init__(self, **answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = {method.upper(): answer for method, answer in answers.items()}
        self.hold: set[str] = set()
        self.release = threading.Event()
        self.requests: list[httpx.Request] = []
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
        if request.method in self.hold:
            self.arrived.set()
            if not self.release.wait(10):
                raise httpx.ReadTimeout("held too long", request=request)
        return self.answers[request.method](request)

    def methods(self) -> list[str]:
        with self._lock:
            return [r.method for r in self.requests]


def created(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": TOKEN_ID, "tokenValue": VALUE})


def empty_listing(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"tokens": [], "continuationToken": None})


def no_content(_: httpx.Request) -> httpx.Response:
    return httpx.Response(204)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    yield threading.Event()


def make(cloud: SlowCloud, stop: threading.Event | None, **kwargs: Any) -> PulumiCloudClient:
    kwargs.setdefault("retry", RetryPolicy(jitter="none"))
    return PulumiCloudClient(
        "https://api.pulumi.com", Secret(ACCESS), transport=cloud.transport, cancel=stop, **kwargs
    )


def stop_later(event: threading.Event, after: float) -> threading.Timer:
    timer = threading.Timer(after, event.set)
    timer.start()
    return timer


# -- the building blocks ---------------------------------------------------------------------------


def test_cancellation_watches_several_events_and_wakes_promptly() -> None:
    a, b = threading.Event(), threading.Event()
    scope = Cancellation(a, None, b, a)
    assert scope.possible and not scope.cancelled
    assert scope.wait(0.01) is False
    stop_later(b, 0.05)
    started = time.monotonic()
    assert scope.wait(5) is True
    assert time.monotonic() - started < 0.5
    assert Cancellation(scope).cancelled  # nesting keeps the events


def test_never_and_own_cancellations() -> None:
    never = Cancellation.never()
    assert not never.possible and not never.cancelled and never.wait(0.0) is False
    own = Cancellation()
    own.cancel()
    assert own.cancelled


def test_wait_for_prefers_a_finished_future_over_cancellation() -> None:
    scope = Cancellation()
    future: Future[int] = Future()
    future.set_result(1)
    scope.cancel()
    assert scope.wait_for(future) is True
    pending: Future[int] = Future()
    assert scope.wait_for(pending) is False
    assert Cancellation.never().wait_for(pending, timeout=0.05) is False


def test_daemon_pool_runs_jobs_on_daemon_threads_and_shuts_down() -> None:
    pool = DaemonPool(4, idle_timeout=0.2, name="test")

    def job(i: int) -> Callable[[], tuple[int, bool]]:
        return lambda: (i, threading.current_thread().daemon)

    futures = [pool.submit(job(i)) for i in range(20)]
    assert [f.result(5) for f in futures] == [(i, True) for i in range(20)]
    assert 1 <= pool.workers <= 4
    failing = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(5)
    deadline = time.monotonic() + 5
    while pool.workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.workers == 0  # idle threads leave
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


# -- reads and deletes -----------------------------------------------------------------------------


def test_already_stopped_sends_nothing(stop: threading.Event) -> None:
    cloud = SlowCloud(get=empty_listing)
    client = make(cloud, stop)
    stop.set()
    with pytest.raises(CancelledError) as info:
        client.list_tokens("acme")
    assert cloud.requests == [] and not info.value.in_flight
    assert "Terraform asked the provider to stop" in info.value.summary
    assert client.stats.cancelled == 1


def test_stop_during_backoff_returns_promptly(stop: threading.Event) -> None:
    cloud = SlowCloud(get=lambda r: httpx.Response(503))
    client = make(cloud, stop, retry=RetryPolicy(jitter="none", base_delay=20, max_delay=30))
    stop_later(stop, 0.1)
    started = time.monotonic()
    with pytest.raises(CancelledError) as info:
        client.list_tokens("acme")
    assert time.monotonic() - started < 0.5
    assert cloud.methods() == ["GET"]
    assert "nothing was changed" in info.value.detail
    assert client.stats.retries == 0  # the retry never happened


def test_fake_sleep_still_sees_the_stop(stop: threading.Event) -> None:
    cloud = SlowCloud(delete=lambda r: httpx.Response(502))
    client = make(cloud, stop, sleep=lambda seconds: stop.set())
    with pytest.raises(CancelledError) as info:
        client.delete_token("acme", TOKEN_ID)
    assert cloud.methods() == ["DELETE"]
    assert "may still exist" in info.value.detail


def test_stop_during_an_in_flight_get_abandons_it(stop: threading.Event) -> None:
    cloud = SlowCloud(get=empty_listing)
    cloud.hold.add("GET")
    client = make(cloud, stop)
    try:
        stop_later(stop, 0.1)
        started = time.monotonic()
        with pytest.raises(CancelledError) as info:
            client.list_tokens("acme")
        assert time.monotonic() - started < 0.5
        assert info.value.in_flight
        assert client.stats.abandoned_requests == 1
    finally:
        cloud.release.set()


def test_stop_during_an_in_flight_delete_says_it_may_be_done(stop: threading.Event) -> None:
    cloud = SlowCloud(delete=no_content)
    cloud.hold.add("DELETE")
    client = make(cloud, None)
    try:
        stop_later(stop, 0.1)
        started = time.monotonic()
        with pytest.raises(CancelledError) as info:
            client.delete_token("acme", TOKEN_ID, cancel=stop)  # per call this time
        assert time.monotonic() - started < 0.5
        assert "may be deleted already" in info.value.detail
    finally:
        cloud.release.set()


def test_fifty_blocked_readers_all_return_on_stop(stop: threading.Event) -> None:
    cloud = SlowCloud(get=empty_listing)
    cloud.hold.add("GET")
    client = make(cloud, stop)

    def read(i: int) -> str:
        try:
            client.list_tokens(f"org{i}")
        except CancelledError:
            return "cancelled"
        return "finished"

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = [pool.submit(read, i) for i in range(50)]
            time.sleep(0.2)
            started = time.monotonic()
            stop.set()
            outcomes = [f.result(5) for f in results]
        assert time.monotonic() - started < 1.0
        assert outcomes == ["cancelled"] * 50
        assert client.stats.cancelled == 50
    finally:
        cloud.release.set()


def test_without_any_cancellation_requests_run_inline() -> None:
    cloud = SlowCloud(get=empty_listing)
    client = make(cloud, None)
    client.list_tokens("acme")
    assert client._pool is None


# -- creates in flight -----------------------------------------------------------------------------


def test_stop_before_the_create_is_sent_creates_nothing(stop: threading.Event) -> None:
    cloud = SlowCloud(post=created)
    client = make(cloud, stop)
    stop.set()
    with pytest.raises(CancelledError) as info:
        client.create_token("acme", SPEC)
    assert cloud.requests == [] and "No token was created" in info.value.detail


def test_stop_during_create_backoff_after_429_creates_nothing(stop: threading.Event) -> None:
    cloud = SlowCloud(post=lambda r: httpx.Response(429, headers={"Retry-After": "25"}))
    client = make(cloud, stop)
    stop_later(stop, 0.1)
    started = time.monotonic()
    with pytest.raises(CancelledError) as info:
        client.create_token("acme", SPEC)
    assert time.monotonic() - started < 0.5
    assert cloud.methods() == ["POST"] and "No token was created" in info.value.detail


def test_in_flight_create_answering_within_grace_returns_the_token(stop: threading.Event) -> None:
    cloud = SlowCloud(post=created)
    cloud.hold.add("POST")
    client = make(cloud, stop, cancel_grace=2.0)
    stop_later(stop, 0.1)
    threading.Timer(0.4, cloud.release.set).start()
    started = time.monotonic()
    token = client.create_token("acme", SPEC)
    elapsed = time.monotonic() - started
    assert token.id == TOKEN_ID and token.value.reveal() == VALUE
    assert 0.3 < elapsed < 1.5
    assert cloud.methods() == ["POST"]


def test_in_flight_create_past_grace_deletes_the_token_it_made(stop: threading.Event) -> None:
    """The service committed the create but its answer is stuck: the orphan is found and deleted."""
    cloud = SlowCloud(
        post=created,
        get=lambda r: httpx.Response(200, json={"tokens": [listed()]}),
        delete=no_content,
    )
    cloud.hold.add("POST")
    client = make(cloud, stop, cancel_grace=0.3)
    try:
        stop_later(stop, 0.05)
        started = time.monotonic()
        with pytest.raises(LostTokenError) as info:
            client.create_token("acme", SPEC)
        assert time.monotonic() - started < 1.5
        assert cloud.methods() == ["POST", "GET", "DELETE"]
        assert cloud.requests[2].url.path == f"/api/orgs/acme/tokens/{TOKEN_ID}"
        assert info.value.orphan_deleted
        assert "Terraform asked the provider to stop" in info.value.detail
        assert client.stats.orphans_deleted == 1
    finally:
        cloud.release.set()
    time.sleep(0.1)
    assert cloud.methods().count("DELETE") == 1  # the late answer does not start a second deletion


def test_in_flight_create_past_grace_with_no_token_listed_is_cancelled_and_a_late_token_deleted(
    stop: threading.Event,
) -> None:
    deleted = threading.Event()

    def delete(_: httpx.Request) -> httpx.Response:
        deleted.set()
        return httpx.Response(204)

    cloud = SlowCloud(post=created, get=empty_listing, delete=delete)
    cloud.hold.add("POST")
    client = make(cloud, stop, cancel_grace=0.2)
    stop_later(stop, 0.05)
    with pytest.raises(CancelledError) as info:
        client.create_token("acme", SPEC)
    err = info.value
    assert err.in_flight and "shows no token named 'ci'" in err.detail
    assert cloud.methods() == ["POST", "GET"]
    cloud.release.set()  # now the service answers: the token exists, nobody will record it
    assert deleted.wait(5)
    assert cloud.requests[-1].url.path == f"/api/orgs/acme/tokens/{TOKEN_ID}"
    deadline = time.monotonic() + 2
    while client.stats.orphans_deleted == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.stats.orphans_deleted == 1 and client.stats.values_lost == 1
    assert_no_credentials(err)


def test_create_answer_arriving_during_the_check_is_returned_not_deleted(stop: threading.Event) -> None:
    cloud = SlowCloud(post=created, delete=no_content)

    def listing_after_the_answer(_: httpx.Request) -> httpx.Response:
        cloud.release.set()  # the held create answers while the check is under way
        time.sleep(0.1)
        return httpx.Response(200, json={"tokens": [listed()]})

    cloud.answers["GET"] = listing_after_the_answer
    cloud.hold.add("POST")
    client = make(cloud, stop, cancel_grace=0.2)
    stop_later(stop, 0.05)
    token = client.create_token("acme", SPEC)
    assert token.id == TOKEN_ID and token.value.reveal() == VALUE
    assert cloud.methods() == ["POST", "GET"]  # no deletion: the caller records the token
    assert client.stats.values_lost == 0


def test_create_stop_with_a_hanging_service_meets_the_four_second_target(stop: threading.Event) -> None:
    """Default grace and cleanup; the create and the checking list both hang."""
    cloud = SlowCloud(post=created, get=empty_listing)
    cloud.hold.update({"POST", "GET"})
    client = make(cloud, stop)
    try:
        stop_later(stop, 0.05)
        started = time.monotonic()
        with pytest.raises(CancelledError) as info:
            client.create_token("acme", SPEC)
        elapsed = time.monotonic() - started - 0.05
        assert 2.9 < elapsed < 4.6
        assert "did not finish in time" in info.value.detail
        assert "Settings → Access Tokens" in info.value.detail
    finally:
        cloud.release.set()


def test_stop_while_checking_an_ambiguous_create_settles_quickly(stop: threading.Event) -> None:
    calls = iter([502])

    def post(_: httpx.Request) -> httpx.Response:
        return httpx.Response(next(calls, 200), json={"code": 502, "message": "bad gateway"})

    cloud = SlowCloud(post=post, get=lambda r: httpx.Response(200, json={"tokens": []}))
    cloud.hold.add("GET")
    client = make(cloud, stop, cancel_cleanup=0.3)
    try:
        stop_later(stop, 0.1)
        started = time.monotonic()
        with pytest.raises(CancelledError) as info:
            client.create_token("acme", SPEC)
        assert time.monotonic() - started < 1.0
        assert "HTTP 502" in info.value.detail
        assert "Then Terraform asked the provider to stop" in info.value.detail
        assert cloud.methods() == ["POST", "GET", "GET"]  # the abandoned check and the quick one
    finally:
        cloud.release.set()


def test_errors_and_reprs_hold_no_credentials_after_cancellation(stop: threading.Event) -> None:
    cloud = SlowCloud(get=lambda r: httpx.Response(200, json={"tokens": [listed()]}), post=created)
    client = make(cloud, stop)
    client.create_token("acme", SPEC)
    stop.set()
    with pytest.raises(CancelledError) as info:
        client.list_tokens("acme")
    assert_no_credentials(info.value, client, client.stats, json.dumps(client.stats.snapshot()))
