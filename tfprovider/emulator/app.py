"""The emulator's HTTP surface: the real Pulumi Cloud paths, translated to ``Store`` calls.

Two layers, on purpose:

* ``EmulatorApp`` maps an ``ApiRequest`` to an ``ApiResponse`` (auth, routing, JSON). It is a plain
  callable with no sockets, and it is the ONE place every request passes through, so the fault
  policy in ``faults`` (latency, 5xx, 429 with Retry-After, dropped connections) wraps it without
  touching any handler. ``EmulatorApp.operation`` names what a request is (create, list, ...) from
  the same route table, so the policy never keeps a second copy of the paths.
* ``EmulatorServer`` is the socket side: a ThreadingHTTPServer speaking HTTP/1.1 with keep-alive,
  reading bodies safely, writing JSON errors even for malformed requests, and logging each request
  (method, path without query, status, time) but never headers or token values. A handler that
  raises ``DropConnection`` gets the connection reset instead of answered.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import json
import re
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from tfprovider.emulator.store import (
    EmulatorError,
    InvalidRequest,
    NotFound,
    Store,
    parse_filter,
    parse_max_results,
    parse_token_request,
)

MAX_BODY_BYTES = 1 << 20


class Unauthorized(EmulatorError):
    status = 401


class Forbidden(EmulatorError):
    status = 403


class MethodNotAllowed(EmulatorError):
    status = 405

    def __init__(self, message: str, allowed: Iterable[str]) -> None:
        super().__init__(message)
        self.allowed = tuple(sorted(allowed))


class PayloadTooLarge(EmulatorError):
    status = 413


class DropConnection(Exception):
    """Raised by a request handler to make the server reset the connection instead of answering.

    The server closes the socket abortively (``SO_LINGER`` 0), so the client sees a connection
    reset rather than a clean end of stream; whatever the handler did before raising stays done.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Operation(enum.StrEnum):
    """What a request asks for, named for counters and for deciding which requests may be faulted."""

    CREATE = "create"
    LIST = "list"
    DELETE = "delete"
    AUDIT_LOG = "audit_log"
    STATS = "stats"
    OTHER = "other"
    """Anything no route serves with that method: unknown paths, wrong methods, non-API paths."""


@dataclass(frozen=True)
class ApiRequest:
    method: str
    target: str
    """The request target as sent: path plus optional query."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case."""
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    log_note: str = ""
    """Appended to the server's request log line (e.g. which fault produced this answer); never sent."""

    @classmethod
    def json(cls, status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()) -> ApiResponse:
        data = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, data, (("Content-Type", "application/json"), *headers))

    @classmethod
    def error(cls, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> ApiResponse:
        return cls.json(status, {"code": status, "message": message}, headers)

    @classmethod
    def no_content(cls) -> ApiResponse:
        return cls(HTTPStatus.NO_CONTENT)


Handler = Callable[[ApiRequest, dict[str, str]], ApiResponse]
RequestHandler = Callable[[ApiRequest], ApiResponse]
"""What the server runs per request: ``EmulatorApp`` itself, or a wrapper around it. It may raise
``DropConnection`` to have the connection reset instead of answered."""
StatsSource = Callable[[], object]
"""Returns the JSON-able payload of ``GET /api/emulator/stats``."""


@dataclass(frozen=True)
class _Endpoint:
    operation: Operation
    handler: Handler


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, _Endpoint]


class EmulatorApp:
    """Auth, routing and JSON for the organization-token endpoints.

    Real paths: ``POST``/``GET /api/orgs/{org}/tokens`` and ``DELETE /api/orgs/{org}/tokens/{id}``.
    Emulator extensions (no such endpoints are documented for the real service), both behind the
    same access token as everything else:

    * ``GET /api/orgs/{org}/auditlogs`` answers ``{"auditLogEvents": [...]}`` with one
      ``token.created`` event per create (carrying its ``reason`` query parameter) and one
      ``token.deleted`` event per delete, so tests and the demo can show what was recorded;
    * ``GET /api/emulator/stats`` answers whatever ``stats`` returns (request and fault counters,
      see ``faults.TrafficStats``); the route exists only when ``stats`` is given.

    Credentials: the emulator's own access token may do everything. Like the real service, the
    value of a live organization token it issued (neither deleted nor expired) is accepted too,
    for its own organization's endpoints only (another organization, or the stats page, answers
    403). Whether the real service lets an organization token create and delete tokens is not
    documented; the emulator lets it, so a configuration can use a token it just minted.
    """

    def __init__(self, store: Store, access_token: str, *, stats: StatsSource | None = None) -> None:
        self._store = store
        self._token_digest = hashlib.sha256(access_token.encode()).digest()
        self._stats = stats
        org = r"/api/orgs/(?P<org>[^/]+)"
        routes = [
            _Route(
                re.compile(org + "/tokens"),
                {
                    "GET": _Endpoint(Operation.LIST, self._list_tokens),
                    "POST": _Endpoint(Operation.CREATE, self._create_token),
                },
            ),
            _Route(
                re.compile(org + "/tokens/(?P<token_id>[^/]+)"),
                {"DELETE": _Endpoint(Operation.DELETE, self._delete_token)},
            ),
            _Route(re.compile(org + "/auditlogs"), {"GET": _Endpoint(Operation.AUDIT_LOG, self._audit_log)}),
        ]
        if stats is not None:
            stats_page = _Endpoint(Operation.STATS, self._stats_page)
            routes.append(_Route(re.compile("/api/emulator/stats"), {"GET": stats_page}))
        self._routes = tuple(routes)

    def operation(self, request: ApiRequest) -> Operation:
        """What ``request`` would do if it were authorized; OTHER when no route serves it."""
        found = self._route(request.path)
        if found is None:
            return Operation.OTHER
        endpoint = found[0].methods.get(request.method)
        return Operation.OTHER if endpoint is None else endpoint.operation

    def __call__(self, request: ApiRequest) -> ApiResponse:
        """The single dispatch point: every request, and every error, goes through here."""
        try:
            path = request.path
            scope = self._authenticate(request) if path.startswith("/api/") else None
            found = self._route(path)
            if found is None:
                raise NotFound(f"Not Found: no endpoint at {path}")
            route, match = found
            endpoint = route.methods.get(request.method)
            if endpoint is None:
                raise MethodNotAllowed(
                    f"Method Not Allowed: {request.method} is not supported on {path}", route.methods
                )
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            if scope is not None and params.get("org") != scope:
                raise Forbidden(
                    f"Forbidden: this organization token belongs to organization '{scope}' and may "
                    "only be used for its endpoints."
                )
            return endpoint.handler(request, params)
        except MethodNotAllowed as error:
            return ApiResponse.error(error.status, error.message, (("Allow", ", ".join(error.allowed)),))
        except EmulatorError as error:
            return ApiResponse.error(error.status, error.message)

    def _route(self, path: str) -> tuple[_Route, re.Match[str]] | None:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is not None:
                return route, match
        return None

    def _authenticate(self, request: ApiRequest) -> str | None:
        """Check the credential: None for the emulator's access token (all access), or the
        organization an organization token is limited to."""
        header = request.headers.get("authorization")
        if header is None:
            raise Unauthorized(
                "Unauthorized: no credentials provided; send 'Authorization: token <access token>'."
            )
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        digest = hashlib.sha256(credential.encode()).digest()
        if scheme.lower() == "token" and hmac.compare_digest(digest, self._token_digest):
            return None
        org = self._store.organization_of_token(credential) if scheme.lower() == "token" else None
        if org is None:
            raise Unauthorized(
                "Unauthorized: the access token is not valid; send 'Authorization: token <access token>' "
                "with the emulator's --access-token, or the value of a live organization token."
            )
        return org

    def _create_token(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        try:
            payload = json.loads(request.body) if request.body.strip() else None
        except (UnicodeDecodeError, ValueError) as error:
            message = f"The request body is not valid JSON ({error}); send a JSON object."
            raise InvalidRequest(message) from None
        token_request = parse_token_request(payload)
        reasons = request.query.get("reason")
        created = self._store.create_token(params["org"], token_request, reasons[0] if reasons else "")
        return ApiResponse.json(HTTPStatus.OK, created.to_json())

    def _list_tokens(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        query = request.query
        page = self._store.list_tokens(
            params["org"],
            token_filter=parse_filter(_first(query, "filter")),
            max_results=parse_max_results(_first(query, "maxResults")),
            continuation_token=_first(query, "continuationToken") or None,
        )
        return ApiResponse.json(HTTPStatus.OK, page.to_json())

    def _delete_token(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        self._store.delete_token(params["org"], params["token_id"])
        return ApiResponse.no_content()

    def _audit_log(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        events = self._store.audit_log(params["org"])
        return ApiResponse.json(HTTPStatus.OK, {"auditLogEvents": [event.to_json() for event in events]})

    def _stats_page(self, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        assert self._stats is not None  # the route is registered only with a stats source
        return ApiResponse.json(HTTPStatus.OK, self._stats())


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


# --- sockets ----------------------------------------------------------------------------------


class EmulatorServer(ThreadingHTTPServer):
    """One thread per connection; request threads are daemons so a shutdown never waits on idle
    keep-alive clients (durability comes from the store committing before a response is sent)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default of 5 makes bursts of clients wait a SYN retry (1 s)

    def __init__(
        self,
        host: str,
        port: int,
        handler: RequestHandler,
        *,
        log: TextIO | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.handler = handler
        self.log = log
        super().__init__((host, port), _HttpHandler)

    @property
    def url(self) -> str:
        raw_host, port = self.server_address[0], self.server_address[1]
        host = raw_host.decode() if isinstance(raw_host, bytes) else raw_host
        shown = f"[{host}]" if self.address_family == socket.AF_INET6 else host
        return f"http://{shown}:{port}"

    def log_line(self, line: str) -> None:
        if self.log is None:
            return
        try:
            self.log.write(line + "\n")
            self.log.flush()
        except (OSError, ValueError):
            pass  # a closed log stream must never fail a request


class _HttpHandler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "pulumi-cloud-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections release their thread eventually
    disable_nagle_algorithm = True  # headers and body leave at once instead of waiting on delayed ACKs

    _METHODS: ClassVar[tuple[str, ...]] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    _aborted = False
    """Set when a handler asked for the connection to be reset; ``finish`` then closes abortively."""

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except EmulatorError as error:
            self.close_connection = True  # the body was not consumed, so the stream is out of sync
            response = ApiResponse.error(error.status, error.message)
        else:
            request = ApiRequest(
                method=self.command,
                target=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            try:
                response = self.server.handler(request)
            except DropConnection as drop:
                self._abort()
                elapsed_ms = (time.perf_counter() - started) * 1000
                path = urlsplit(self.path).path
                self.server.log_line(f"{self.command} {path} reset {elapsed_ms:.1f}ms [{drop.reason}]")
                return
            except Exception:
                traceback.print_exc(file=self.server.log or sys.stderr)
                response = ApiResponse.error(500, "Internal Server Error: the emulator failed; see its log.")
        self._write(response)
        elapsed_ms = (time.perf_counter() - started) * 1000
        path = urlsplit(self.path).path
        note = f" [{response.log_note}]" if response.log_note else ""
        self.server.log_line(f"{self.command} {path} {response.status} {elapsed_ms:.1f}ms{note}")

    def _abort(self) -> None:
        """Arrange for a reset (RST) instead of an orderly close: nothing more is written, and
        ``finish`` closes the socket with a zero linger time before the server's own
        ``shutdown(SHUT_WR)`` could send a FIN that a client would read as a clean end of stream."""
        self.close_connection = True
        self._aborted = True
        with contextlib.suppress(OSError):  # a client already gone leaves nothing to reset
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def finish(self) -> None:
        super().finish()
        if self._aborted:
            # The buffered reader and writer are closed now, so this really closes the descriptor;
            # the server's later shutdown/close of the same socket are then harmless no-ops.
            self.connection.close()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        if not raw_length.strip().isdigit():
            raise InvalidRequest(f"Invalid Content-Length header {raw_length!r}.")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body too large: at most {MAX_BODY_BYTES} bytes are accepted.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise InvalidRequest("Malformed chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers are ignored
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"Request body too large: at most {MAX_BODY_BYTES} bytes are accepted.")
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _write(self, response: ApiResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.status != HTTPStatus.NO_CONTENT:
                self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.status != HTTPStatus.NO_CONTENT:
                self.wfile.write(response.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines/headers and unknown methods get a JSON error like everything else."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # so the answer carries a status line and headers
        text = message or HTTPStatus(code).phrase
        response = ApiResponse.error(code, f"{HTTPStatus(code).phrase}: {text}")
        if not hasattr(self, "command") or self.command is None:
            self.command = ""
        self._write(response)
        self.server.log_line(f"- - {code} (malformed request)")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _serve logs one line per request without the query string

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the base class would log raw request lines, which may carry query text
