"""The local Pulumi Cloud emulator: its rules (store unit tests) and its HTTP contract (real subprocess).

The subprocess tests start ``pulumi-cloud-emulator`` on loopback exactly as users do and speak
plain HTTP to it, so they check the paths, status codes and JSON bodies the provider relies on.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from support.emulator import REPO_ROOT, Emulator

from tfprovider.emulator.store import (
    MAX_EXPIRY_SECONDS,
    PAGING_ERROR,
    ContinuationCodec,
    InvalidRequest,
    NotFound,
    Role,
    Store,
    TokenFilter,
    TokenRequest,
    Unavailable,
    parse_max_results,
    parse_token_request,
)
from tfprovider.emulator.store import Conflict as ConflictError

ROLE = "stack-admin"
DAY = 24 * 60 * 60


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- store unit tests -------------------------------------------------------------------------


def test_role_name_and_identifier_derive_from_id() -> None:
    assert Role.from_id("stack-admin") == Role("stack-admin", "Stack Admin", "stack-admin")
    assert Role.from_id("Billing_Manager") == Role("Billing_Manager", "Billing Manager", "billing-manager")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "JSON object"),
        ({}, "'name'"),
        ({"name": None}, "'name'"),
        ({"name": ""}, "'name'"),
        ({"name": "   "}, "'name'"),
        ({"name": "x" * 41}, "at most 40"),
        ({"name": 7}, "'name'"),
        ({"name": "ok", "description": 1}, "'description'"),
        ({"name": "ok", "expires": 1.5}, "'expires'"),
        ({"name": "ok", "expires": 2_000_000_000.0}, "'expires'"),
        ({"name": "ok", "expires": "2000000000"}, "'expires'"),
        ({"name": "ok", "expires": True}, "'expires'"),
        ({"name": "ok", "admin": "yes"}, "'admin'"),
        ({"name": "ok", "roleID": 3}, "'roleID'"),
    ],
)
def test_parse_token_request_refuses_wrong_shapes(payload: object, field: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(field)):
        parse_token_request(payload)


def test_parse_token_request_defaults_absent_and_null_fields() -> None:
    parsed = parse_token_request(
        {"name": "x" * 40, "description": None, "expires": None, "roleID": "", "extra": [1]}
    )
    assert parsed == TokenRequest(name="x" * 40, description="", expires=0, admin=False, role_id=None)


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "+5", "5_0", "abc", " 5", "1e3", "99999999"])
def test_parse_max_results_refuses_out_of_range(raw: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(PAGING_ERROR)):
        parse_max_results(raw)


def test_parse_max_results_accepts_range_and_defaults() -> None:
    assert [parse_max_results(raw) for raw in (None, "", "1", "1000")] == [100, 100, 1, 1000]


def test_store_expiry_must_be_future_and_within_two_years() -> None:
    clock = FakeClock(1_700_000_000.25)
    store = Store(None, orgs=["acme"], clock=clock)
    now = 1_700_000_000
    for bad, words in ((now, "not in the future"), (now - 1, "not in the future"), (-5, "not in the future"),
                       (now + MAX_EXPIRY_SECONDS + 1, "more than two years")):
        with pytest.raises(InvalidRequest, match=words):
            store.create_token("acme", TokenRequest(name=unique(), expires=bad))
    store.create_token("acme", TokenRequest(name=unique(), expires=now + MAX_EXPIRY_SECONDS))
    store.create_token("acme", TokenRequest(name=unique(), expires=now + 1))
    store.create_token("acme", TokenRequest(name=unique(), expires=0))


def test_store_filters_follow_the_injected_clock() -> None:
    clock = FakeClock(1_000_000)
    store = Store(None, orgs=["acme"], clock=clock)
    soon = store.create_token("acme", TokenRequest(name="soon", expires=1_000_050)).id
    later = store.create_token("acme", TokenRequest(name="later", expires=1_000_100)).id
    never = store.create_token("acme", TokenRequest(name="never")).id

    def ids(token_filter: TokenFilter) -> list[str]:
        return [token.id for token in store.list_tokens("acme", token_filter=token_filter).tokens]

    assert ids(TokenFilter.ACTIVE) == [soon, later, never]
    assert ids(TokenFilter.EXPIRED) == []
    clock.now = 1_000_050  # expires == now counts as expired
    assert ids(TokenFilter.ACTIVE) == [later, never]
    assert ids(TokenFilter.EXPIRED) == [soon]
    assert ids(TokenFilter.ALL) == [soon, later, never]
    clock.now = 2_000_000
    assert ids(TokenFilter.ACTIVE) == [never]
    assert ids(TokenFilter.EXPIRED) == [soon, later]


def test_store_names_are_never_reusable_and_unknown_roles_refused() -> None:
    store = Store(None, orgs=["acme", "other"], roles=[Role.from_id(ROLE)])
    token = store.create_token("acme", TokenRequest(name="ci", role_id=ROLE))
    with pytest.raises(ConflictError, match="Conflict: token name already exists"):
        store.create_token("acme", TokenRequest(name="ci"))
    store.delete_token("acme", token.id)
    with pytest.raises(ConflictError):
        store.create_token("acme", TokenRequest(name="ci"))
    store.create_token("other", TokenRequest(name="ci"))  # names are per organization
    with pytest.raises(InvalidRequest, match=r"'roleID'.*known roles: stack-admin"):
        store.create_token("acme", TokenRequest(name="r", role_id="nope"))
    with pytest.raises(NotFound, match="Organization 'nope' not found"):
        store.create_token("nope", TokenRequest(name="x"))
    with pytest.raises(NotFound):
        store.delete_token("acme", token.id)
    with pytest.raises(NotFound):
        store.delete_token("other", store.create_token("acme", TokenRequest(name="mine")).id)


def test_store_keeps_only_a_hash_of_the_value(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    store = Store(str(db), orgs=["acme"])
    created = store.create_token("acme", TokenRequest(name="ci"))
    assert re.fullmatch(r"pul-[0-9a-f]{40}", created.token_value)
    page = store.list_tokens("acme")
    assert created.token_value not in json.dumps(page.to_json())
    store.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert created.token_value.encode() not in raw
    assert created.token_value[4:].encode() not in raw


def test_continuation_tokens_are_bound_and_signed() -> None:
    codec = ContinuationCodec(b"k" * 32)
    token = codec.encode("acme", TokenFilter.ACTIVE, 42)
    assert codec.decode("acme", TokenFilter.ACTIVE, token) == 42
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad, org, token_filter in (
        (flipped, "acme", TokenFilter.ACTIVE),
        (token, "other", TokenFilter.ACTIVE),
        (token, "acme", TokenFilter.ALL),
        (token + "AAAA", "acme", TokenFilter.ACTIVE),
        ("not base64!", "acme", TokenFilter.ACTIVE),
        (ContinuationCodec(b"x" * 32).encode("acme", TokenFilter.ACTIVE, 42), "acme", TokenFilter.ACTIVE),
    ):
        with pytest.raises(InvalidRequest, match=re.escape(PAGING_ERROR)):
            codec.decode(org, token_filter, bad)


def test_paging_neither_skips_nor_repeats_while_tokens_change() -> None:
    store = Store(None, orgs=["acme"])
    ids = [store.create_token("acme", TokenRequest(name=f"n{i}")).id for i in range(10)]
    first = store.list_tokens("acme", max_results=3)
    assert [token.id for token in first.tokens] == ids[:3]
    store.delete_token("acme", ids[1])  # already served
    store.delete_token("acme", ids[5])  # not yet served: must not appear
    ids.append(store.create_token("acme", TokenRequest(name="late")).id)
    seen = [token.id for token in first.tokens]
    cursor = first.continuation_token
    while cursor is not None:
        page = store.list_tokens("acme", max_results=3, continuation_token=cursor)
        seen += [token.id for token in page.tokens]
        cursor = page.continuation_token
    assert seen == [token_id for token_id in ids if token_id != ids[5]]


def test_store_reopens_with_data_and_valid_cursors(tmp_path: Path) -> None:
    db = str(tmp_path / "tokens.db")
    store = Store(db, orgs=["acme"])
    ids = [store.create_token("acme", TokenRequest(name=f"n{i}"), reason=f"r{i}").id for i in range(3)]
    cursor = store.list_tokens("acme", max_results=1).continuation_token
    store.close()
    with pytest.raises(Unavailable):
        store.list_tokens("acme")
    reopened = Store(db, orgs=["acme"])
    page = reopened.list_tokens("acme", max_results=5, continuation_token=cursor)
    assert [token.id for token in page.tokens] == ids[1:]
    assert [event.reason for event in reopened.audit_log("acme")] == ["r0", "r1", "r2"]
    reopened.close()


# --- the emulator as a subprocess -------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(orgs=["acme", "bulk", "other"], roles=[ROLE]) as running:
        yield running


def create(emulator: Emulator, body: dict[str, Any], reason: str | None = None) -> tuple[int, Any]:
    query = f"?reason={quote(reason)}" if reason is not None else ""
    return emulator.call("POST", f"/api/orgs/{emulator.org}/tokens{query}", body)


def list_all(emulator: Emulator, org: str, token_filter: str = "active") -> list[dict[str, Any]]:
    tokens: list[dict[str, Any]] = []
    cursor = ""
    while True:
        suffix = f"&continuationToken={quote(cursor)}" if cursor else ""
        status, body = emulator.call("GET", f"/api/orgs/{org}/tokens?filter={token_filter}{suffix}")
        assert status == 200, body
        tokens += body["tokens"]
        if body["continuationToken"] is None:
            return tokens
        cursor = body["continuationToken"]


def test_first_stdout_line_is_the_backend_url(emulator: Emulator) -> None:
    assert re.fullmatch(r"PULUMI_BACKEND_URL=http://127\.0\.0\.1:[1-9][0-9]*", emulator.first_line)
    port = urlsplit(emulator.url).port
    assert port is not None
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize(
    "authorization",
    [None, "token wrong", "token ", "Bearer pul-emulator-access-token", "pul-emulator-access-token",
     "token pul-emulator-access-token-and-more"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/orgs/acme/tokens"), ("POST", "/api/orgs/acme/tokens"),
     ("DELETE", "/api/orgs/acme/tokens/abc"), ("GET", "/api/orgs/acme/auditlogs"),
     ("GET", "/api/orgs/nope/tokens"), ("GET", "/api/unknown"), ("GET", "/api/emulator/stats")],
)
def test_every_api_call_needs_the_access_token(
    emulator: Emulator, authorization: str | None, method: str, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    body = {"name": unique()} if method == "POST" else None
    status, error = emulator.call(method, path, body, send_auth=False, headers=headers)
    assert status == 401
    assert error["code"] == 401 and "Unauthorized" in error["message"]


def test_authorization_scheme_is_case_insensitive(emulator: Emulator) -> None:
    status, _ = emulator.call(
        "GET", "/api/orgs/acme/tokens", send_auth=False,
        headers={"Authorization": f"Token {emulator.access_token}"},
    )
    assert status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/orgs/nope/tokens"), ("POST", "/api/orgs/nope/tokens"),
     ("DELETE", "/api/orgs/nope/tokens/abc"), ("GET", "/api/orgs/nope/auditlogs")],
)
def test_unknown_organization_is_404(emulator: Emulator, method: str, path: str) -> None:
    status, error = emulator.call(method, path, {"name": "x"} if method == "POST" else None)
    assert (status, error) == (404, {"code": 404, "message": "Not Found: Organization 'nope' not found"})


def test_create_returns_id_and_value_once_and_list_shows_the_token(emulator: Emulator) -> None:
    name = unique("full")
    expires = int(time.time()) + 30 * DAY
    status, created = create(
        emulator,
        {"name": name, "description": "for CI", "expires": expires, "admin": True, "roleID": ROLE},
        reason="ci pipeline",
    )
    assert status == 200
    assert set(created) == {"id", "tokenValue"}
    assert uuid.UUID(created["id"]).version == 4
    assert re.fullmatch(r"pul-[0-9a-f]{40}", created["tokenValue"])
    listed = [token for token in list_all(emulator, "acme") if token["id"] == created["id"]]
    assert len(listed) == 1
    token = listed[0]
    assert token == {
        "id": created["id"], "name": name, "description": "for CI", "created": token["created"],
        "lastUsed": 0, "expires": expires, "admin": True, "createdBy": "emulator-user",
        "type": "organization",
        "role": {"id": ROLE, "name": "Stack Admin", "defaultIdentifier": "stack-admin"},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", token["created"])
    assert created["tokenValue"] not in json.dumps(list_all(emulator, "acme", "all"))
    status, plain = create(emulator, {"name": unique("plain")})
    assert status == 200
    plain_token = next(t for t in list_all(emulator, "acme") if t["id"] == plain["id"])
    assert "role" not in plain_token and plain_token["expires"] == 0 and plain_token["admin"] is False


def _bad_bodies() -> list[tuple[str, bytes]]:
    now = int(time.time())
    return [
        ("name-too-long", json.dumps({"name": "n" * 41}).encode()),
        ("name-missing", json.dumps({"description": "x"}).encode()),
        ("name-empty", json.dumps({"name": ""}).encode()),
        ("expires-past", json.dumps({"name": unique(), "expires": now - 60}).encode()),
        ("expires-too-far", json.dumps({"name": unique(), "expires": now + 731 * DAY}).encode()),
        ("expires-fractional", json.dumps({"name": unique(), "expires": now + 60.5}).encode()),
        ("admin-not-bool", json.dumps({"name": unique(), "admin": "true"}).encode()),
        ("role-unknown", json.dumps({"name": unique(), "roleID": "no-such-role"}).encode()),
        ("malformed-json", b'{"name": "x",'),
        ("not-an-object", b'["name"]'),
        ("empty-body", b""),
        ("not-utf8", b'{"name": "\xff"}'),
    ]


@pytest.mark.parametrize(("case", "raw"), _bad_bodies(), ids=[case for case, _ in _bad_bodies()])
def test_invalid_create_bodies_are_400(emulator: Emulator, case: str, raw: bytes) -> None:
    status, error = emulator.call("POST", "/api/orgs/acme/tokens", raw_body=raw)
    assert status == 400, (case, error)
    assert error["code"] == 400 and error["message"]


def test_forty_character_name_is_accepted(emulator: Emulator) -> None:
    name = unique("forty").ljust(40, "x")
    assert len(name) == 40
    assert create(emulator, {"name": name})[0] == 200


def test_a_name_is_taken_while_live_and_after_deletion(emulator: Emulator) -> None:
    name = unique("taken")
    status, created = create(emulator, {"name": name})
    assert status == 200
    conflict = (409, {"code": 409, "message": "Conflict: token name already exists"})
    assert create(emulator, {"name": name}) == conflict
    assert emulator.call("DELETE", f"/api/orgs/acme/tokens/{created['id']}") == (204, None)
    assert create(emulator, {"name": name}) == conflict
    assert emulator.call("POST", "/api/orgs/other/tokens", {"name": name})[0] == 200


def test_delete_is_204_then_404(emulator: Emulator) -> None:
    _, created = create(emulator, {"name": unique("del")})
    path = f"/api/orgs/acme/tokens/{created['id']}"
    assert emulator.call("DELETE", path) == (204, None)
    status, error = emulator.call("DELETE", path)
    assert status == 404 and error["code"] == 404
    assert emulator.call("DELETE", f"/api/orgs/acme/tokens/{uuid.uuid4()}")[0] == 404
    assert created["id"] not in {token["id"] for token in list_all(emulator, "acme", "all")}


def _create_many(emulator: Emulator, org: str, names: list[str]) -> list[str]:
    """Create over persistent keep-alive connections, a few in parallel, so 2500 creates stay fast."""
    parts = urlsplit(emulator.url)
    assert parts.hostname is not None and parts.port is not None
    headers = {"Authorization": f"token {emulator.access_token}", "Content-Type": "application/json"}

    def worker(chunk: list[str]) -> list[str]:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        ids = []
        for name in chunk:
            connection.request("POST", f"/api/orgs/{org}/tokens", json.dumps({"name": name}), headers)
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, body
            ids.append(body["id"])
        connection.close()
        return ids

    chunks = [names[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        return [token_id for ids in pool.map(worker, chunks) for token_id in ids]


def test_paging_2500_tokens_in_pages_of_1000(emulator: Emulator) -> None:
    created = set(_create_many(emulator, "bulk", [f"bulk-{i}" for i in range(2500)]))
    assert len(created) == 2500
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        suffix = f"&continuationToken={quote(cursor)}" if cursor else ""
        status, body = emulator.call("GET", f"/api/orgs/bulk/tokens?maxResults=1000{suffix}")
        assert status == 200, body
        pages.append(body["tokens"])
        cursor = body["continuationToken"]
        if cursor is None:
            break
        assert len(pages) < 5, "paging does not terminate"
    assert [len(page) for page in pages] == [1000, 1000, 500]
    ids = [token["id"] for page in pages for token in page]
    assert len(ids) == len(set(ids)) == 2500 and set(ids) == created
    created_at = [token["created"] for page in pages for token in page]
    assert created_at == sorted(created_at)  # creation order
    status, body = emulator.call("GET", "/api/orgs/bulk/tokens")
    assert status == 200 and len(body["tokens"]) == 100 and body["continuationToken"]


@pytest.mark.parametrize(
    "query",
    ["maxResults=0", "maxResults=1001", "maxResults=abc", "maxResults=-3", "continuationToken=garbage!",
     "continuationToken=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "continuationToken=%00%01"],
)
def test_bad_paging_parameters_are_400(emulator: Emulator, query: str) -> None:
    assert emulator.call("GET", f"/api/orgs/acme/tokens?{query}") == (
        400, {"code": 400, "message": "Invalid continuationToken or maxResults value."}
    )


def test_continuation_token_cannot_be_forged_or_moved(emulator: Emulator) -> None:
    for i in range(3):
        assert create(emulator, {"name": unique(f"page{i}")})[0] == 200
    _, page = emulator.call("GET", "/api/orgs/acme/tokens?maxResults=1")
    cursor = page["continuationToken"]
    assert cursor
    assert emulator.call("GET", f"/api/orgs/acme/tokens?maxResults=1&continuationToken={cursor}")[0] == 200
    forged = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for path in (f"/api/orgs/acme/tokens?continuationToken={forged}",
                 f"/api/orgs/other/tokens?continuationToken={cursor}",
                 f"/api/orgs/acme/tokens?filter=all&continuationToken={cursor}"):
        assert emulator.call("GET", path)[0] == 400


def test_unknown_filter_is_400(emulator: Emulator) -> None:
    status, error = emulator.call("GET", "/api/orgs/acme/tokens?filter=deleted")
    assert status == 400 and "active, expired or all" in error["message"]


def test_filters_hide_and_show_expired_tokens(tmp_path: Path) -> None:
    db = tmp_path / "filters.db"
    with Emulator(db=db) as running:
        now = time.time()
        # A second writer on the same file whose clock is an hour behind: its "future" expiry has
        # already passed in real time, which is how an expired token comes to exist.
        past = Store(str(db), orgs=[running.org], clock=FakeClock(now - 3600))
        expired_id = past.create_token(running.org, TokenRequest(name="old", expires=int(now) - 1800)).id
        past.close()
        _, live = running.call("POST", f"/api/orgs/{running.org}/tokens", {"name": "live"})

        def ids(query: str) -> list[str]:
            status, body = running.call("GET", f"/api/orgs/{running.org}/tokens{query}")
            assert status == 200, body
            return [token["id"] for token in body["tokens"]]

        assert ids("") == [live["id"]]
        assert ids("?filter=active") == [live["id"]]
        assert ids("?filter=expired") == [expired_id]
        assert ids("?filter=all") == [expired_id, live["id"]]


def test_audit_log_records_every_create_reason_and_delete(emulator: Emulator) -> None:
    name = unique("audited")
    _, created = create(emulator, {"name": name}, reason="rotate: quarterly & more")
    _, bare = create(emulator, {"name": unique("bare")})
    emulator.call("DELETE", f"/api/orgs/acme/tokens/{created['id']}")
    status, body = emulator.call("GET", "/api/orgs/acme/auditlogs")
    assert status == 200
    events = [event for event in body["auditLogEvents"] if event["tokenId"] in (created["id"], bare["id"])]
    assert [(event["event"], event["tokenId"], event["reason"]) for event in events] == [
        ("token.created", created["id"], "rotate: quarterly & more"),
        ("token.created", bare["id"], ""),
        ("token.deleted", created["id"], None),
    ]
    assert events[0]["tokenName"] == name and isinstance(events[0]["timestamp"], int)
    assert all(event["description"] for event in events)
    _, other = emulator.call("GET", "/api/orgs/other/auditlogs")
    assert created["id"] not in json.dumps(other)


def test_unknown_paths_are_404_and_wrong_methods_405(emulator: Emulator) -> None:
    assert emulator.call("GET", "/api/orgs/acme/stacks")[0] == 404
    assert emulator.call("GET", "/api/orgs/acme/tokens/a/b")[0] == 404
    status, error = emulator.call("GET", "/nothing-here", send_auth=False)
    assert status == 404 and error["code"] == 404
    for method, path in (("PUT", "/api/orgs/acme/tokens"), ("GET", "/api/orgs/acme/tokens/abc"),
                         ("PATCH", "/api/orgs/acme/tokens/abc"), ("POST", "/api/orgs/acme/auditlogs")):
        status, error = emulator.call(method, path, {} if method in ("PUT", "PATCH", "POST") else None)
        assert (status, error["code"]) == (405, 405), (method, path)


def test_malformed_http_gets_a_json_error(emulator: Emulator) -> None:
    port = urlsplit(emulator.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        chunks = []
        while chunk := raw.recv(65536):  # the emulator closes the connection after this answer
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400")
    assert json.loads(body)["code"] == 400


def test_request_log_has_no_secrets(emulator: Emulator) -> None:
    _, created = create(emulator, {"name": unique("logged")}, reason="secret-reason-text")
    log = emulator.log_text()
    assert "POST /api/orgs/acme/tokens 200" in log
    assert "secret-reason-text" not in log
    assert created["tokenValue"] not in log and emulator.access_token not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero_with_writes_on_disk(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "persist.db"
    with Emulator(db=db) as first:
        ids = [first.call("POST", "/api/orgs/acme/tokens?reason=keep", {"name": f"p{i}"})[1]["id"]
               for i in range(5)]
        assert first.call("DELETE", f"/api/orgs/acme/tokens/{ids[0]}")[0] == 204
        assert first.stop(sig) == 0
    with Emulator(db=db) as second:
        assert [token["id"] for token in list_all(second, "acme")] == ids[1:]
        assert second.call("POST", "/api/orgs/acme/tokens", {"name": "p0"})[0] == 409
        _, audit = second.call("GET", "/api/orgs/acme/auditlogs")
        assert len(audit["auditLogEvents"]) == 6
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM tokens").fetchone()
    assert rows == (5,)


def test_twenty_concurrent_creates_all_succeed(emulator: Emulator) -> None:
    names = [unique(f"par{i}") for i in range(20)]
    barrier = threading.Barrier(20)

    def one(name: str) -> tuple[int, Any]:
        barrier.wait(timeout=10)
        return emulator.call("POST", "/api/orgs/other/tokens", {"name": name})

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, names))
    assert [status for status, _ in results] == [200] * 20
    ids = {body["id"] for _, body in results}
    assert len(ids) == 20
    listed = {token["id"] for token in list_all(emulator, "other")}
    assert ids <= listed


def test_importing_the_emulator_stays_light() -> None:
    code = (
        "import sys, tfprovider.emulator.cli\n"
        "heavy = ('grpc', 'httpx', 'google.protobuf', 'msgpack', 'cryptography')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            check=True, timeout=30)
    assert result.stdout.strip() == "[]"
