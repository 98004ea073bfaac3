"""tfprovider.log: hclog JSON lines on stderr, Terraform's level rules, thread safety, no secrets,
and the log lines of the Pulumi Cloud client (every exchange, retries, lost tokens)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import httpx
import pytest

from tfprovider import log
from tfprovider.cloud.client import PulumiCloudClient
from tfprovider.cloud.errors import LostTokenError
from tfprovider.cloud.models import TokenSpec
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc
from tfprovider.secret import REDACTED, Secret

TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
ACCESS = "pul-" + "c3" * 20
VALUE = "pul-" + "d4" * 20
TOKEN_ID = "0d6e2b9a-1c3f-4e5a-8b7c-9d0e1f2a3b4c"
REASON = "ticket-4711 rotate the deploy key"


class Captured:
    """Lines handed to the writer, decoded; ``text`` is everything as written."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8")

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    sink = Captured()
    log.configure({"TF_LOG": "TRACE"}, write=sink)
    try:
        yield sink
    finally:
        log.reset()


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the line format -----------------------------------------------------------------------------


def test_a_line_is_hclog_json_with_exact_keys_and_a_six_digit_utc_timestamp(captured: Captured) -> None:
    before = datetime.now(UTC)
    log.debug("sent request", method="POST", status=200, ok=True, ratio=0.25, missing=None)
    after = datetime.now(UTC)

    assert captured.text.endswith("\n") and captured.text.count("\n") == 1
    (record,) = captured.records
    assert list(record) == [
        "@level",
        "@message",
        "@module",
        "@timestamp",
        "method",
        "status",
        "ok",
        "ratio",
        "missing",
    ]
    assert record["@level"] == "debug"
    assert record["@message"] == "sent request"
    assert record["@module"] == "provider.terraform-provider-pulumiservice"
    assert (record["method"], record["status"], record["ok"], record["ratio"], record["missing"]) == (
        "POST",
        200,
        True,
        0.25,
        None,
    )
    assert TIMESTAMP.match(record["@timestamp"]), record["@timestamp"]
    stamp = datetime.strptime(record["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before.replace(microsecond=0) <= stamp <= after


@pytest.mark.parametrize(
    ("unix_ns", "expected"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1_767_366_245_000_000_000, "2026-01-02T15:04:05.000000Z"),
        (1_767_366_245_000_001_999, "2026-01-02T15:04:05.000001Z"),
        (1_767_366_245_999_999_999, "2026-01-02T15:04:05.999999Z"),
    ],
)
def test_timestamps_always_have_six_fractional_digits(unix_ns: int, expected: str) -> None:
    assert log.hclog_timestamp(unix_ns) == expected


def test_every_level_writes_its_hclog_name(captured: Captured) -> None:
    log.trace("t")
    log.debug("d")
    log.info("i")
    log.warn("w")
    log.error("e")
    log.log("info", "via log()")
    assert [(r["@level"], r["@message"]) for r in captured.records] == [
        ("trace", "t"),
        ("debug", "d"),
        ("info", "i"),
        ("warn", "w"),
        ("error", "e"),
        ("info", "via log()"),
    ]
    with pytest.raises(ValueError, match="log level must be one of"):
        log.log("fatal", "no such level")  # type: ignore[arg-type]


def test_awkward_text_stays_one_valid_line(captured: Captured) -> None:
    log.info('two\nlines, "quotes", tab\t, NUL \x00 and ünïcödé ✓', note="also\nhere")
    log.info("numbers that are not JSON", nan=float("nan"), inf=float("inf"), neg=float("-inf"))
    log.info("long", text="x" * (log.MAX_TEXT + 10))
    lines = captured.text.splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["@message"].startswith("two\nlines") and first["note"] == "also\nhere"
    assert lines[0].isascii()  # non-ASCII travels escaped, whatever the reader's encoding
    assert (second["nan"], second["inf"], second["neg"]) == ("nan", "inf", "-inf")
    assert third["text"] == "x" * log.MAX_TEXT + "... (10 more characters)"


# --- levels: Terraform's rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "level"),
    [
        ({}, "off"),
        ({"TF_LOG": ""}, "off"),
        ({"TF_LOG": "OFF"}, "off"),
        ({"TF_LOG": "off"}, "off"),
        ({"TF_LOG": "TRACE"}, "trace"),
        ({"TF_LOG": "debug"}, "debug"),
        ({"TF_LOG": "Info"}, "info"),
        ({"TF_LOG": "WARN"}, "warn"),
        ({"TF_LOG": "ERROR"}, "error"),
        ({"TF_LOG": "JSON"}, "trace"),
        ({"TF_LOG": "verbose"}, "trace"),  # Terraform: unknown values default to TRACE
        ({"TF_LOG_PROVIDER": "ERROR", "TF_LOG": "TRACE"}, "error"),
        ({"TF_LOG_PROVIDER": "DEBUG"}, "debug"),
        ({"TF_LOG_PROVIDER": "", "TF_LOG": "INFO"}, "info"),
        ({"TF_LOG_PROVIDER": "OFF", "TF_LOG": "TRACE"}, "off"),
        ({"TF_LOG_CORE": "TRACE"}, "off"),  # core logging alone does not show providers
    ],
)
def test_level_follows_terraforms_provider_log_level(environ: dict[str, str], level: str) -> None:
    assert log.level_from_environ(environ) == level


def test_lines_below_the_level_are_not_written() -> None:
    sink = Captured()
    log.configure({"TF_LOG": "WARN"}, write=sink)
    try:
        assert not log.enabled("info") and log.enabled("warn") and log.enabled("error")
        log.trace("t")
        log.debug("d")
        log.info("i")
        log.warn("w")
        log.error("e")
    finally:
        log.reset()
    assert [r["@level"] for r in sink.records] == ["warn", "error"]


def test_the_environment_is_read_on_each_call(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # A fork-server child swaps its whole environment after this module was imported.
    log.reset()
    monkeypatch.delenv("TF_LOG", raising=False)
    monkeypatch.delenv("TF_LOG_PROVIDER", raising=False)
    log.error("before")
    monkeypatch.setenv("TF_LOG", "INFO")
    log.debug("filtered")
    log.info("after")
    monkeypatch.setenv("TF_LOG_PROVIDER", "OFF")
    log.error("provider logging off")
    out, err = capfd.readouterr()
    assert out == ""
    assert [json.loads(line)["@message"] for line in err.splitlines()] == ["after"]


def test_unset_tf_log_writes_nothing_and_loads_nothing() -> None:
    result = run_python(
        """
        import sys
        from tfprovider import log
        log.error("never shown", status=500)
        with log.log_rpc("ApplyResourceChange", tf_resource_type="x"):
            pass
        print(sorted(m for m in ("json", "logging", "tfprovider.secret") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == "[]\n"


def test_importing_the_module_loads_nothing_else_and_starts_no_thread() -> None:
    result = run_python(
        """
        import sys, threading
        before = set(sys.modules) | {"__future__"}  # a compiler directive's module, ~0.1 ms
        import tfprovider.log
        print(sorted(set(sys.modules) - before), threading.active_count())
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['tfprovider', 'tfprovider.log'] 1\n"


def test_lines_reach_file_descriptor_2() -> None:
    result = run_python('from tfprovider import log; log.info("hello", n=1)', TF_LOG="INFO")
    assert result.returncode == 0 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert json.loads(line)["@message"] == "hello"


# --- many threads ----------------------------------------------------------------------------------


def test_many_threads_never_interleave_lines(captured: Captured) -> None:
    # A writer that hands each line over in two pieces with a thread switch in between: lines
    # stay whole only because every write happens under the module's lock.
    pieces: list[bytes] = []

    def slow_write(data: bytes) -> None:
        half = len(data) // 2
        pieces.append(data[:half])
        time.sleep(0)
        pieces.append(data[half:])

    log.configure({"TF_LOG": "DEBUG"}, write=slow_write)
    threads = 16
    per_thread = 200

    def work(n: int) -> None:
        for i in range(per_thread):
            log.debug("line", thread=n, i=i, padding="p" * (i % 50))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lines = b"".join(pieces).decode().splitlines()
    assert len(lines) == threads * per_thread
    seen = {(record["thread"], record["i"]) for record in map(json.loads, lines)}
    assert seen == {(n, i) for n in range(threads) for i in range(per_thread)}


def test_many_threads_over_a_real_pipe_with_lines_longer_than_pipe_buf() -> None:
    result = run_python(
        """
        import threading
        from tfprovider import log

        def work(n):
            for i in range(100):
                log.info("line", thread=n, i=i, padding="p" * 6000)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(12)]
        for w in workers: w.start()
        for w in workers: w.join()
        """,
        TF_LOG="DEBUG",
    )
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1200
    assert len({(r["thread"], r["i"]) for r in map(json.loads, lines)}) == 1200


# --- secrets and misuse ----------------------------------------------------------------------------


def test_secret_fields_are_written_as_the_placeholder(captured: Captured) -> None:
    log.info("configured", access_token=Secret(ACCESS))
    (record,) = captured.records
    assert record["access_token"] == REDACTED
    assert ACCESS not in captured.text


@pytest.mark.parametrize(
    "value",
    [
        b"pul-bytes",
        {"Authorization": "token pul-x"},
        ["pul-x"],
        httpx.Headers({"Authorization": "token pul-x"}),
        ValueError("pul-x"),
        object(),
    ],
    ids=["bytes", "dict", "list", "headers", "exception", "object"],
)
def test_other_field_values_are_refused_even_with_logging_off(value: object) -> None:
    log.configure({}, write=Captured())
    try:
        with pytest.raises(TypeError, match="log fields take str, int, float, bool, None or Secret"):
            log.debug("oops", value=value)  # type: ignore[arg-type]
    finally:
        log.reset()


def test_bad_field_names_and_messages_are_refused(captured: Captured) -> None:
    with pytest.raises(ValueError, match="lower-case identifier"):
        log.info("x", timestamp="now")
    with pytest.raises(ValueError, match="lower-case identifier"):
        log.info("x", **{"@level": "error"})
    with pytest.raises(ValueError, match="lower-case identifier"):
        log.info("x", Status=200)
    with pytest.raises(TypeError, match="message must be a str"):
        log.info(Secret(ACCESS))  # type: ignore[arg-type]
    assert captured.text == ""


# --- log_rpc ---------------------------------------------------------------------------------------


def test_log_rpc_writes_one_debug_line_with_name_duration_and_type() -> None:
    sink = Captured()
    log.configure({"TF_LOG": "DEBUG"}, write=sink)
    try:
        with log.log_rpc("GetProviderSchema"):
            pass
        with log.log_rpc("PlanResourceChange", tf_resource_type="pulumiservice_api_tokens_orgtoken"):
            time.sleep(0.02)
    finally:
        log.reset()
    first, second = sink.records
    assert (first["@level"], first["rpc"]) == ("debug", "GetProviderSchema")
    assert "tf_resource_type" not in first
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert second["rpc"] == "PlanResourceChange"
    assert second["tf_resource_type"] == "pulumiservice_api_tokens_orgtoken"
    assert second["duration_ms"] >= 20


def test_log_rpc_marks_the_start_at_trace(captured: Captured) -> None:
    with log.log_rpc("ReadResource", tf_resource_type="t"):
        log.debug("inside")
    assert [(r["@level"], r["@message"]) for r in captured.records] == [
        ("trace", "rpc started"),
        ("debug", "inside"),
        ("debug", "rpc finished"),
    ]


def test_log_rpc_reports_an_escaping_exception_and_does_not_swallow_it(captured: Captured) -> None:
    with pytest.raises(KeyError), log.log_rpc("ApplyResourceChange"):
        raise KeyError(ACCESS)
    end = captured.records[-1]
    assert (end["@level"], end["rpc"], end["exception"]) == ("error", "ApplyResourceChange", "KeyError")
    assert ACCESS not in captured.text


def test_log_rpc_is_silent_below_debug() -> None:
    sink = Captured()
    log.configure({"TF_LOG": "INFO"}, write=sink)
    try:
        with log.log_rpc("ConfigureProvider"):
            pass
    finally:
        log.reset()
    assert sink.text == ""


def test_log_rpc_needs_a_name() -> None:
    with pytest.raises(TypeError, match="RPC's name"):
        log.log_rpc("")


class _Servicer(pb_grpc.ProviderServicer):
    """A provider servicer with two decorated methods, served by a real in-process gRPC server."""

    @log.logged_rpc
    def GetProviderSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.GetProviderSchema.Response()

    @log.logged_rpc
    def ValidateResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.type_name == "boom":
            raise RuntimeError(ACCESS)
        return pb.ValidateResourceConfig.Response()


def test_logged_rpc_names_the_method_and_the_resource_type_over_real_grpc(captured: Captured) -> None:
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_ProviderServicer_to_server(_Servicer(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.ProviderStub(channel)  # type: ignore[no-untyped-call]
            stub.GetProviderSchema(pb.GetProviderSchema.Request(), timeout=5)
            stub.ValidateResourceConfig(pb.ValidateResourceConfig.Request(type_name="token_type"), timeout=5)
            with pytest.raises(grpc.RpcError):
                stub.ValidateResourceConfig(pb.ValidateResourceConfig.Request(type_name="boom"), timeout=5)
    finally:
        server.stop(None)
    ends = [r for r in captured.records if r["@message"] != "rpc started"]
    assert [(r["@level"], r["rpc"], r.get("tf_resource_type")) for r in ends] == [
        ("debug", "GetProviderSchema", None),
        ("debug", "ValidateResourceConfig", "token_type"),
        ("error", "ValidateResourceConfig", "boom"),
    ]
    assert ends[-1]["exception"] == "RuntimeError" and ACCESS not in captured.text
    assert _Servicer.GetProviderSchema.__name__ == "GetProviderSchema"


def test_log_rpc_costs_microseconds_when_off() -> None:
    log.configure({}, write=Captured())
    try:
        started = time.perf_counter()
        for _ in range(20_000):
            with log.log_rpc("ReadResource", tf_resource_type="t"):
                pass
        per_call = (time.perf_counter() - started) / 20_000
    finally:
        log.reset()
    assert per_call < 50e-6  # measured about 1 µs; generous for slow machines


# --- the Pulumi Cloud client's lines ---------------------------------------------------------------


def token_json(name: str) -> dict[str, Any]:
    return {
        "id": TOKEN_ID,
        "name": name,
        "description": "",
        "created": "2099-01-01T00:00:00Z",
        "lastUsed": 0,
        "expires": 0,
        "admin": False,
        "createdBy": "alice",
        "type": "organization",
    }


def client_with(handler: Any) -> PulumiCloudClient:
    return PulumiCloudClient(
        "https://api.pulumi.com",
        Secret(ACCESS),
        transport=httpx.MockTransport(handler),
        sleep=lambda seconds: None,
    )


def http_lines(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["@level"], r["method"], r["path"], r.get("status"), r["attempt"])
        for r in records
        if r["@message"].startswith("Pulumi Cloud request")
    ]


def test_each_exchange_logs_method_path_status_duration_and_attempt(captured: Captured) -> None:
    answers = iter([429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"id": TOKEN_ID, "tokenValue": VALUE})
        if request.method == "GET":
            status = next(answers)
            if status == 429:
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"code": 429})
            return httpx.Response(200, json={"tokens": [token_json("ci")], "continuationToken": None})
        return httpx.Response(204)

    with client_with(handler) as client:
        created = client.create_token("acme", TokenSpec("ci", "", 0, False), reason=REASON)
        assert created.value.reveal() == VALUE
        client.list_tokens("acme")
        assert client.delete_token("acme", TOKEN_ID)

    records = captured.records
    assert http_lines(records) == [
        ("debug", "POST", "/api/orgs/acme/tokens", 200, 1),
        ("debug", "GET", "/api/orgs/acme/tokens", 429, 1),
        ("debug", "GET", "/api/orgs/acme/tokens", 200, 2),
        ("debug", "DELETE", f"/api/orgs/acme/tokens/{TOKEN_ID}", 204, 1),
    ]
    for record in records:
        if "duration_ms" in record:
            assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    (retry,) = [r for r in records if r["@message"] == "retrying Pulumi Cloud request"]
    assert (retry["@level"], retry["cause"], retry["status"]) == ("warn", "rate_limited", 429)
    assert retry["attempt"] == 1
    # Nothing that could identify or grant access: no credentials, no query string, no bodies.
    text = captured.text
    for forbidden in (ACCESS, VALUE, REASON, "ticket-4711", "reason=", "maxResults", "tokenValue"):
        assert forbidden not in text, forbidden


def test_a_lost_create_answer_logs_the_ambiguity_and_the_orphan(captured: Captured) -> None:
    state = {"created": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            state["created"] = True
            return httpx.Response(502, text="bad gateway")
        if request.method == "GET":
            tokens = [token_json("ci")] if state["created"] else []
            return httpx.Response(200, json={"tokens": tokens, "continuationToken": None})
        return httpx.Response(204)

    with client_with(handler) as client, pytest.raises(LostTokenError):
        client.create_token("acme", TokenSpec("ci", "", 0, False), reason=REASON)

    records = captured.records
    assert [r["@message"] for r in records if r["@level"] == "warn"] == [
        "create got no clear answer; listing tokens to check",
        "token value lost; the token was deleted",
    ]
    lost = records[[r["@message"] for r in records].index("token value lost; the token was deleted")]
    assert (lost["org"], lost["token_name"], lost["token_id"]) == ("acme", "ci", TOKEN_ID)
    assert http_lines(records) == [
        ("debug", "POST", "/api/orgs/acme/tokens", 502, 1),
        ("debug", "GET", "/api/orgs/acme/tokens", 200, 1),
        ("debug", "DELETE", f"/api/orgs/acme/tokens/{TOKEN_ID}", 204, 1),
    ]
    assert ACCESS not in captured.text and REASON not in captured.text


def test_an_orphan_that_cannot_be_deleted_is_an_error_line(captured: Captured) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, content=b"not json")
        if request.method == "GET":
            return httpx.Response(200, json={"tokens": [token_json("ci")], "continuationToken": None})
        return httpx.Response(403, json={"code": 403, "message": "forbidden"})

    with client_with(handler) as client, pytest.raises(LostTokenError):
        client.create_token("acme", TokenSpec("ci", "", 0, False))

    (failure,) = [r for r in captured.records if r["@level"] == "error"]
    assert failure["@message"].startswith("token value lost and the token could not be deleted")
    assert failure["token_id"] == TOKEN_ID and "403" in failure["problem"]
    assert ACCESS not in captured.text


def test_transport_failures_are_logged_without_a_status(captured: Captured) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client_with(handler) as client, pytest.raises(Exception, match="could not connect"):
        client.delete_token("acme", TOKEN_ID)
    failed = [r for r in captured.records if r["@message"] == "Pulumi Cloud request failed"]
    assert [r["attempt"] for r in failed] == list(range(1, len(failed) + 1))
    assert len(failed) > 1 and all(r["error"] == "ConnectError" and "status" not in r for r in failed)
    assert captured.records[-1]["@message"] == "giving up on Pulumi Cloud request"
