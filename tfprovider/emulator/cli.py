"""``pulumi-cloud-emulator``: serve the local Pulumi Cloud until SIGTERM or SIGINT.

Contract with whoever starts it (users, the demo, the tests): the FIRST line on stdout is exactly
``PULUMI_BACKEND_URL=http://HOST:PORT``, written only once the socket is listening, so a launcher
can read one line and connect. Request logs go to stderr and never contain headers, query strings
or token values. SIGTERM/SIGINT stop it with status 0; every acknowledged write is already
committed, so nothing is lost.

Credentials: ``--access-token`` may do everything; the value of a live organization token the
emulator issued is accepted too, for its own organization (see ``EmulatorApp``).
``--record-issued-values PATH`` is a test aid that appends every token value created to PATH.

Fault injection, for testing clients' retry and recovery (all off by default; the full rules,
including the fixed order of random draws, are in ``tfprovider.emulator.faults``):

``--seed N``
    seeds the one RNG every fault decision comes from (default: random, printed on stderr), so the
    same seed and the same request order reproduce a run;
``--latency-ms MS`` / ``--latency-jitter-ms MS``
    delay every faultable request by MS plus a uniform 0..jitter ms;
``--error-rate P``
    answer 500, 502 or 503 (JSON or plain-text body) without handling the request;
``--throttle-rate P``
    answer 429 with ``Retry-After`` as ``1`` or as the HTTP date a second ahead, without handling it;
``--reset-rate P``
    reset the connection (RST) without handling the request;
``--drop-after-commit-rate P``
    for creates: commit the token, then reset the connection instead of returning its value.

Rates are probabilities in [0, 1]. Faulted requests are those under ``/api/`` except the audit log
and ``GET /api/emulator/stats``, which answers request and fault counters as JSON (same access
token). The first stdout line and requests outside ``/api/`` are never affected.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import secrets
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from tfprovider.emulator import DEFAULT_ACCESS_TOKEN, DEFAULT_HOST, DEFAULT_ORG, DEFAULT_USER
from tfprovider.emulator.app import EmulatorApp, EmulatorServer
from tfprovider.emulator.faults import (
    MILLIS_HINT,
    RATE_HINT,
    FaultInjector,
    FaultSettings,
    TrafficStats,
    is_millis,
    is_rate,
)
from tfprovider.emulator.store import Role, Store

_ORG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulumi-cloud-emulator",
        description=(
            "A local Pulumi Cloud serving the organization-token API "
            "(create, list, delete under /api/orgs/{org}/tokens) plus, as emulator extensions, an audit "
            "log at /api/orgs/{org}/auditlogs and counters at /api/emulator/stats. "
            "Prints PULUMI_BACKEND_URL=... first."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: any free port)")
    parser.add_argument(
        "--access-token",
        default=DEFAULT_ACCESS_TOKEN,
        help=f"token clients must send as 'Authorization: token ...' (default {DEFAULT_ACCESS_TOKEN})",
    )
    parser.add_argument(
        "--org",
        dest="orgs",
        action="append",
        type=_org,
        metavar="NAME",
        help=f"organization to serve; repeat for several (default {DEFAULT_ORG})",
    )
    parser.add_argument(
        "--role",
        dest="roles",
        action="append",
        type=_role,
        default=[],
        metavar="ID",
        help="role ID tokens may be created with (roleID); name and identifier derive from it; repeatable",
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite file to persist to (default: in memory)")
    parser.add_argument(
        "--user", default=DEFAULT_USER, help=f"user shown as createdBy (default {DEFAULT_USER})"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument(
        "--record-issued-values",
        metavar="PATH",
        help="test aid: append every token value created to PATH, one per line, so a test can check "
        "that no value reached a state or plan file (never use with tokens anyone relies on)",
    )
    _add_fault_arguments(parser)
    return parser


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group(
        "fault injection (off by default)",
        "Make the emulator misbehave like a real service behind proxies, reproducibly, to test "
        "clients' retries. Faults hit requests under /api/ except the audit log and "
        "GET /api/emulator/stats (request and fault counters as JSON); never the first stdout line. "
        "Per faulted request the RNG draws, in this order: latency jitter, reset, throttle, error, "
        "drop-after-commit, then two variant draws; the first of reset, throttle, error, "
        "drop-after-commit whose draw falls below its rate applies. Rates are probabilities 0..1.",
    )
    faults.add_argument(
        "--seed", type=_seed, metavar="N",
        help="seed of the one RNG all fault decisions come from; same seed + same request order = "
        "same faults (default: random; printed on stderr when any fault is on)",
    )
    faults.add_argument(
        "--latency-ms", type=_millis, default=0.0, metavar="MS",
        help="delay every /api request except the audit log and stats by MS milliseconds before answering",
    )
    faults.add_argument(
        "--latency-jitter-ms", type=_millis, default=0.0, metavar="MS",
        help="add a further uniformly random 0..MS milliseconds to that delay",
    )
    faults.add_argument(
        "--error-rate", type=_rate, default=0.0, metavar="P",
        help="answer 500, 502 or 503 (JSON body, or sometimes plain text like a proxy); no effect",
    )
    faults.add_argument(
        "--throttle-rate", type=_rate, default=0.0, metavar="P",
        help="answer 429 with Retry-After as seconds ('1') or an HTTP date about 1 s ahead; no effect",
    )
    faults.add_argument(
        "--reset-rate", type=_rate, default=0.0, metavar="P",
        help="reset the connection (RST) instead of answering; no effect",
    )
    faults.add_argument(
        "--drop-after-commit-rate", type=_rate, default=0.0, metavar="P",
        help="creates only: commit the token, then reset the connection, so its value is lost",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    orgs: list[str] = args.orgs or [DEFAULT_ORG]
    if not args.access_token.strip():
        print("pulumi-cloud-emulator: --access-token must not be empty", file=sys.stderr)
        return 2
    try:
        store = Store(
            args.db,
            orgs=orgs,
            roles=args.roles,
            user=args.user,
            issued_values_path=args.record_issued_values,
        )
    except sqlite3.Error as error:
        print(f"pulumi-cloud-emulator: cannot open database {args.db}: {error}", file=sys.stderr)
        return 1
    settings = FaultSettings(
        seed=secrets.randbits(32) if args.seed is None else args.seed,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        reset_rate=args.reset_rate,
        drop_after_commit_rate=args.drop_after_commit_rate,
    )
    stats = TrafficStats(settings.seed)
    app = EmulatorApp(store, args.access_token, stats=stats.snapshot)
    try:
        server = EmulatorServer(
            args.host,
            args.port,
            FaultInjector(app, app.operation, settings, stats),
            log=None if args.quiet else sys.stderr,
        )
    except OSError as error:
        store.close()
        print(f"pulumi-cloud-emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator-http", daemon=True
    )
    serving.start()
    try:
        with contextlib.suppress(BrokenPipeError, ValueError):  # nobody reads stdout: still serve
            print(f"PULUMI_BACKEND_URL={server.url}", flush=True)
        where = args.db or "memory"
        print(
            f"pulumi-cloud-emulator: serving orgs {', '.join(orgs)} at {server.url} (data in {where}); "
            "stop with Ctrl-C or SIGTERM",
            file=sys.stderr,
            flush=True,
        )
        if settings.active:
            note = f"pulumi-cloud-emulator: injecting faults: {settings.describe()}"
            print(note, file=sys.stderr, flush=True)
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0..65535")
    return port


def _seed(raw: str) -> int:
    try:
        seed = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a seed: give a whole number, 0 or more") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a seed: give a whole number, 0 or more")
    return seed


def _rate(raw: str) -> float:
    rate = _number(raw)
    if rate is None or not is_rate(rate):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a probability: {RATE_HINT}")
    return rate


def _millis(raw: str) -> float:
    millis = _number(raw)
    if millis is None or not is_millis(millis):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a delay: {MILLIS_HINT}")
    return millis


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _org(raw: str) -> str:
    if not _ORG_NAME.fullmatch(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an organization name: use letters, digits, '.', '_' or '-'"
        )
    return raw


def _role(raw: str) -> Role:
    if not raw.strip() or "/" in raw:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a role ID: give a non-empty ID without '/'")
    return Role.from_id(raw)


if __name__ == "__main__":
    sys.exit(main())
