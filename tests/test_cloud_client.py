"""PulumiCloudClient: exact requests, paging, error mapping and that no credential ever leaks."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import tfprovider
from tfprovider.cloud import client as client_module
from tfprovider.cloud.client import PulumiCloudClient, build_user_agent
from tfprovider.cloud.errors import ApiError, CloudError, ResponseFormatError, TransportError
from tfprovider.cloud.models import CreatedToken, OrgToken, TokenSpec
from tfprovider.secret import Secret

ACCESS = "pul-" + "a1" * 20
VALUE = "pul-" + "b2" * 20
TOKEN_ID = "6f1c4d0e-2a4b-4c7e-9d1f-0a1b2c3d4e5f"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that records requests and answers with a handler."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
        return self._handler(request)


def make_client(
    handler: Handler, base_url: str = "https://api.pulumi.com"
) -> tuple[PulumiCloudClient, Recorder]:
    """A client with the default retry policy whose backoff waits take no time."""
    recorder = Recorder(handler)
    client = PulumiCloudClient(
        base_url, Secret(ACCESS), transport=recorder.transport, timeout=5.0, sleep=lambda seconds: None
    )
    return client, recorder


def api_token(i: int, **overrides: Any) -> dict[str, Any]:
    token: dict[str, Any] = {
        "id": f"id-{i}",
        "name": f"token-{i}",
        "description": f"description {i}",
        "created": "2024-05-01T10:00:00Z",
        "lastUsed": 0,
        "expires": 0,
        "admin": False,
        "createdBy": "alice",
        "type": "organization",
    }
    token.update(overrides)
    return token


def created_answer(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": TOKEN_ID, "tokenValue": VALUE})


def assert_no_credentials(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, CloudError):
            texts += [obj.summary, obj.detail]
            if isinstance(obj, ApiError):
                texts.append(obj.service_message)
        for text in texts:
            assert ACCESS not in text
            assert VALUE not in text


# -- request shape ---------------------------------------------------------------------------------


def test_create_sends_exact_request_and_returns_the_value() -> None:
    client, rec = make_client(created_answer)
    spec = TokenSpec(name="ci", description="for CI", expires=1_900_000_000, admin=True, role_id="role-1")
    with client:
        created = client.create_token("acme", spec, reason="rotation for Q3")

    assert created == CreatedToken(id=TOKEN_ID, value=Secret(VALUE))
    assert created.value.reveal() == VALUE
    (req,) = rec.requests
    assert req.method == "POST"
    assert req.url.scheme == "https" and req.url.host == "api.pulumi.com"
    assert req.url.path == "/api/orgs/acme/tokens"
    assert dict(req.url.params) == {"reason": "rotation for Q3"}
    assert json.loads(req.content) == {
        "name": "ci",
        "description": "for CI",
        "expires": 1_900_000_000,
        "admin": True,
        "roleID": "role-1",
    }
    assert req.headers["Authorization"] == f"token {ACCESS}"
    assert req.headers["Accept"] == "application/vnd.pulumi+8"
    assert req.headers["Content-Type"] == "application/json"
    user_agent = req.headers["User-Agent"]
    assert user_agent.startswith(f"terraform-provider-pulumiservice/{tfprovider.__version__} ")
    assert "httpx" in user_agent


@pytest.mark.parametrize("reason", [None, ""])
def test_create_sends_no_reason_when_there_is_none(reason: str | None) -> None:
    client, rec = make_client(created_answer)
    client.create_token("acme", TokenSpec("ci", "", 0, False), reason=reason)
    (req,) = rec.requests
    assert req.url.query == b""
    assert "reason" not in json.loads(req.content)


def test_create_leaves_role_id_out_when_none() -> None:
    client, rec = make_client(created_answer)
    client.create_token("acme", TokenSpec("ci", "d", 0, False, role_id=None), reason=None)
    body = json.loads(rec.requests[0].content)
    assert body == {"name": "ci", "description": "d", "expires": 0, "admin": False}
    assert "roleID" not in body and "role_id" not in body


def test_custom_user_agent_and_terraform_version() -> None:
    assert build_user_agent("1.9.0").endswith(" Terraform/1.9.0")
    assert f"/{tfprovider.__version__} " in build_user_agent()
    rec = Recorder(lambda r: httpx.Response(200, json={"tokens": []}))
    agent = build_user_agent("1.0.3")
    client = PulumiCloudClient("https://x.test", Secret(ACCESS), user_agent=agent, transport=rec.transport)
    client.list_tokens("acme")
    assert rec.requests[0].headers["User-Agent"] == build_user_agent("1.0.3")


@pytest.mark.parametrize(
    ("base_url", "expected_path"),
    [
        ("https://api.pulumi.com", "/api/orgs/acme/tokens"),
        ("https://api.pulumi.com/", "/api/orgs/acme/tokens"),
        ("http://127.0.0.1:8080//", "/api/orgs/acme/tokens"),
        ("https://pulumi.example.com/service", "/service/api/orgs/acme/tokens"),
        ("https://pulumi.example.com/service/", "/service/api/orgs/acme/tokens"),
    ],
)
def test_base_url_with_or_without_trailing_slash(base_url: str, expected_path: str) -> None:
    client, rec = make_client(lambda r: httpx.Response(200, json={"tokens": []}), base_url=base_url)
    client.list_tokens("acme")
    assert rec.requests[0].url.path == expected_path
    assert rec.requests[0].url.host == httpx.URL(base_url).host


@pytest.mark.parametrize("base_url", ["api.pulumi.com", "ftp://h", "https://u:p@h", "https://h/?x=1", "", "https://"])
def test_bad_base_url_is_a_cloud_error(base_url: str) -> None:
    with pytest.raises(CloudError) as info:
        PulumiCloudClient(base_url, Secret(ACCESS))
    assert "https://api.pulumi.com" in info.value.detail


def test_org_and_token_id_are_path_escaped() -> None:
    client, rec = make_client(lambda r: httpx.Response(204))
    assert client.delete_token("a/b c?", "x/y#z") is True
    assert client.delete_token("..", ".") is True
    assert rec.requests[0].url.raw_path == b"/api/orgs/a%2Fb%20c%3F/tokens/x%2Fy%23z"
    assert rec.requests[1].url.raw_path == b"/api/orgs/%2E%2E/tokens/%2E"


def test_delete_sends_no_body_and_maps_statuses() -> None:
    statuses = iter([204, 200, 404])
    client, rec = make_client(lambda r: httpx.Response(next(statuses)))
    assert client.delete_token("acme", TOKEN_ID) is True
    assert client.delete_token("acme", TOKEN_ID) is True
    assert client.delete_token("acme", TOKEN_ID) is False  # already gone
    for req in rec.requests:
        assert req.method == "DELETE"
        assert req.url.path == f"/api/orgs/acme/tokens/{TOKEN_ID}"
        assert req.content == b""
        assert "Content-Type" not in req.headers
        assert req.headers["Authorization"] == f"token {ACCESS}"
        assert req.headers["Accept"] == "application/vnd.pulumi+8"


def test_empty_org_or_token_id_is_refused_before_sending() -> None:
    client, rec = make_client(lambda r: httpx.Response(204))
    with pytest.raises(ValueError, match="org"):
        client.list_tokens("")
    with pytest.raises(ValueError, match="token_id"):
        client.delete_token("acme", "")
    assert rec.requests == []


# -- listing ---------------------------------------------------------------------------------------


def test_list_follows_three_pages() -> None:
    pages = {
        None: {"tokens": [api_token(1), api_token(2)], "continuationToken": "page-2"},
        "page-2": {"tokens": [api_token(3)], "continuationToken": "page-3"},
        "page-3": {"tokens": [api_token(4, role={"id": "r1", "name": "R", "defaultIdentifier": "member"})],
                   "continuationToken": None},
    }
    client, rec = make_client(
        lambda r: httpx.Response(200, json=pages[r.url.params.get("continuationToken")])
    )
    tokens = client.list_tokens("acme")

    assert [t.id for t in tokens] == ["id-1", "id-2", "id-3", "id-4"]
    assert tokens[3].role_id == "r1"
    assert tokens[0] == OrgToken(
        id="id-1", name="token-1", description="description 1", created="2024-05-01T10:00:00Z",
        last_used=0, expires=0, admin=False, created_by="alice", role_id=None, type="organization",
    )
    assert [r.url.params.get("continuationToken") for r in rec.requests] == [None, "page-2", "page-3"]
    for req in rec.requests:
        assert req.method == "GET"
        assert req.url.path == "/api/orgs/acme/tokens"
        assert req.url.params["filter"] == "all"
        assert req.url.params["maxResults"] == "1000"
        assert req.content == b""
        assert "Content-Type" not in req.headers


@pytest.mark.parametrize("last", [{"continuationToken": None}, {"continuationToken": ""}, {}])
def test_list_stops_on_null_empty_or_absent_continuation(last: dict[str, Any]) -> None:
    client, rec = make_client(lambda r: httpx.Response(200, json={"tokens": [api_token(1)], **last}))
    assert len(client.list_tokens("acme", filter="active")) == 1
    assert len(rec.requests) == 1
    assert rec.requests[0].url.params["filter"] == "active"


def test_list_accepts_null_token_array() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json={"tokens": None, "continuationToken": None}))
    assert client.list_tokens("acme") == []


def test_list_rejects_unknown_filter() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json={"tokens": []}))
    with pytest.raises(ValueError, match="filter"):
        client.list_tokens("acme", filter="deleted")  # type: ignore[arg-type]


def test_looping_continuation_token_is_stopped() -> None:
    answers = iter(["a", "b", "a"])
    client, rec = make_client(
        lambda r: httpx.Response(200, json={"tokens": [], "continuationToken": next(answers)})
    )
    with pytest.raises(ResponseFormatError) as info:
        client.list_tokens("acme")
    assert "same continuationToken" in str(info.value)
    assert "list the tokens of organization 'acme'" in info.value.summary
    assert len(rec.requests) == 3


def test_endless_distinct_continuation_tokens_are_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_PAGES", 5)
    counter = iter(range(100))
    client, rec = make_client(
        lambda r: httpx.Response(200, json={"tokens": [], "continuationToken": f"t{next(counter)}"})
    )
    with pytest.raises(ResponseFormatError, match="5 pages"):
        client.list_tokens("acme")
    assert len(rec.requests) == 5


# -- error mapping ---------------------------------------------------------------------------------

ERROR_CASES = [
    (400, "Bad Request: name too long", ["Correct the setting", "`name`", "name too long"]),
    (401, "Unauthorized: No credentials provided", ["`access_token`", "PULUMI_ACCESS_TOKEN"]),
    (403, "Forbidden", ["organization admin", "plan"]),
    (404, "Not Found: Organization 'acme' not found", ["`org_name`", "'acme'"]),
    (409, "Conflict: token name already exists", ["never reusable", "even after", "a new `name`", "'ci'"]),
    (429, "Too Many Requests", ["busy", "try again"]),
    (500, "Internal Server Error", ["unavailable", "Try again"]),
    (503, "Service Unavailable", ["unavailable", "Try again"]),
    (418, "I'm a teapot", ["refused", "teapot"]),
]


@pytest.mark.parametrize(("status", "message", "phrases"), ERROR_CASES)
def test_error_statuses_map_to_actionable_api_errors(status: int, message: str, phrases: list[str]) -> None:
    client, _ = make_client(lambda r: httpx.Response(status, json={"code": status, "message": message}))
    with pytest.raises(ApiError) as info:
        client.create_token("acme", TokenSpec("ci", "", 0, False), reason="why")
    err = info.value
    assert err.status == status
    assert err.code == status
    assert err.service_message == message
    assert "create token 'ci' in organization 'acme'" in err.summary
    assert str(status) in err.summary
    for phrase in phrases:
        assert phrase in err.detail
    assert err.is_transient == (status == 429 or status >= 500)
    assert_no_credentials(err)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 502])
def test_list_errors_are_api_errors_too(status: int) -> None:
    client, _ = make_client(lambda r: httpx.Response(status, json={"code": status, "message": "nope"}))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.status == status
    assert "list the tokens of organization 'acme'" in info.value.summary


@pytest.mark.parametrize("status", [401, 403, 409, 500])
def test_delete_errors_other_than_404_are_raised(status: int) -> None:
    client, _ = make_client(lambda r: httpx.Response(status, json={"code": status, "message": "nope"}))
    with pytest.raises(ApiError) as info:
        client.delete_token("acme", TOKEN_ID)
    assert info.value.status == status
    assert TOKEN_ID in info.value.summary


def test_retry_after_is_read_in_seconds_and_as_a_date() -> None:
    client, _ = make_client(lambda r: httpx.Response(429, headers={"Retry-After": "12"}, text="slow down"))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.retry_after == 12.0
    assert "Wait 12 seconds" in info.value.detail

    client, _ = make_client(
        lambda r: httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.retry_after == 0.0  # a date in the past means "now"


def test_plain_text_and_html_proxy_bodies() -> None:
    client, _ = make_client(lambda r: httpx.Response(502, text="upstream connect error\n  or disconnect"))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.service_message == "upstream connect error or disconnect"
    assert info.value.code is None
    assert "upstream connect error" in info.value.detail

    html = "<html><head><title>504</title></head><body><h1>504 Gateway Time-out</h1></body></html>"
    client, _ = make_client(lambda r: httpx.Response(504, text=html, headers={"Content-Type": "text/html"}))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.service_message == "504 504 Gateway Time-out"
    assert "<" not in info.value.detail


def test_long_error_bodies_are_truncated_and_empty_ones_handled() -> None:
    client, _ = make_client(lambda r: httpx.Response(500, text="x" * 5000))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert len(info.value.service_message) <= 300
    assert len(str(info.value)) < 1000

    client, _ = make_client(lambda r: httpx.Response(400))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert info.value.service_message == ""
    assert "gave no reason" in info.value.detail


def test_redirect_is_not_followed_and_points_at_the_url() -> None:
    client, rec = make_client(lambda r: httpx.Response(301, headers={"Location": "https://app.pulumi.com/"}))
    with pytest.raises(ApiError) as info:
        client.list_tokens("acme")
    assert len(rec.requests) == 1
    assert "`api_url` (or PULUMI_BACKEND_URL)" in info.value.detail


# -- malformed answers -----------------------------------------------------------------------------

def listing(*tokens: dict[str, Any]) -> bytes:
    return json.dumps({"tokens": list(tokens), "continuationToken": None}).encode()


MALFORMED_LISTS = [
    (b"<html>console</html>", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[]", "should be a JSON object, got an array"),
    (b'{"tokens": {}}', "tokens should be an array, got an object"),
    (b'{"tokens": [1]}', "tokens[0] should be a JSON object, got a number"),
    (listing(api_token(1, expires="soon")), "tokens[0].expires should be an integer"),
    (listing(api_token(1, admin=1)), "tokens[0].admin should be a boolean"),
    (listing(api_token(1, lastUsed=True)), "tokens[0].lastUsed should be an integer"),
    (listing(api_token(1), {"name": "n"}), "tokens[1].id is missing"),
    (listing(api_token(1, role="admin")), "tokens[0].role should be a JSON object"),
    (listing(api_token(1, role={"name": "r"})), "tokens[0].role.id is missing"),
    (listing(api_token(1, description=None)), "tokens[0].description is missing"),
    (json.dumps({"tokens": [], "continuationToken": 5}).encode(), "continuationToken should be a string"),
]


@pytest.mark.parametrize(("body", "problem"), MALFORMED_LISTS)
def test_malformed_list_answers_name_the_problem(body: bytes, problem: str) -> None:
    client, _ = make_client(lambda r: httpx.Response(200, content=body))
    with pytest.raises(ResponseFormatError) as info:
        client.list_tokens("acme")
    assert problem in info.value.detail
    assert "list the tokens of organization 'acme'" in info.value.summary
    assert "PULUMI_BACKEND_URL" in info.value.detail


def test_informational_fields_default_when_absent() -> None:
    minimal = {"id": "i", "name": "n", "description": "", "expires": 1.7e9, "admin": True}
    token = OrgToken.from_api(minimal)
    informational = (token.created, token.last_used, token.created_by, token.role_id, token.type)
    assert informational == ("", 0, "", None, None)
    assert token.expires == 1_700_000_000 and isinstance(token.expires, int)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"tokenValue": VALUE}, "id is missing"),
        ({"id": TOKEN_ID}, "tokenValue is missing"),
        ({"id": TOKEN_ID, "tokenValue": ""}, "tokenValue is empty"),
        ({"id": 7, "tokenValue": VALUE}, "id should be a string, got a number"),
        ([VALUE], "should be a JSON object, got an array"),
    ],
)
def test_malformed_create_answer_never_quotes_the_value(body: object, problem: str) -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(ResponseFormatError) as info:
        client.create_token("acme", TokenSpec("ci", "", 0, False))
    assert problem in info.value.detail
    assert "may have been created" in info.value.detail
    assert_no_credentials(info.value)


def test_create_answer_that_is_not_json_never_quotes_the_body() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, text=f"id={TOKEN_ID} value={VALUE}"))
    with pytest.raises(ResponseFormatError) as info:
        client.create_token("acme", TokenSpec("ci", "", 0, False))
    assert "not valid JSON" in info.value.detail
    assert_no_credentials(info.value)


# -- transport failures ----------------------------------------------------------------------------


def failing(exc_type: type[httpx.TransportError], message: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


def test_connection_failure_is_a_transport_error_naming_the_host() -> None:
    client, _ = make_client(failing(httpx.ConnectError, "[Errno 111] Connection refused"), "https://pulumi.corp:8443")
    with pytest.raises(TransportError) as info:
        client.list_tokens("acme")
    err = info.value
    assert err.host == "pulumi.corp"
    assert "could not connect to pulumi.corp" in err.summary
    assert "Connection refused" in err.detail
    assert err.may_have_reached_service is False
    assert err.__cause__ is None and err.__suppress_context__


def test_timeout_on_create_warns_that_the_token_may_exist() -> None:
    client, _ = make_client(failing(httpx.ReadTimeout, "timed out"))
    with pytest.raises(TransportError) as info:
        client.create_token("acme", TokenSpec("ci", "", 0, False))
    assert info.value.may_have_reached_service is True
    assert "within 5 seconds" in info.value.summary
    assert "may exist already" in info.value.detail


@pytest.mark.parametrize(
    "exc_type", [httpx.ConnectTimeout, httpx.PoolTimeout, httpx.RemoteProtocolError, httpx.ReadError]
)
def test_every_transport_exception_is_mapped(exc_type: type[httpx.TransportError]) -> None:
    client, _ = make_client(failing(exc_type, "boom"))
    with pytest.raises(TransportError):
        client.delete_token("acme", TOKEN_ID)


# -- credentials never leak ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429, 500, 502])
def test_service_echoing_credentials_is_redacted(status: int) -> None:
    """After a create, a service message quoting the access token or the new value is scrubbed."""
    echo = f"bad header 'token {ACCESS}' (also {VALUE})"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return created_answer(request)
        return httpx.Response(status, json={"code": status, "message": echo})

    client, _ = make_client(handler)
    created = client.create_token("acme", TokenSpec("ci", "", 0, False))
    with pytest.raises(ApiError) as info:
        client.list_tokens(f"org-{ACCESS}")  # even an org name that contains the token
    assert_no_credentials(info.value, client, created)
    assert "bad header" in info.value.service_message


def test_plain_text_echo_of_the_access_token_is_redacted() -> None:
    client, _ = make_client(lambda r: httpx.Response(401, text=f"invalid token {ACCESS}"))
    with pytest.raises(ApiError) as info:
        client.delete_token("acme", TOKEN_ID)
    assert_no_credentials(info.value)
    assert "invalid token ********" in info.value.service_message


def test_transport_exception_quoting_credentials_is_redacted() -> None:
    quoting = failing(httpx.RemoteProtocolError, f"Illegal header value b'token {ACCESS}' near {VALUE}")

    def handler(request: httpx.Request) -> httpx.Response:
        return created_answer(request) if request.method == "POST" else quoting(request)

    client, _ = make_client(handler)
    client.create_token("acme", TokenSpec("ci", "", 0, False))
    with pytest.raises(TransportError) as info:
        client.list_tokens("acme")
    assert_no_credentials(info.value)
    assert "Illegal header value" in info.value.detail


def test_created_token_client_and_headers_reprs_hide_credentials() -> None:
    client, rec = make_client(created_answer)
    created = client.create_token("acme", TokenSpec("ci", "", 0, False))
    assert_no_credentials(created, client, rec.requests[0].headers, client._http.headers)
    assert "Authorization" not in client._http.headers  # added per request, not stored as a default


@pytest.mark.parametrize("bad", ["", f"{ACCESS}\n", f" {ACCESS}", "pul-é"])
def test_unusable_access_token_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(CloudError) as info:
        PulumiCloudClient("https://api.pulumi.com", Secret(bad))
    assert "`access_token`" in info.value.detail and "PULUMI_ACCESS_TOKEN" in info.value.detail
    if bad:
        assert bad.strip() not in str(info.value)


def test_access_token_must_be_a_secret() -> None:
    with pytest.raises(TypeError):
        PulumiCloudClient("https://api.pulumi.com", ACCESS)  # type: ignore[arg-type]


class _FakeCloud(BaseHTTPRequestHandler):
    """Just enough of the API for one create, one list and one delete over a real socket."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: object | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(200, {"id": TOKEN_ID, "tokenValue": VALUE})

    def do_GET(self) -> None:
        self._answer(200, {"tokens": [api_token(1)], "continuationToken": None})

    def do_DELETE(self) -> None:
        self._answer(401, {"code": 401, "message": f"bad token {ACCESS}"})


@pytest.fixture
def fake_cloud() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeCloud)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_debug_logs_of_the_http_stack_hold_no_credentials(
    fake_cloud: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with PulumiCloudClient(fake_cloud, Secret(ACCESS), transport=httpx.HTTPTransport()) as client:
        created = client.create_token("acme", TokenSpec("ci", "", 0, False), reason="r")
        assert created.value.reveal() == VALUE
        assert len(client.list_tokens("acme")) == 1
        with pytest.raises(ApiError):
            client.delete_token("acme", TOKEN_ID)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "httpcore" in {r.name.split(".")[0] for r in caplog.records}  # the stack did log at DEBUG
    assert ACCESS not in logged
    assert VALUE not in logged


# -- lifecycle, threads and import cost ------------------------------------------------------------


def test_close_is_idempotent_and_stops_further_calls() -> None:
    client, _ = make_client(lambda r: httpx.Response(200, json={"tokens": []}))
    with client as same:
        assert same is client
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.list_tokens("acme")


def test_fifty_threads_share_one_client() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        org = request.url.path.split("/")[3]
        return httpx.Response(200, json={"tokens": [api_token(1, name=org)]})

    client, rec = make_client(handler)
    with ThreadPoolExecutor(max_workers=50) as pool:
        names = list(pool.map(lambda i: client.list_tokens(f"org{i}")[0].name, range(200)))
    assert names == [f"org{i}" for i in range(200)]
    assert len(rec.requests) == 200


def test_importing_errors_and_models_does_not_import_httpx() -> None:
    code = (
        "import sys, tfprovider.cloud, tfprovider.cloud.errors, tfprovider.cloud.models, tfprovider.secret;"
        "assert 'httpx' not in sys.modules, 'httpx imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
