"""Organization tokens as the real Pulumi Cloud keeps them: SQLite persistence plus the service's rules.

Everything a client can get wrong is decided here, not in the HTTP layer, so the rules can be unit
tested without a server and the HTTP layer stays a thin translation. Rules mirrored from the real
service:

* a token name is at most 40 characters and can never be reused in its organization, not even
  after the token was deleted (deletion is soft);
* ``expires`` is 0 (never) or a unix time in the future at most 730 days ahead;
* the token value is returned once by create and never stored: only its SHA-256 is kept;
* listing pages in creation order with opaque, signed continuation tokens, so a forged or garbled
  one is refused and paging never skips or repeats a token even while others are created/deleted.

Durability: every write runs in its own ``BEGIN IMMEDIATE`` transaction and is committed (with
``synchronous=FULL`` on a file database) before the method returns, so a write the HTTP layer
acknowledges is on disk. One connection is shared by all request threads behind a lock; SQLite
itself is fast enough that the lock is never the bottleneck of a local emulator.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from tfprovider.emulator import DEFAULT_USER

Clock = Callable[[], float]
"""Returns the current unix time in seconds; injectable so tests can make tokens expire."""

MAX_NAME_LENGTH = 40
MAX_EXPIRY_SECONDS = 730 * 24 * 60 * 60
DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 1000
PAGING_ERROR = "Invalid continuationToken or maxResults value."
SCHEMA_VERSION = "1"

_MAC_BYTES = 16
_POSITION = struct.Struct(">Q")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS = re.compile(r"[0-9]{1,7}")


# --- errors -----------------------------------------------------------------------------------


class EmulatorError(Exception):
    """A request the service refuses; ``status`` is the HTTP status the real service answers with."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(EmulatorError):
    status = 400


class NotFound(EmulatorError):
    status = 404


class Conflict(EmulatorError):
    status = 409


class Unavailable(EmulatorError):
    status = 503


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """An organization role a token can be scoped to (``roleID`` on create)."""

    id: str
    name: str
    default_identifier: str

    @classmethod
    def from_id(cls, role_id: str) -> Role:
        """Derive a display name and identifier from the ID alone, so ``--role`` takes one word.

        ``stack-admin`` becomes name ``Stack Admin`` and identifier ``stack-admin``.
        """
        words = [word for word in re.split(r"[-_\s]+", role_id) if word]
        name = " ".join(word.capitalize() for word in words) or role_id
        identifier = "-".join(word.lower() for word in words) or role_id
        return cls(id=role_id, name=name, default_identifier=identifier)

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "defaultIdentifier": self.default_identifier}


class TokenFilter(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    ALL = "all"


@dataclass(frozen=True)
class TokenRequest:
    """A create body that passed the type checks; time and role rules are checked at create time."""

    name: str
    description: str = ""
    expires: int = 0
    admin: bool = False
    role_id: str | None = None


@dataclass(frozen=True)
class CreatedToken:
    id: str
    token_value: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "tokenValue": self.token_value}


@dataclass(frozen=True)
class AccessToken:
    """A token as the list endpoint shows it: everything except the value."""

    id: str
    name: str
    description: str
    created: str
    last_used: int
    expires: int
    admin: bool
    created_by: str
    role: Role | None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "lastUsed": self.last_used,
            "expires": self.expires,
            "admin": self.admin,
            "createdBy": self.created_by,
            "type": "organization",
        }
        if self.role is not None:
            body["role"] = self.role.to_json()
        return body


@dataclass(frozen=True)
class TokenPage:
    tokens: list[AccessToken]
    continuation_token: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": [token.to_json() for token in self.tokens],
            "continuationToken": self.continuation_token,
        }


@dataclass(frozen=True)
class AuditEvent:
    """An emulator extension: what the real service would show in its audit log for a token."""

    timestamp: int
    event: str
    description: str
    token_id: str
    token_name: str
    reason: str | None
    user: str

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "event": self.event,
            "description": self.description,
            "tokenId": self.token_id,
            "tokenName": self.token_name,
            "reason": self.reason,
            "user": self.user,
        }


# --- request parsing (types only; no clock, no database) --------------------------------------


def parse_token_request(payload: object) -> TokenRequest:
    """Check a decoded create body the way the service's typed decoder does.

    Absent and ``null`` fields take their zero value, unknown fields are ignored, and a field of the
    wrong JSON type is refused with a message naming the field and the expected type.
    """
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object such as {\"name\": \"ci\"}.")
    name = payload.get("name")
    if name is None:
        raise InvalidRequest("Missing required field 'name': give the token a non-empty name.")
    if not isinstance(name, str):
        raise InvalidRequest(f"Field 'name' must be a string, got {_json_type(name)}.")
    if not name.strip():
        raise InvalidRequest("Field 'name' must not be empty: give the token a non-empty name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"Field 'name' is {len(name)} characters long; use at most {MAX_NAME_LENGTH} characters."
        )
    description = payload.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        raise InvalidRequest(f"Field 'description' must be a string, got {_json_type(description)}.")
    expires = payload.get("expires")
    if expires is None:
        expires = 0
    elif isinstance(expires, bool) or not isinstance(expires, int):
        raise InvalidRequest(
            f"Field 'expires' must be an integer number of unix seconds (0 = never), "
            f"got {_json_type(expires)} {expires!r}."
        )
    admin = payload.get("admin")
    if admin is None:
        admin = False
    elif not isinstance(admin, bool):
        raise InvalidRequest(f"Field 'admin' must be true or false, got {_json_type(admin)}.")
    role_id = payload.get("roleID")
    if role_id is not None and not isinstance(role_id, str):
        raise InvalidRequest(f"Field 'roleID' must be a string, got {_json_type(role_id)}.")
    return TokenRequest(
        name=name, description=description, expires=expires, admin=admin, role_id=role_id or None
    )


def parse_filter(raw: str | None) -> TokenFilter:
    if raw is None or raw == "":
        return TokenFilter.ACTIVE
    try:
        return TokenFilter(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid filter {raw!r}: use active, expired or all.") from None


def parse_max_results(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_MAX_RESULTS
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_MAX_RESULTS:
        raise InvalidRequest(PAGING_ERROR)
    return int(raw)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction" if not value.is_integer() else "a floating-point number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --- continuation tokens ----------------------------------------------------------------------


class ContinuationCodec:
    """Opaque paging cursors: the last position served, bound to org and filter, HMAC-signed.

    Keyset paging on the creation sequence (rather than an offset) is what keeps pages free of
    gaps and repeats while tokens are created or deleted between requests.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, org: str, token_filter: TokenFilter, after: int) -> str:
        position = _POSITION.pack(after)
        raw = position + self._mac(org, token_filter, position)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, org: str, token_filter: TokenFilter, token: str) -> int:
        if not _BASE64URL.fullmatch(token):
            raise InvalidRequest(PAGING_ERROR)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidRequest(PAGING_ERROR) from None
        if len(raw) != _POSITION.size + _MAC_BYTES:
            raise InvalidRequest(PAGING_ERROR)
        position, mac = raw[: _POSITION.size], raw[_POSITION.size :]
        if not hmac.compare_digest(mac, self._mac(org, token_filter, position)):
            raise InvalidRequest(PAGING_ERROR)
        after: int = _POSITION.unpack(position)[0]
        return after

    def _mac(self, org: str, token_filter: TokenFilter, position: bytes) -> bytes:
        message = b"\0".join((b"tokens-v1", org.encode(), token_filter.value.encode(), position))
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


# --- the store --------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created TEXT NOT NULL,
    expires INTEGER NOT NULL,
    admin INTEGER NOT NULL,
    role_id TEXT,
    role_name TEXT,
    role_identifier TEXT,
    created_by TEXT NOT NULL,
    value_sha256 TEXT NOT NULL,
    deleted_at INTEGER,
    UNIQUE (org, name)
);
CREATE INDEX IF NOT EXISTS tokens_by_org ON tokens (org, seq);
CREATE INDEX IF NOT EXISTS tokens_by_value ON tokens (value_sha256);
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    event TEXT NOT NULL,
    description TEXT NOT NULL,
    token_id TEXT NOT NULL,
    token_name TEXT NOT NULL,
    reason TEXT,
    user TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_org ON audit_events (org, seq);
"""

_TOKEN_COLUMNS = (
    "seq, id, name, description, created, expires, admin, role_id, role_name, role_identifier, created_by"
)


class Store:
    """Tokens of the configured organizations, persisted in SQLite (in memory when ``path`` is None).

    Organizations and roles are configuration, not data: a token kept in the database for an
    organization that is not configured now is simply not reachable.
    """

    def __init__(
        self,
        path: str | None,
        *,
        orgs: Iterable[str],
        roles: Iterable[Role] = (),
        user: str = DEFAULT_USER,
        clock: Clock = time.time,
        issued_values_path: str | None = None,
    ) -> None:
        """``issued_values_path`` is a test aid: every token value created is appended to that file,
        one per line, so a test can prove a value never reached a place it must not (a Terraform
        state or plan file). Never set it for anything but a throwaway test emulator."""
        self._issued_values_path = issued_values_path
        self._orgs = frozenset(orgs)
        if not self._orgs:
            raise ValueError("at least one organization must be configured")
        self._roles = {role.id: role for role in roles}
        self._user = user
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = _connect(path)
        self._codec = ContinuationCodec(self._paging_secret())

    # Public operations, one per API call.

    def create_token(self, org: str, request: TokenRequest, reason: str = "") -> CreatedToken:
        """Create a token; the value is returned here once and only its hash is kept."""
        self._require_org(org)
        now = self._clock()
        self._check_expiry(request.expires, now)
        role = self._role(org, request.role_id)
        token_id = str(uuid.uuid4())
        value = "pul-" + secrets.token_hex(20)
        with self._lock:
            conn = self._open()
            now = self._clock()  # read under the lock so creation times follow creation order
            conn.execute("BEGIN IMMEDIATE")
            try:
                taken = conn.execute(
                    "SELECT 1 FROM tokens WHERE org = ? AND name = ?", (org, request.name)
                ).fetchone()
                if taken is not None:
                    raise Conflict("Conflict: token name already exists")
                conn.execute(
                    f"INSERT INTO tokens ({_TOKEN_COLUMNS.removeprefix('seq, ')}, org, value_sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        token_id,
                        request.name,
                        request.description,
                        _iso8601(now),
                        request.expires,
                        int(request.admin),
                        role.id if role else None,
                        role.name if role else None,
                        role.default_identifier if role else None,
                        self._user,
                        org,
                        hashlib.sha256(value.encode()).hexdigest(),
                    ),
                )
                self._audit(
                    conn, org, now, "token.created",
                    f"Created organization token '{request.name}'", token_id, request.name, reason,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if self._issued_values_path is not None:
                with open(self._issued_values_path, "a", encoding="utf-8") as issued:
                    issued.write(value + "\n")
        return CreatedToken(id=token_id, token_value=value)

    def list_tokens(
        self,
        org: str,
        *,
        token_filter: TokenFilter = TokenFilter.ACTIVE,
        max_results: int = DEFAULT_MAX_RESULTS,
        continuation_token: str | None = None,
    ) -> TokenPage:
        """One page of live tokens in creation order; deleted tokens never appear."""
        self._require_org(org)
        if not 1 <= max_results <= MAX_MAX_RESULTS:
            raise InvalidRequest(PAGING_ERROR)
        after = self._codec.decode(org, token_filter, continuation_token) if continuation_token else 0
        now = int(self._clock())
        condition, params = {
            TokenFilter.ACTIVE: ("AND (expires = 0 OR expires > ?)", (now,)),
            TokenFilter.EXPIRED: ("AND expires != 0 AND expires <= ?", (now,)),
            TokenFilter.ALL: ("", ()),
        }[token_filter]
        with self._lock:
            rows = self._open().execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens"
                f" WHERE org = ? AND deleted_at IS NULL AND seq > ? {condition}"
                " ORDER BY seq LIMIT ?",
                (org, after, *params, max_results + 1),
            ).fetchall()
        page, more = rows[:max_results], len(rows) > max_results
        next_token = self._codec.encode(org, token_filter, page[-1][0]) if more else None
        return TokenPage(tokens=[_access_token(row) for row in page], continuation_token=next_token)

    def delete_token(self, org: str, token_id: str) -> None:
        """Soft-delete: the name stays taken forever, as on the real service."""
        self._require_org(org)
        now = self._clock()
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT name FROM tokens WHERE org = ? AND id = ? AND deleted_at IS NULL",
                    (org, token_id),
                ).fetchone()
                if row is None:
                    raise NotFound(f"Not Found: token '{token_id}' not found in organization '{org}'")
                conn.execute("UPDATE tokens SET deleted_at = ? WHERE id = ?", (int(now), token_id))
                self._audit(
                    conn, org, now, "token.deleted",
                    f"Deleted organization token '{row[0]}'", token_id, row[0], None,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def organization_of_token(self, credential: str) -> str | None:
        """The organization of the live token whose value is ``credential``, else None.

        Pulumi Cloud accepts an organization token as a credential for its organization while it
        is neither deleted nor expired. Only the value's SHA-256 is stored: the row is found by
        that digest (the index sees only a hash, which says nothing about the value), and the
        match is confirmed with a constant-time comparison.
        """
        digest = hashlib.sha256(credential.encode()).hexdigest()
        now = int(self._clock())
        with self._lock:
            row = self._open().execute(
                "SELECT org, value_sha256 FROM tokens WHERE value_sha256 = ? AND deleted_at IS NULL"
                " AND (expires = 0 OR expires > ?)",
                (digest, now),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], digest) or row[0] not in self._orgs:
            return None
        org: str = row[0]
        return org

    def audit_log(self, org: str) -> list[AuditEvent]:
        self._require_org(org)
        with self._lock:
            rows = self._open().execute(
                "SELECT timestamp, event, description, token_id, token_name, reason, user"
                " FROM audit_events WHERE org = ? ORDER BY seq",
                (org,),
            ).fetchall()
        return [AuditEvent(*row) for row in rows]

    def close(self) -> None:
        """Wait for the write in progress, then close; later calls answer 503."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # Helpers.

    def _require_org(self, org: str) -> None:
        if org not in self._orgs:
            raise NotFound(f"Not Found: Organization '{org}' not found")

    def _check_expiry(self, expires: int, now: float) -> None:
        if expires == 0:
            return
        latest = int(now) + MAX_EXPIRY_SECONDS
        if expires <= now:
            raise InvalidRequest(
                f"Field 'expires' ({expires}) is not in the future: use 0 for a token that never "
                f"expires, or a unix time after now ({int(now)}) and at most {latest} (730 days ahead)."
            )
        if expires > latest:
            raise InvalidRequest(
                f"Field 'expires' ({expires}) is more than two years ahead: tokens may expire at most "
                f"730 days from now, i.e. at unix time {latest} or earlier."
            )

    def _role(self, org: str, role_id: str | None) -> Role | None:
        if role_id is None:
            return None
        role = self._roles.get(role_id)
        if role is None:
            known = ", ".join(sorted(self._roles)) or "none are configured"
            raise InvalidRequest(
                f"Field 'roleID' ({role_id!r}) is not a role of organization '{org}'; known roles: {known}."
            )
        return role

    def _audit(
        self,
        conn: sqlite3.Connection,
        org: str,
        now: float,
        event: str,
        description: str,
        token_id: str,
        token_name: str,
        reason: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO audit_events (org, timestamp, event, description, token_id, token_name, reason,"
            " user) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (org, int(now), event, description, token_id, token_name, reason, self._user),
        )

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise Unavailable("The emulator is shutting down; retry against a running instance.")
        return self._conn

    def _paging_secret(self) -> bytes:
        """Kept in the database so continuation tokens stay valid across a restart on the same file."""
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT value FROM meta WHERE key = 'paging_secret'").fetchone()
            if row is None:
                secret = secrets.token_hex(32)
                conn.execute("INSERT INTO meta (key, value) VALUES ('paging_secret', ?)", (secret,))
            else:
                secret = row[0]
            conn.execute("COMMIT")
        return bytes.fromhex(secret)


def _connect(path: str | None) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE), so a write takes the database
    # write lock up front and never fails half-way when another process holds the file.
    conn = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        if path:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"database {path} has schema version {row[0]}, this emulator uses {SCHEMA_VERSION}; "
                "start with a new --db file"
            )
    except BaseException:
        conn.close()
        raise
    return conn


def _access_token(row: tuple[Any, ...]) -> AccessToken:
    _seq, token_id, name, description, created, expires, admin, role_id, role_name, role_ident, by = row
    role = Role(role_id, role_name, role_ident) if role_id is not None else None
    return AccessToken(
        id=token_id,
        name=name,
        description=description,
        created=created,
        last_used=0,
        expires=expires,
        admin=bool(admin),
        created_by=by,
        role=role,
    )


def _iso8601(unix_seconds: float) -> str:
    moment = datetime.fromtimestamp(unix_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

