"""Fault injection in the emulator, observed where clients see it: on the wire of a real subprocess.

Each fault is switched on at rate 1.0 and checked at the HTTP level (status, headers, body, or a
reset connection) together with its promise of (no) effect, read back through the audit log, which
is never faulted, or straight from the SQLite file. Reproducibility is checked by replaying the
same 50 requests against fresh emulators with the same and with a different seed.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.emulator import REPO_ROOT, Emulator

from tfprovider.emulator.cli import build_parser
from tfprovider.emulator.faults import FaultSettings, FaultSettingsError

TOKENS = "/api/orgs/acme/tokens"
AUDIT = "/api/orgs/acme/auditlogs"
STATS = "/api/emulator/stats"
EVERY_FAULT = [
    "--error-rate", "1", "--throttle-rate", "1", "--reset-rate", "1", "--drop-after-commit-rate", "1"
]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def outcome(self) -> str:
        """A short label of what the client saw, comparable across runs."""
        if self.status == 429:
            return "429:" + ("seconds" if self.headers["retry-after"].isdigit() else "date")
        if self.status >= 500:
            text = self.headers["content-type"].startswith("text/")
            return f"{self.status}:" + ("text" if text else "json")
        return str(self.status)


def send(emulator: Emulator, method: str, path: str, body: Any = None, *, auth: bool = True) -> Reply | None:
    """One request on a fresh connection; None when the connection was reset instead of answered."""
    parts = urlsplit(emulator.url)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Accept": "application/vnd.pulumi+8"}
    if auth:
        headers["Authorization"] = f"token {emulator.access_token}"
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    except ConnectionError:  # ConnectionResetError, and http.client.RemoteDisconnected which subclasses it
        return None
    finally:
        connection.close()


def answered(reply: Reply | None) -> Reply:
    assert reply is not None, "the connection was reset, an answer was expected"
    return reply


def audit_events(emulator: Emulator) -> list[dict[str, Any]]:
    status, body = emulator.call("GET", AUDIT)
    assert status == 200, body
    events: list[dict[str, Any]] = body["auditLogEvents"]
    return events


@pytest.fixture
def db_with_token(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A database holding one live token ``keep``, written by an emulator without faults."""
    db = tmp_path / "faults.db"
    with Emulator(db=db) as clean:
        status, created = clean.call("POST", TOKENS, {"name": "keep"})
        assert status == 200, created
    yield db, created["id"]


def live_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, name FROM tokens WHERE deleted_at IS NULL ORDER BY seq").fetchall()


# --- each fault at rate 1.0 -------------------------------------------------------------------


def test_error_rate_answers_500_502_503_in_json_or_text_and_changes_nothing(
    db_with_token: tuple[Path, str],
) -> None:
    db, keep_id = db_with_token
    with Emulator(db=db, extra_args=["--error-rate", "1", "--seed", "11"]) as emulator:
        replies = [answered(send(emulator, "POST", TOKENS, {"name": f"e{i}"})) for i in range(24)]
        replies += [answered(send(emulator, "DELETE", f"{TOKENS}/{keep_id}")) for _ in range(3)]
        replies += [answered(send(emulator, "GET", TOKENS)) for _ in range(3)]
        assert {reply.status for reply in replies} == {500, 502, 503}
        forms = Counter(reply.outcome.split(":")[1] for reply in replies)
        assert forms["json"] > 0 and forms["text"] > 0, forms
        for reply in replies:
            if reply.outcome.endswith(":json"):
                error = reply.json()
                assert error["code"] == reply.status and "injected" in error["message"]
            else:
                assert reply.body.decode().startswith(f"{reply.status} ")
        assert [event["event"] for event in audit_events(emulator)] == ["token.created"]  # only `keep`
        stats = emulator.stats()
        assert stats["faults"] == {"error": 30, "throttle": 0, "reset": 0, "drop_after_commit": 0}
        requests = stats["requests"]
        assert (requests["create"], requests["delete"], requests["list"]) == (24, 3, 3)
    assert live_rows(db) == [(keep_id, "keep")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_throttle_answers_429_with_retry_after_in_both_forms(seed: int) -> None:
    with Emulator(extra_args=["--throttle-rate", "1", "--seed", str(seed)]) as emulator:
        replies = [answered(send(emulator, "POST", TOKENS, {"name": f"t{i}"})) for i in range(8)]
        replies += [answered(send(emulator, "GET", TOKENS)) for _ in range(8)]
        forms = set()
        for reply in replies:
            assert reply.status == 429 and reply.json()["code"] == 429
            retry_after = reply.headers["retry-after"]
            if retry_after.isdigit():
                assert retry_after == "1"
                forms.add("seconds")
            else:
                moment = email.utils.parsedate_to_datetime(retry_after)
                assert retry_after.endswith(" GMT") and moment.tzinfo is not None
                assert -1.0 <= moment.timestamp() - time.time() <= 2.0, retry_after
                forms.add("date")
        assert forms == {"seconds", "date"}
        assert audit_events(emulator) == []
        assert emulator.stats()["faults"]["throttle"] == 16


def test_reset_is_a_connection_error_for_urllib_httpx_and_sockets_and_changes_nothing(
    db_with_token: tuple[Path, str],
) -> None:
    db, keep_id = db_with_token
    with Emulator(db=db, extra_args=["--reset-rate", "1"]) as emulator:
        with pytest.raises(ConnectionError):
            emulator.call("POST", TOKENS, {"name": "by-urllib"})
        with pytest.raises(ConnectionError):
            emulator.call("DELETE", f"{TOKENS}/{keep_id}")
        headers = {"Authorization": f"token {emulator.access_token}"}
        with httpx.Client(base_url=emulator.url, headers=headers, timeout=10) as client:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                client.post(TOKENS, json={"name": "by-httpx"})
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                client.get(TOKENS)
        port = urlsplit(emulator.url).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            head = f"GET {TOKENS} HTTP/1.1\r\nHost: x\r\nAuthorization: {headers['Authorization']}\r\n\r\n"
            raw.sendall(head.encode())
            with pytest.raises(ConnectionResetError):  # an RST, not a clean end of stream
                raw.recv(1024)
        assert [event["event"] for event in audit_events(emulator)] == ["token.created"]
        assert emulator.stats()["faults"]["reset"] == 5
    assert live_rows(db) == [(keep_id, "keep")]


def test_drop_after_commit_loses_the_answer_but_the_token_exists() -> None:
    with Emulator(extra_args=["--drop-after-commit-rate", "1", "--seed", "4"]) as emulator:
        with pytest.raises(ConnectionError):
            emulator.call("POST", TOKENS + "?reason=lost", {"name": "lost-urllib"})
        headers = {"Authorization": f"token {emulator.access_token}"}
        with httpx.Client(base_url=emulator.url, timeout=10, headers=headers) as client, pytest.raises(
            (httpx.ReadError, httpx.RemoteProtocolError)
        ):
            client.post(TOKENS, json={"name": "lost-httpx"})
        # Only successful creates are dropped: a refused one is answered, other operations too.
        conflict = answered(send(emulator, "POST", TOKENS, {"name": "lost-urllib"}))
        assert conflict.status == 409 and conflict.json()["message"] == "Conflict: token name already exists"
        listed = answered(send(emulator, "GET", TOKENS))
        assert listed.status == 200
        tokens = {token["name"]: token["id"] for token in listed.json()["tokens"]}
        assert set(tokens) == {"lost-urllib", "lost-httpx"}
        created = [event for event in audit_events(emulator) if event["event"] == "token.created"]
        assert [(event["tokenName"], event["reason"]) for event in created] == [
            ("lost-urllib", "lost"), ("lost-httpx", "")
        ]
        assert answered(send(emulator, "DELETE", f"{TOKENS}/{tokens['lost-httpx']}")).status == 204
        stats = emulator.stats()
        assert stats["faults"] == {"error": 0, "throttle": 0, "reset": 0, "drop_after_commit": 2}
        assert stats["requests"]["create"] == 3


# --- reproducibility --------------------------------------------------------------------------

MIXED = [
    "--error-rate", "0.2", "--throttle-rate", "0.2", "--reset-rate", "0.15", "--drop-after-commit-rate", "0.4"
]


def replay(seed: int, *, read_harness_endpoints: bool = False) -> list[str]:
    """Fifty sequential requests (creates and lists alternating) against a fresh emulator."""
    outcomes = []
    with Emulator(extra_args=[*MIXED, "--seed", str(seed)]) as emulator:
        for i in range(50):
            if i % 2 == 0:
                reply = send(emulator, "POST", TOKENS, {"name": f"r{i}"})
            else:
                reply = send(emulator, "GET", TOKENS)
            outcomes.append("reset" if reply is None else reply.outcome)
            if read_harness_endpoints:  # never faulted, and they draw nothing from the RNG
                assert emulator.stats()["seed"] == seed
                audit_events(emulator)
    return outcomes


def test_same_seed_replays_the_same_faults_and_another_seed_does_not() -> None:
    first = replay(42)
    assert len(set(first)) >= 5, first  # a real mix, so the comparisons below mean something
    assert replay(42, read_harness_endpoints=True) == first
    assert replay(43) != first


# --- latency, the harness endpoints and the stats -------------------------------------------


def timed(emulator: Emulator, method: str, path: str, body: Any = None) -> tuple[float, Reply]:
    started = time.perf_counter()
    reply = answered(send(emulator, method, path, body))
    return time.perf_counter() - started, reply


def test_latency_delays_every_api_request_but_not_the_harness_endpoints() -> None:
    with Emulator(extra_args=["--latency-ms", "250", "--latency-jitter-ms", "100"]) as emulator:
        for method, path, body in (("GET", TOKENS, None), ("POST", TOKENS, {"name": "slow"}),
                                   ("GET", "/api/unknown", None)):
            elapsed, reply = timed(emulator, method, path, body)
            assert 0.25 <= elapsed < 2.0, (method, path, elapsed)
            assert reply.status in (200, 404)
        for path in (STATS, AUDIT, "/"):
            elapsed, _ = timed(emulator, "GET", path)
            assert elapsed < 0.2, (path, elapsed)


def test_harness_endpoints_and_non_api_paths_are_never_faulted() -> None:
    # Every fault certain, and a delay long enough to notice: still the URL line comes first, and
    # the audit log, the stats and paths outside /api/ answer at once.
    with Emulator(extra_args=[*EVERY_FAULT, "--latency-ms", "5000"]) as emulator:
        for _ in range(10):
            assert answered(send(emulator, "GET", STATS)).status == 200
            assert answered(send(emulator, "GET", AUDIT)).status == 200
            root = answered(send(emulator, "GET", "/"))
            assert root.status == 404 and root.json()["code"] == 404
        assert answered(send(emulator, "GET", STATS, auth=False)).status == 401
        stats = emulator.stats()
        assert stats["faults"] == {"error": 0, "throttle": 0, "reset": 0, "drop_after_commit": 0}


def test_stats_count_requests_by_operation_and_faults_as_clients_saw_them() -> None:
    with Emulator(extra_args=[*MIXED, "--seed", "7"]) as emulator:
        before = emulator.stats()
        assert before["requests"] == {"create": 0, "list": 0, "delete": 0, "audit_log": 0, "stats": 1,
                                      "other": 0}
        plan: list[tuple[str, str, dict[str, str] | None]] = [
            ("POST", TOKENS, {"name": f"c{i}"}) for i in range(30)
        ]
        plan += [("GET", TOKENS, None)] * 12 + [("DELETE", f"{TOKENS}/no-such-id", None)] * 6
        plan += [("GET", "/api/orgs/acme/stacks", None), ("PUT", TOKENS, {})]
        seen: Counter[str] = Counter()
        create_ok = 0
        with ThreadPoolExecutor(8) as pool:  # concurrent, so the counters' locking is exercised too
            replies = list(pool.map(lambda step: send(emulator, *step), plan))
        for (method, _, _), reply in zip(plan, replies, strict=True):
            seen["reset" if reply is None else reply.outcome.split(":")[0]] += 1
            create_ok += method == "POST" and reply is not None and reply.status == 200
        assert emulator.call("GET", AUDIT)[0] == 200
        stats = emulator.stats()
        assert stats["requests"] == {"create": 30, "list": 12, "delete": 6, "audit_log": 1, "stats": 2,
                                     "other": 2}
        faults = stats["faults"]
        assert faults["error"] == seen["500"] + seen["502"] + seen["503"]
        assert faults["throttle"] == seen["429"]
        assert faults["reset"] + faults["drop_after_commit"] == seen["reset"]
        committed = sum(event["event"] == "token.created" for event in audit_events(emulator))
        assert faults["drop_after_commit"] == committed - create_ok
        assert min(faults.values()) > 0, faults  # every kind happened, so each equality was tested


# --- settings validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [("--error-rate", "1.5", "probability"), ("--throttle-rate", "-0.1", "probability"),
     ("--reset-rate", "nan", "probability"), ("--drop-after-commit-rate", "inf", "probability"),
     ("--error-rate", "often", "probability"), ("--latency-ms", "-1", "milliseconds"),
     ("--latency-jitter-ms", "soon", "milliseconds"), ("--seed", "-3", "0 or more"),
     ("--seed", "1.5", "whole number")],
)
def test_invalid_fault_flags_are_rejected_naming_the_flag(
    flag: str, value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([flag, value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}:" in error and words in error and repr(value) in error


def test_rate_bounds_are_inclusive() -> None:
    args = build_parser().parse_args(["--error-rate", "0", "--reset-rate", "1", "--seed", "0"])
    assert (args.error_rate, args.reset_rate, args.seed) == (0.0, 1.0, 0)
    with pytest.raises(FaultSettingsError, match="--throttle-rate"):
        FaultSettings(seed=1, throttle_rate=1.01)


def test_the_command_refuses_a_bad_rate_before_printing_anything() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tfprovider.emulator.cli", "--error-rate", "2"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--error-rate" in result.stderr and "from 0 to 1" in result.stderr

