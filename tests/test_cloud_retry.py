"""The request policy: retries with backoff, creates that are never repeated blindly, name conflicts.

Every test runs on fake time (the client's ``clock`` and ``sleep``), so backoff sequences are
asserted exactly and nothing actually waits. ``FakeCloud`` keeps real token state and follows a
per-method script, so a create can be made to *commit and then lose its answer*.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from support.emulator import Emulator
from test_cloud_client import ACCESS, VALUE, api_token, assert_no_credentials

from tfprovider.cloud.client import PulumiCloudClient
from tfprovider.cloud.errors import (
    ApiError,
    LostTokenError,
    NameConflictError,
    ResponseFormatError,
)
from tfprovider.cloud.models import TokenSpec
from tfprovider.cloud.retry import RetryBudget, RetryPolicy
from tfprovider.cloud.stats import ClientStats
from tfprovider.secret import Secret

NO_JITTER = RetryPolicy(jitter="none")
SPEC = TokenSpec(name="ci", description="for CI", expires=0, admin=False)


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


# A script entry: an HTTP status to answer, an httpx exception type to raise, "ok" for normal
# service, or ("commit", status-or-exception): do the work, then answer badly.
Step = Any


class FakeCloud:
    """Organization ``acme``'s tokens, served through httpx.MockTransport, with scripted failures."""

    def __init__(self, **scripts: list[Step]) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.scripts = {method.upper(): list(steps) for method, steps in scripts.items()}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r.method == method)

    def add_token(self, name: str, **fields: Any) -> str:
        token_id = str(uuid.uuid4())
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.tokens[token_id] = api_token(0, id=token_id, name=name, created=created, **fields)
        return token_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            script = self.scripts.get(request.method, [])
            step = script.pop(0) if script else "ok"
        commit = isinstance(step, tuple)
        if commit:
            step = step[1]
        if not commit and step != "ok":
            return self._fail(step, request)
        response = self._serve(request)
        return self._fail(step, request) if commit else response

    @staticmethod
    def _fail(step: Step, request: httpx.Request) -> httpx.Response:
        if isinstance(step, int):
            return httpx.Response(step, json={"code": step, "message": "scripted failure"})
        if isinstance(step, httpx.Response):
            return step
        raise step("scripted failure", request=request)

    def _serve(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")  # ['', 'api', 'orgs', org, 'tokens', id?]
        if request.method == "GET":
            return httpx.Response(200, json={"tokens": list(self.tokens.values()), "continuationToken": None})
        if request.method == "DELETE":
            if self.tokens.pop(parts[5], None) is None:
                return httpx.Response(404, json={"code": 404, "message": "Not Found"})
            return httpx.Response(204)
        body = json.loads(request.content)
        if any(t["name"] == body["name"] for t in self.tokens.values()):
            return httpx.Response(409, json={"code": 409, "message": "Conflict: token name already exists"})
        token_id = self.add_token(
            body["name"], description=body["description"], expires=body["expires"], admin=body["admin"]
        )
        return httpx.Response(200, json={"id": token_id, "tokenValue": VALUE})


def make(
    cloud: FakeCloud | Callable[[httpx.Request], httpx.Response],
    *,
    policy: RetryPolicy = NO_JITTER,
    fake: FakeTime | None = None,
) -> tuple[PulumiCloudClient, FakeTime]:
    fake = fake or FakeTime()
    transport = cloud.transport if isinstance(cloud, FakeCloud) else httpx.MockTransport(cloud)
    client = PulumiCloudClient(
        "https://api.pulumi.com",
        Secret(ACCESS),
        transport=transport,
        retry=policy,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    return client, fake


# -- the policy itself -----------------------------------------------------------------------------


def test_backoff_doubles_from_base_and_is_capped() -> None:
    assert [NO_JITTER.backoff(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert NO_JITTER.backoff(10_000) == 30  # no overflow however many retries


@pytest.mark.parametrize(("jitter", "low_share"), [("full", 0.0), ("equal", 0.5)])
def test_jitter_stays_within_its_bounds(jitter: str, low_share: float) -> None:
    policy = RetryPolicy(jitter=jitter, rng=random.Random(7))  # type: ignore[arg-type]
    for n in range(1, 9):
        ceiling = min(30.0, 0.5 * 2 ** (n - 1))
        draws = [policy.backoff(n) for _ in range(300)]
        assert all(low_share * ceiling <= d <= ceiling for d in draws)
        assert max(draws) - min(draws) > ceiling * 0.2  # it really is jittered


def test_jitter_is_reproducible_with_a_seeded_random() -> None:
    first = [RetryPolicy(jitter="full", rng=random.Random(3)).backoff(n) for n in range(1, 6)]
    second = [RetryPolicy(jitter="full", rng=random.Random(3)).backoff(n) for n in range(1, 6)]
    assert first == second


def test_retry_after_raises_the_wait_but_never_past_max_delay() -> None:
    assert NO_JITTER.wait_before(1, retry_after=7) == 7
    assert NO_JITTER.wait_before(3, retry_after=0.1) == 2  # backoff is larger
    assert NO_JITTER.wait_before(1, retry_after=300) == 30


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"max_elapsed": -1}, {"base_delay": -0.1}, {"jitter": "half"}]
)
def test_policy_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_budget_refuses_a_wait_that_would_end_past_it() -> None:
    fake = FakeTime()
    budget = RetryBudget(RetryPolicy(jitter="none", max_elapsed=10), fake.clock)
    assert budget.next_wait(1) == 0.5
    fake.now += 9.5
    refusal = budget.next_wait(2)
    assert isinstance(refusal, str) and "2 times" in refusal and "10-second retry budget" in refusal


# -- GET and DELETE are retried --------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_is_retried_on_transient_statuses_with_backoff(status: int) -> None:
    cloud = FakeCloud(get=[status, status])
    client, fake = make(cloud)
    assert client.list_tokens("acme") == []
    assert cloud.count("GET") == 3
    assert fake.sleeps == [0.5, 1.0]
    kind = "rate_limited" if status == 429 else "server_error"
    assert client.stats.retries == 2
    assert client.stats.retries_by_kind[kind] == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 501])
def test_get_is_not_retried_on_definite_failures(status: int) -> None:
    cloud = FakeCloud(get=[status])
    client, fake = make(cloud)
    with pytest.raises(ApiError):
        client.list_tokens("acme")
    assert cloud.count("GET") == 1 and fake.sleeps == [] and client.stats.retries == 0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout, "timeout"),
        (httpx.ConnectTimeout, "timeout"),
        (httpx.ConnectError, "connection"),
        (httpx.RemoteProtocolError, "connection"),
        (httpx.ReadError, "connection"),
    ],
)
def test_get_is_retried_after_connection_failures(exc: type[httpx.TransportError], kind: str) -> None:
    cloud = FakeCloud(get=[exc])
    client, _ = make(cloud)
    assert client.list_tokens("acme") == []
    assert cloud.count("GET") == 2
    assert client.stats.retries_by_kind[kind] == 1


def test_retry_after_in_seconds_is_honoured_and_capped() -> None:
    cloud = FakeCloud(
        get=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": "3600"}),
        ]
    )
    client, fake = make(cloud)
    client.list_tokens("acme")
    assert fake.sleeps == [7.0, 30.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    cloud = FakeCloud(get=[httpx.Response(429, headers={"Retry-After": when})])
    client, fake = make(cloud)
    client.list_tokens("acme")
    (slept,) = fake.sleeps
    assert 18.0 <= slept <= 20.0


def test_attempts_are_bounded_and_the_error_says_how_many() -> None:
    cloud = FakeCloud(get=[503] * 20)
    client, fake = make(cloud)
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.status == 503
    assert cloud.count("GET") == 6
    assert fake.sleeps == [0.5, 1, 2, 4, 8]
    assert "tried 6 times" in info.value.detail
    assert "unavailable" in info.value.detail  # the original advice is kept


def test_the_total_budget_is_never_overslept() -> None:
    cloud = FakeCloud(get=[httpx.Response(429, headers={"Retry-After": "25"})] * 20)
    client, fake = make(cloud, policy=RetryPolicy(jitter="none", max_elapsed=60, max_attempts=50))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert fake.sleeps == [25, 25]  # a third wait would end at 75 s, past the 60 s budget
    assert cloud.count("GET") == 3
    assert "tried 3 times" in info.value.detail and "60-second retry budget" in info.value.detail


def test_disabled_policy_tries_once() -> None:
    cloud = FakeCloud(get=[502])
    client, _ = make(cloud, policy=RetryPolicy.disabled())
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert cloud.count("GET") == 1 and "tried once" in info.value.detail


def test_all_pages_of_a_listing_share_one_budget() -> None:
    pages = iter(
        [
            httpx.Response(200, json={"tokens": [api_token(1)], "continuationToken": "p2"}),
            httpx.Response(503),
            httpx.Response(200, json={"tokens": [api_token(2)], "continuationToken": None}),
        ]
    )
    client, fake = make(lambda request: next(pages))
    assert [t.id for t in client.list_tokens("acme")] == ["id-1", "id-2"]
    assert fake.sleeps == [0.5]


def test_delete_retried_after_a_reset_then_404_means_already_gone() -> None:
    cloud = FakeCloud(delete=[("commit", httpx.RemoteProtocolError)])
    token_id = cloud.add_token("old")
    client, _ = make(cloud)
    assert client.delete_token("acme", token_id) is False  # the first try did delete it
    assert cloud.count("DELETE") == 2 and cloud.tokens == {}


def test_delete_retried_after_503() -> None:
    cloud = FakeCloud(delete=[503])
    token_id = cloud.add_token("old")
    client, fake = make(cloud)
    assert client.delete_token("acme", token_id) is True
    assert cloud.count("DELETE") == 2 and fake.sleeps == [0.5]


def test_stats_count_retries_from_fifty_threads() -> None:
    failed: set[str] = set()
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        org = request.url.path.split("/")[3]
        with lock:
            first = org not in failed
            failed.add(org)
        if first:
            return httpx.Response(503)
        return httpx.Response(200, json={"tokens": [api_token(1, name=org)]})

    client, _ = make(handler)
    with ThreadPoolExecutor(max_workers=50) as pool:
        names = list(pool.map(lambda i: client.list_tokens(f"org{i}")[0].name, range(200)))
    assert names == [f"org{i}" for i in range(200)]
    assert client.stats.retries == 200
    assert client.stats.snapshot()["retries.server_error"] == 200


def test_stats_reject_unknown_counters() -> None:
    stats = ClientStats()
    with pytest.raises(ValueError):
        stats.add("retries")  # only record_retry may count those
    with pytest.raises(ValueError):
        stats.record_retry("sunspots")


# -- creates are never retried blindly ------------------------------------------------------------


def test_create_succeeds_first_time_without_listing() -> None:
    cloud = FakeCloud()
    client, _ = make(cloud)
    created = client.create_token("acme", SPEC)
    assert created.value.reveal() == VALUE
    assert [r.method for r in cloud.requests] == ["POST"]
    assert client.stats.create_requests == 1 and client.stats.ambiguous_creates == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_create_rejected_definitely_fails_at_once(status: int) -> None:
    cloud = FakeCloud(post=[status])
    client, fake = make(cloud)
    with pytest.raises(ApiError) as info:
        client.create_token("acme", SPEC)
    assert info.value.status == status
    assert [r.method for r in cloud.requests] == ["POST"]
    assert fake.sleeps == []


def test_create_429_is_retried_after_retry_after_without_listing() -> None:
    cloud = FakeCloud(post=[httpx.Response(429, headers={"Retry-After": "4"})])
    client, fake = make(cloud)
    created = client.create_token("acme", SPEC)
    assert created.id in cloud.tokens
    assert [r.method for r in cloud.requests] == ["POST", "POST"]
    assert fake.sleeps == [4.0]
    assert client.stats.retries_by_kind["rate_limited"] == 1
    assert client.stats.ambiguous_creates == 0


def test_create_refused_connection_is_retried_without_listing() -> None:
    cloud = FakeCloud(post=[httpx.ConnectError])
    client, _ = make(cloud)
    client.create_token("acme", SPEC)
    assert [r.method for r in cloud.requests] == ["POST", "POST"]


@pytest.mark.parametrize("failure", [502, 500, 503, 504, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_ambiguous_create_that_did_not_happen_is_retried_once(failure: Step) -> None:
    cloud = FakeCloud(post=[failure])
    client, fake = make(cloud)
    created = client.create_token("acme", SPEC, reason="rotation")
    assert created.value.reveal() == VALUE
    assert [r.method for r in cloud.requests] == ["POST", "GET", "POST"]
    listing = cloud.requests[1]
    assert listing.url.params["filter"] == "all"
    assert cloud.requests[2].url.params["reason"] == "rotation"
    assert fake.sleeps == [0.5]
    assert client.stats.ambiguous_creates == 1
    assert client.stats.create_requests == 2
    assert client.stats.values_lost == 0


@pytest.mark.parametrize("failure", [502, httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError])
def test_ambiguous_create_that_happened_deletes_the_orphan(failure: Step) -> None:
    cloud = FakeCloud(post=[("commit", failure)])
    client, _ = make(cloud)
    with pytest.raises(LostTokenError) as info:
        client.create_token("acme", SPEC)
    err = info.value
    assert [r.method for r in cloud.requests] == ["POST", "GET", "DELETE"]
    assert cloud.tokens == {}  # the live credential nobody holds is gone
    assert cloud.requests[2].url.path == f"/api/orgs/acme/tokens/{err.token_id}"
    assert err.orphan_deleted and err.org == "acme" and err.token_name == "ci"
    assert "was created" in err.summary and "value was lost" in err.summary
    assert "never reached the provider" in err.detail
    assert "deleted that token" in err.detail
    assert "never reuses a token name" in err.detail and "new `name`" in err.detail
    assert client.stats.create_requests == 1  # never sent again
    assert (client.stats.orphans_deleted, client.stats.values_lost) == (1, 1)
    assert_no_credentials(err)


def test_orphan_that_cannot_be_deleted_is_reported_with_its_id() -> None:
    cloud = FakeCloud(post=[("commit", 503)], delete=[403])
    client, _ = make(cloud)
    with pytest.raises(LostTokenError) as info:
        client.create_token("acme", SPEC)
    err = info.value
    (token_id,) = cloud.tokens
    assert err.token_id == token_id and not err.orphan_deleted
    assert token_id in err.detail and "'acme'" in err.detail
    assert "LIVE credential" in err.detail and "could not be deleted" in err.summary
    assert "HTTP 403" in err.detail
    assert (client.stats.orphan_delete_failures, client.stats.values_lost) == (1, 1)


def test_orphan_delete_is_itself_retried() -> None:
    cloud = FakeCloud(post=[("commit", 502)], delete=[503, httpx.ReadError])
    client, _ = make(cloud)
    with pytest.raises(LostTokenError) as info:
        client.create_token("acme", SPEC)
    assert info.value.orphan_deleted and cloud.tokens == {}
    assert cloud.count("DELETE") == 3


def test_ambiguous_create_whose_check_fails_is_not_retried() -> None:
    cloud = FakeCloud(post=[502], get=[401])
    client, _ = make(cloud)
    with pytest.raises(ApiError) as info:
        client.create_token("acme", SPEC)
    assert info.value.status == 502
    assert cloud.count("POST") == 1
    assert "Checking whether token 'ci' was created failed as well" in info.value.detail
    assert "Settings → Access Tokens" in info.value.detail


def test_ambiguous_creates_stop_within_the_budget() -> None:
    cloud = FakeCloud(post=[503] * 20)
    client, _ = make(cloud)
    with pytest.raises(ApiError) as info:
        client.create_token("acme", SPEC)
    assert cloud.count("POST") == 6 and cloud.count("GET") == 6
    assert "so none was created" in info.value.detail and "tried 6 times" in info.value.detail
    assert client.stats.ambiguous_creates == 6


def test_same_name_token_that_is_not_ours_is_never_deleted() -> None:
    cloud = FakeCloud(post=[502])
    other = cloud.add_token("ci", description="someone else's")
    client, _ = make(cloud)
    with pytest.raises(NameConflictError) as info:
        client.create_token("acme", SPEC)
    assert cloud.count("DELETE") == 0 and other in cloud.tokens
    assert info.value.conflicting_token_id == other


def test_same_name_token_created_long_before_is_not_taken_for_ours() -> None:
    cloud = FakeCloud(post=[502])
    old = cloud.add_token("ci", description=SPEC.description, expires=0, admin=False)
    cloud.tokens[old]["created"] = "2020-01-01T00:00:00Z"
    client, _ = make(cloud)
    with pytest.raises(NameConflictError):
        client.create_token("acme", SPEC)
    assert cloud.count("DELETE") == 0


def test_unreadable_create_answer_for_a_token_that_exists_deletes_it() -> None:
    answer = httpx.Response(200, json={"id": 7, "tokenValue": VALUE})
    cloud = FakeCloud(post=[("commit", answer)])
    client, _ = make(cloud)
    with pytest.raises(LostTokenError) as info:
        client.create_token("acme", SPEC)
    assert cloud.tokens == {} and cloud.count("POST") == 1
    assert "could not be read" in info.value.detail and "id should be a string" in info.value.detail
    assert_no_credentials(info.value)


def test_unreadable_create_answer_without_a_listed_token_keeps_the_format_error() -> None:
    cloud = FakeCloud(post=[httpx.Response(200, text="<html>console</html>")])
    client, _ = make(cloud)
    with pytest.raises(ResponseFormatError) as info:
        client.create_token("acme", SPEC)
    assert "may have been created" in info.value.detail
    assert cloud.count("POST") == 1


def test_unlisted_5xx_on_create_is_not_retried_but_warns() -> None:
    cloud = FakeCloud(post=[501])
    client, _ = make(cloud)
    with pytest.raises(ApiError) as info:
        client.create_token("acme", SPEC)
    assert cloud.count("POST") == 1 and "may have been created" in info.value.detail


# -- name conflicts --------------------------------------------------------------------------------


def test_409_with_a_live_holder_names_it_and_the_import_command() -> None:
    cloud = FakeCloud()
    holder = cloud.add_token("ci")
    client, _ = make(cloud)
    with pytest.raises(NameConflictError) as info:
        client.create_token("acme", SPEC)
    err = info.value
    assert err.status == 409 and err.conflicting_token_id == holder
    assert f"`terraform import <resource address> acme/{holder}`" in err.detail
    assert "never reusable" in err.detail
    assert [r.method for r in cloud.requests] == ["POST", "GET"]
    assert cloud.requests[1].url.params["filter"] == "all"
    assert cloud.count("DELETE") == 0


def test_409_with_an_expired_holder_offers_no_import() -> None:
    cloud = FakeCloud()
    holder = cloud.add_token("ci", expires=int(time.time()) - 3600)
    client, _ = make(cloud)
    with pytest.raises(NameConflictError) as info:
        client.create_token("acme", SPEC)
    assert info.value.conflicting_token_id is None
    assert "expired" in info.value.detail and holder in info.value.detail
    assert "terraform import" not in info.value.detail


def test_409_for_a_deleted_name_explains_names_are_never_reused() -> None:
    cloud = FakeCloud(post=[409])
    client, _ = make(cloud)
    with pytest.raises(NameConflictError) as info:
        client.create_token("acme", SPEC)
    assert info.value.conflicting_token_id is None
    assert "deleted token held it" in info.value.detail and "choose a new `name`" in info.value.detail


def test_409_when_the_listing_fails_is_still_a_conflict() -> None:
    cloud = FakeCloud(post=[409], get=[403])
    client, _ = make(cloud)
    with pytest.raises(NameConflictError) as info:
        client.create_token("acme", SPEC)
    assert info.value.conflicting_token_id is None and info.value.status == 409


def test_409_after_an_ambiguous_create_of_our_own_deletes_the_orphan() -> None:
    """The first create committed but the listing did not show it yet; the retry meets 409."""
    cloud = FakeCloud(post=[("commit", 504)], get=[httpx.Response(200, json={"tokens": []})])
    client, _ = make(cloud)
    with pytest.raises(LostTokenError) as info:
        client.create_token("acme", SPEC)
    assert [r.method for r in cloud.requests] == ["POST", "GET", "POST", "GET", "DELETE"]
    assert cloud.tokens == {} and info.value.orphan_deleted


# -- the real emulator -----------------------------------------------------------------------------


def test_happy_path_against_the_emulator_with_retries_on() -> None:
    with Emulator() as emulator:
        stop = threading.Event()
        with PulumiCloudClient(
            emulator.url, Secret(emulator.access_token), retry=RetryPolicy(), cancel=stop
        ) as client:
            spec = TokenSpec(name="retry-happy", description="d", expires=0, admin=False)
            created = client.create_token(emulator.org, spec, reason="integration")
            listed = {t.id: t for t in client.list_tokens(emulator.org)}
            assert listed[created.id].name == "retry-happy"
            assert client.delete_token(emulator.org, created.id) is True
            assert client.delete_token(emulator.org, created.id) is False
            assert created.id not in {t.id for t in client.list_tokens(emulator.org)}
            assert client.stats.retries == 0 and client.stats.create_requests == 1

