"""Start ``pulumi-cloud-emulator`` as a real subprocess for tests, exactly as users and the demo do.

``Emulator`` launches ``python -m tfprovider.emulator.cli`` on loopback with a free port, reads the
first stdout line (``PULUMI_BACKEND_URL=...``) to learn the URL, and stops it with SIGTERM. Request
logs go to a temporary file (a pipe nobody drains would eventually block the emulator); read them
with ``log_text()`` when a test fails. Fault-injection flags go in ``extra_args``; ``stats()`` reads the
counters.

    with Emulator(roles=["stack-admin"]) as emulator:
        status, body = emulator.call("GET", f"/api/orgs/{emulator.org}/tokens")
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tfprovider.emulator import DEFAULT_ACCESS_TOKEN, DEFAULT_ORG

REPO_ROOT = Path(__file__).resolve().parents[2]
URL_PREFIX = "PULUMI_BACKEND_URL="


class EmulatorStartError(RuntimeError):
    pass


class Emulator:
    """A running emulator subprocess; ``url``, ``access_token`` and ``org`` are what clients need."""

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        orgs: Sequence[str] = (DEFAULT_ORG,),
        roles: Iterable[str] = (),
        db: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 15.0,
    ) -> None:
        self.access_token = access_token
        self.orgs = list(orgs)
        self.org = self.orgs[0]
        self.first_line = ""
        self.url = ""
        self.returncode: int | None = None
        args = [sys.executable, "-m", "tfprovider.emulator.cli", "--access-token", access_token]
        for org in self.orgs:
            args += ["--org", org]
        for role in roles:
            args += ["--role", role]
        if db is not None:
            args += ["--db", os.fspath(db)]
        args += list(extra_args)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        # Lives as long as this object (closed in __exit__), so no with-block.
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        try:
            self.first_line = self._read_first_line(startup_timeout)
        except BaseException:
            self._kill()
            raise
        if not self.first_line.startswith(URL_PREFIX):
            self._kill()
            raise EmulatorStartError(f"unexpected first line {self.first_line!r}; log:\n{self.log_text()}")
        self.url = self.first_line.removeprefix(URL_PREFIX)

    def _read_first_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EmulatorStartError(f"no URL line within {timeout}s; log:\n{self.log_text()}")
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EmulatorStartError(
                        f"emulator exited ({self.process.wait()}) before printing its URL; "
                        f"log:\n{self.log_text()}"
                    )
                buffer += chunk
        return buffer.split(b"\n", 1)[0].decode()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        send_auth: bool = True,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON or None for an empty body).

        Sends ``Authorization: token <access_token>`` (or ``token`` instead) unless ``send_auth`` is
        false; ``headers`` may override it with any raw value.
        """
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if send_auth:
            request.add_header("Authorization", f"token {self.access_token if token is None else token}")
        request.add_header("Accept", "application/vnd.pulumi+8")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return status, (json.loads(payload) if payload else None)

    def stats(self) -> dict[str, Any]:
        """Request and fault counters from ``GET /api/emulator/stats`` (never delayed or faulted)."""
        status, body = self.call("GET", "/api/emulator/stats")
        if status != 200:
            raise AssertionError(f"GET /api/emulator/stats answered {status}: {body}")
        assert isinstance(body, dict)
        return body

    def log_text(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Ask the emulator to exit with ``sig`` and return its exit status."""
        if self.returncode is None:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                self.returncode = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise
            finally:
                self._close_pipes()
        return self.returncode

    def _kill(self) -> None:
        self.process.kill()
        self.returncode = self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.close()
