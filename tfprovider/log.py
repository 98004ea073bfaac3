"""Provider logs in the form Terraform reads from a plugin's stderr: hclog JSON lines.

Terraform (and OpenTofu) read every line a provider writes to stderr. A line that is a JSON object
with ``@level``, ``@message`` and ``@timestamp`` is re-logged at that level under the provider's
name, with the other keys as ``key=value`` pairs; anything else lands in the log as unparsed text.
Terraform only accepts the timestamp with exactly six fractional digits, in UTC with ``Z``
(``2026-01-02T15:04:05.000000Z``), so that is the only form written here.

Which lines are written follows Terraform's own rule for provider output, so a line written here
is a line Terraform keeps: ``TF_LOG_PROVIDER``, or when that is empty ``TF_LOG``, names the level
(TRACE, DEBUG, INFO, WARN, ERROR, any case); ``JSON`` and any unrecognised value mean TRACE; unset,
empty or ``OFF`` means nothing is written at all, which is Terraform's default. The variables are
read on every call (a few microseconds) rather than once, because the fork-server's children
replace their whole environment after this module is imported.

Secrets: a field value must be a ``str``, ``int``, ``float``, ``bool``, ``None`` or a
:class:`tfprovider.secret.Secret`, which is written as its placeholder. Anything else (an object
whose repr might carry headers or a token) is refused with :class:`TypeError`, whether or not
logging is on, so a misuse fails in tests rather than leaking in production. Never pass
``secret.reveal()`` here.

Cost: importing this module loads nothing beyond built-in modules and does no work; with logging
off a call costs a type check and two environment lookups, and :mod:`json` is only imported once
a line is actually written. Each line goes out in one ``write`` to file descriptor 2 under a lock,
so lines from many threads never interleave (and lines under 4 KiB stay whole in the pipe even
against other writers).
"""

from __future__ import annotations

import _thread
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType
    from typing import Final, Literal, TypeVar

    from tfprovider.secret import Secret

    Level = Literal["trace", "debug", "info", "warn", "error"]
    FieldValue = str | int | float | bool | Secret | None
    Servicer = TypeVar("Servicer")
    Request = TypeVar("Request")
    Context = TypeVar("Context")
    Response = TypeVar("Response")

__all__ = [
    "MODULE",
    "configure",
    "debug",
    "enabled",
    "error",
    "hclog_timestamp",
    "info",
    "level_from_environ",
    "log",
    "log_rpc",
    "logged_rpc",
    "reset",
    "trace",
    "warn",
]

#: The ``@module`` of every line: the name Terraform users search their logs for.
MODULE: Final = "provider.terraform-provider-pulumiservice"
#: Longest text written for the message or one field, in characters. go-plugin reads a plugin's
#: stderr in 64 KiB pieces, and a line cut in two is no longer JSON.
MAX_TEXT: Final = 8192

# hclog's numbering: a line is written when its rank is at least the threshold.
_RANKS: Final = {"trace": 1, "debug": 2, "info": 3, "warn": 4, "error": 5}
_OFF: Final = 6
_ENV_NAMES: Final = {"TRACE": 1, "DEBUG": 2, "INFO": 3, "WARN": 4, "ERROR": 5, "OFF": _OFF}
# go-plugin adds its own "timestamp" pair to every line it re-logs; a field of that name would
# show twice with different meanings.
_RESERVED_FIELDS: Final = frozenset({"timestamp"})
_PLAIN_TYPES: Final = (str, int, float, bool, type(None))
_STDERR_FD: Final = 2

_write_lock = _thread.allocate_lock()
# Set by configure() (tests, tools); None means "os.environ and stderr", looked up per call.
_override: tuple[int, Callable[[bytes], object]] | None = None


# -- configuration ---------------------------------------------------------------------------------


def level_from_environ(environ: Mapping[str, str]) -> Level | Literal["off"]:
    """The level Terraform gives provider output in ``environ`` ("off" when nothing is logged).

    Terraform (internal/logging) takes ``TF_LOG_PROVIDER`` first and ``TF_LOG`` when that is empty,
    upper-cases it, treats ``JSON`` as TRACE and falls back to TRACE for a value it does not know.
    """
    rank = _rank_from_environ(environ)
    if rank == _OFF:
        return "off"
    return _LEVEL_NAMES[rank - 1]


def configure(
    environ: Mapping[str, str] | None = None, *, write: Callable[[bytes], object] | None = None
) -> None:
    """Fix the level from ``environ`` (default: the current ``os.environ``) and where lines go.

    ``write`` receives each whole line (UTF-8, ending in a newline) and defaults to stderr. Until
    :func:`reset`, the environment is no longer consulted. Meant for tests and tools; the provider
    itself never calls this.
    """
    global _override
    rank = _rank_from_environ(os.environ if environ is None else environ)
    _override = (rank, write or _write_stderr)


def reset() -> None:
    """Undo :func:`configure`: read the level from ``os.environ`` on each call, write to stderr."""
    global _override
    _override = None


def enabled(level: Level) -> bool:
    """Whether a line at ``level`` would be written now (to skip costly fields when it would not)."""
    return _RANKS[level] >= _threshold()


# -- writing lines -----------------------------------------------------------------------------------


def log(level: Level, message: str, /, **fields: FieldValue) -> None:
    """Write ``message`` with ``fields`` at ``level`` if that level is enabled.

    Field names are lower-case identifiers (``tf_resource_type``, ``status``); values as described
    in the module docstring. Misuse (an unknown level, a bad field name or value type) raises at
    once, whatever the level; writing itself never raises: a closed stderr loses the line.
    """
    rank = _RANKS.get(level, 0)
    if not rank:
        raise ValueError(f"log level must be one of {', '.join(_RANKS)}, not {level!r}")
    _check(message, fields)
    threshold, write = _sink()
    if rank < threshold:
        return
    line = _format(level, message, fields, time.time_ns())
    with _write_lock:
        try:
            write(line)
        except (OSError, ValueError):  # stderr closed or gone: the log is best effort
            return


def trace(message: str, /, **fields: FieldValue) -> None:
    log("trace", message, **fields)


def debug(message: str, /, **fields: FieldValue) -> None:
    log("debug", message, **fields)


def info(message: str, /, **fields: FieldValue) -> None:
    log("info", message, **fields)


def warn(message: str, /, **fields: FieldValue) -> None:
    log("warn", message, **fields)


def error(message: str, /, **fields: FieldValue) -> None:
    log("error", message, **fields)


# -- one line per RPC --------------------------------------------------------------------------------


class _RpcLog:
    """The context manager :func:`log_rpc` returns; cheap to make, does nothing when DEBUG is off."""

    __slots__ = ("_method", "_resource_type", "_started")

    def __init__(self, method: str, resource_type: str | None) -> None:
        if type(method) is not str or not method:
            raise TypeError("log_rpc needs the RPC's name, e.g. 'PlanResourceChange'")
        if resource_type is not None and type(resource_type) is not str:
            raise TypeError("tf_resource_type must be a str or None")
        self._method = method
        self._resource_type = resource_type or None
        self._started: int | None = None

    def __enter__(self) -> None:
        if not enabled("debug"):
            return
        self._started = time.perf_counter_ns()
        if self._resource_type is None:
            trace("rpc started", rpc=self._method)
        else:
            trace("rpc started", rpc=self._method, tf_resource_type=self._resource_type)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        started, self._started = self._started, None
        if started is None:
            return
        fields: dict[str, FieldValue] = {
            "rpc": self._method,
            "duration_ms": round((time.perf_counter_ns() - started) / 1e6, 3),
        }
        if self._resource_type is not None:
            fields["tf_resource_type"] = self._resource_type
        if exc_type is None:
            debug("rpc finished", **fields)
        else:
            # Only the exception's class: its text may quote a request, which may hold a secret.
            error("rpc raised", exception=exc_type.__name__, **fields)


def log_rpc(method: str, *, tf_resource_type: str | None = None) -> _RpcLog:
    """A context manager around one tfplugin6 RPC: at DEBUG, one line when it ends, with ``rpc``
    (the method name), ``duration_ms`` and ``tf_resource_type`` when the request names a type.

        with log_rpc("PlanResourceChange", tf_resource_type=request.type_name):
            ...

    An exception escaping the block is logged at ERROR (class name only) and not suppressed. A
    TRACE line marks the start, so a hung call shows in a TRACE log. Use one object per call.
    """
    return _RpcLog(method, tf_resource_type)


def logged_rpc(
    handler: Callable[[Servicer, Request, Context], Response],
) -> Callable[[Servicer, Request, Context], Response]:
    """Decorator for a unary gRPC servicer method: runs it inside :func:`log_rpc`, named after the
    method, with the request's ``type_name`` (when it has a non-empty one) as ``tf_resource_type``.

    Not for streaming methods: their work happens after the method has returned its iterator.
    """
    import functools  # loaded by the interpreter at start-up already; kept off the import path anyway

    name = handler.__name__

    @functools.wraps(handler)
    def logged(servicer: Servicer, request: Request, context: Context) -> Response:
        type_name = getattr(request, "type_name", None)
        with log_rpc(name, tf_resource_type=type_name if type(type_name) is str else None):
            return handler(servicer, request, context)

    return logged


# -- internals -----------------------------------------------------------------------------------

_LEVEL_NAMES: Final[tuple[Level, ...]] = ("trace", "debug", "info", "warn", "error")


def _rank_from_environ(environ: Mapping[str, str]) -> int:
    value = environ.get("TF_LOG_PROVIDER", "").upper()
    if not value:
        value = environ.get("TF_LOG", "").upper()
    if not value:
        return _OFF
    return _ENV_NAMES.get(value, 1)  # JSON and unknown values: TRACE, as Terraform does


def _threshold() -> int:
    override = _override
    if override is not None:
        return override[0]
    return _rank_from_environ(os.environ)


def _sink() -> tuple[int, Callable[[bytes], object]]:
    override = _override
    if override is not None:
        return override
    return _rank_from_environ(os.environ), _write_stderr


def _write_stderr(data: bytes) -> None:
    """All of ``data`` to file descriptor 2: one ``write`` unless the pipe takes less."""
    view = memoryview(data)
    while view:
        written = os.write(_STDERR_FD, view)
        view = view[written:]


def _check(message: str, fields: Mapping[str, object]) -> None:
    """Refuse what could carry a secret or break the line, before the level is even looked at."""
    if type(message) is not str:
        raise TypeError(f"log message must be a str, not {type(message).__name__}")
    for name, value in fields.items():
        if not (name.isascii() and name.isidentifier() and name == name.lower()) or name in _RESERVED_FIELDS:
            raise ValueError(f"log field {name!r}: use a lower-case identifier other than 'timestamp'")
        if type(value) in _PLAIN_TYPES:
            continue
        from tfprovider.secret import Secret  # only when a non-plain value turns up

        if type(value) is not Secret:
            raise TypeError(
                f"log field {name!r} is a {type(value).__name__}; log fields take str, int, float, bool, "
                "None or Secret values only (convert the value to text that holds no secret)"
            )


def hclog_timestamp(unix_ns: int) -> str:
    """``unix_ns`` (nanoseconds since the epoch) as Terraform parses a plugin line's ``@timestamp``:
    UTC, microseconds in exactly six digits, ``Z`` (``2026-01-02T15:04:05.000000Z``)."""
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"


def _format(level: Level, message: str, fields: Mapping[str, FieldValue], now_ns: int) -> bytes:
    import json  # first line written; never imported while logging is off

    record: dict[str, object] = {
        "@level": level,
        "@message": _clip(message),
        "@module": MODULE,
        "@timestamp": hclog_timestamp(now_ns),
    }
    for name, value in fields.items():
        record[name] = _render(value)
    return (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")


def _render(value: FieldValue) -> object:
    if type(value) is str:
        return _clip(value)
    if type(value) is float and value - value != 0:  # NaN and infinities are not JSON numbers
        return repr(value)
    if type(value) in _PLAIN_TYPES:
        return value
    return str(value)  # a Secret: its placeholder, never its value


def _clip(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"... ({len(text) - MAX_TEXT} more characters)"
