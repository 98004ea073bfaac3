"""Run real Terraform commands against the local emulator and measure each one.

Every measured command records its wall time, the peak memory of the providers Terraform started
(see ``procwatch``) and the API requests the emulator counted while it ran (``GET
/api/emulator/stats``, read before and after). Terraform runs offline and isolated: a CLI config of
our own that installs every provider from one filesystem mirror (ours through its launcher, the Go
null provider as its binary), a private ``HOME``, and none of the caller's ``TF_*`` settings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from support.provider_install import install_provider

from harness.procwatch import MemoryReport, ProcessWatcher

ACCESS_TOKEN = "pul-bench-access-token-0123456789"
ORG = "acme"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
COMMAND_TIMEOUT_SECONDS = 900.0
NULL_PROVIDER_VERSION = "2.1.2"


class CommandFailed(RuntimeError):
    """A Terraform command failed; the message carries the command and the end of its output."""


def hcl_string(text: str) -> str:
    """``text`` as an HCL quoted string (JSON escapes, plus HCL's ``${`` and ``%{`` templates)."""
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


# --- The emulator ---------------------------------------------------------------------------------


class Emulator:
    """A fresh ``python -m tfprovider.emulator`` on a free loopback port, request logging off.

    ``latency_ms`` delays every API request, standing in for the round trip to a real service.
    """

    def __init__(self, python: str = sys.executable, *, latency_ms: int = 0) -> None:
        args = [python, "-m", "tfprovider.emulator", "--port", "0", "--access-token", ACCESS_TOKEN]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        self.process = subprocess.Popen(
            [*args, "--org", ORG, "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().decode().strip()
        if not first.startswith("PULUMI_BACKEND_URL="):
            self.stop()
            raise RuntimeError(f"the emulator's first line was {first!r}, not PULUMI_BACKEND_URL=...")
        self.url = first.removeprefix("PULUMI_BACKEND_URL=")

    def requests(self) -> dict[str, int]:
        """Requests served so far by operation (create, list, delete, ...), the stats call excluded."""
        request = urllib.request.Request(f"{self.url}/api/emulator/stats")
        request.add_header("Authorization", f"token {ACCESS_TOKEN}")
        with urllib.request.urlopen(request, timeout=10) as response:
            counts: dict[str, int] = json.loads(response.read())["requests"]
        return {operation: count for operation, count in counts.items() if operation != "stats"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --- Provider mirror and configurations ------------------------------------------------------------


def build_mirror(directory: Path, null_binary: Path | None) -> Path:
    """A filesystem mirror with our launcher (for this interpreter) and, if given, the Go null provider."""
    install_provider(directory)
    if null_binary is not None:
        target = directory / "registry.terraform.io/hashicorp/null" / NULL_PROVIDER_VERSION / "linux_amd64"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(null_binary, target / null_binary.name)
    return directory


def cli_config(mirror: Path) -> str:
    """Every provider from ``mirror``, none from the network."""
    return (
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path = {hcl_string(str(mirror))}\n  }}\n"
        "}\n"
    )


def tokens_config(count: int, name_prefix: str) -> str:
    """``count`` organization tokens with unique names (Pulumi Cloud never reuses a token name)."""
    return (
        "terraform {\n  required_providers {\n"
        '    pulumiservice = { source = "pulumi/pulumiservice" }\n  }\n}\n\n'
        f'resource "{ORGTOKEN}" "bench" {{\n'
        f"  count       = {count}\n"
        f'  name        = "{name_prefix}-${{count.index}}"\n'
        f"  org_name    = {hcl_string(ORG)}\n"
        '  description = "benchmark"\n'
        "}\n"
    )


def null_config(count: int) -> str:
    return (
        'terraform {\n  required_providers {\n    null = { source = "hashicorp/null" }\n  }\n}\n\n'
        f'resource "null_resource" "bench" {{\n  count = {count}\n}}\n'
    )


# --- One measured command --------------------------------------------------------------------------


@dataclass
class Measurement:
    seconds: float
    memory: MemoryReport
    requests: dict[str, int] = field(default_factory=dict)
    """API requests by operation during the command (empty when no emulator was involved)."""


class Workspace:
    """One Terraform binary, one configuration directory, one mirror, optionally one emulator."""

    def __init__(
        self,
        binary: Path,
        root: Path,
        mirror: Path,
        *,
        emulator: Emulator | None = None,
        env_extra: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.emulator = emulator
        self.workdir = root / "config"
        self.home = root / "home"
        self.workdir.mkdir(parents=True)
        self.home.mkdir()
        self.cli_config_file = root / "terraform.rc"
        self.cli_config_file.write_text(cli_config(mirror))
        env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
        env.update(
            HOME=str(self.home),
            TF_CLI_CONFIG_FILE=str(self.cli_config_file),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
        )
        if emulator is not None:
            env.update(PULUMI_ACCESS_TOKEN=ACCESS_TOKEN, PULUMI_BACKEND_URL=emulator.url)
        env.update(env_extra or {})
        self.env = env

    def write(self, text: str) -> None:
        (self.workdir / "main.tf").write_text(text)

    def init(self) -> float:
        return self.run("init", "-input=false", "-no-color").seconds

    def validate(self) -> Measurement:
        return self.run("validate", "-no-color")

    def plan(self, *extra: str) -> Measurement:
        return self.run("plan", "-input=false", "-no-color", *extra)

    def apply(self, *extra: str) -> Measurement:
        return self.run("apply", "-input=false", "-no-color", "-auto-approve", *extra)

    def destroy(self, *extra: str) -> Measurement:
        return self.run("destroy", "-input=false", "-no-color", "-auto-approve", *extra)

    def run(self, *args: str) -> Measurement:
        """Run ``terraform ARGS``, timed and watched; raise :class:`CommandFailed` if it fails."""
        before = self.emulator.requests() if self.emulator is not None else {}
        command: Sequence[str] = [str(self.binary), *args]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        with ProcessWatcher(process.pid) as watcher:
            try:
                stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                stdout, stderr = process.communicate()
            seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise CommandFailed(
                f"`{' '.join(command)}` in {self.workdir} exited {process.returncode}\n"
                f"--- stdout (end) ---\n{stdout[-3000:]}\n--- stderr (end) ---\n{stderr[-3000:]}"
            )
        requests: dict[str, int] = {}
        if self.emulator is not None:
            after = self.emulator.requests()
            requests = {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)}
        return Measurement(seconds, watcher.report, requests)


def version_of(binary: Path) -> str:
    completed = subprocess.run(
        [str(binary), "version", "-json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    return str(json.loads(completed.stdout)["terraform_version"])
