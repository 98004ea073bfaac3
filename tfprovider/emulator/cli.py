"""``pulumi-cloud-emulator``: serve the local Pulumi Cloud until SIGTERM or SIGINT.

Contract with whoever starts it (users, the demo, the tests): the FIRST line on stdout is exactly
``PULUMI_BACKEND_URL=http://HOST:PORT``, written only once the socket is listening, so a launcher
can read one line and connect. Request logs go to stderr and never contain headers, query strings
or token values. SIGTERM/SIGINT stop it with status 0; every acknowledged write is already
committed, so nothing is lost.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from tfprovider.emulator import DEFAULT_ACCESS_TOKEN, DEFAULT_HOST, DEFAULT_ORG, DEFAULT_USER
from tfprovider.emulator.app import EmulatorApp, EmulatorServer
from tfprovider.emulator.store import Role, Store

_ORG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulumi-cloud-emulator",
        description=(
            "A local Pulumi Cloud serving the organization-token API "
            "(create, list, delete under /api/orgs/{org}/tokens) plus an audit log at "
            "/api/orgs/{org}/auditlogs (an emulator extension). Prints PULUMI_BACKEND_URL=... first."
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    orgs: list[str] = args.orgs or [DEFAULT_ORG]
    if not args.access_token.strip():
        print("pulumi-cloud-emulator: --access-token must not be empty", file=sys.stderr)
        return 2
    try:
        store = Store(args.db, orgs=orgs, roles=args.roles, user=args.user)
    except sqlite3.Error as error:
        print(f"pulumi-cloud-emulator: cannot open database {args.db}: {error}", file=sys.stderr)
        return 1
    try:
        server = EmulatorServer(
            args.host,
            args.port,
            EmulatorApp(store, args.access_token),
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
