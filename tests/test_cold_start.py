"""What a Terraform launch of the installed provider loads before its handshake, and how it ends.

Terraform starts the provider 3-5 times per command and waits for each handshake, so the launch
path must load only the plugin server. These tests run the real installed launcher with a
``sitecustomize`` hook (on ``PYTHONPATH``) that writes ``sys.modules`` to stderr at the first
write to stdout, which is the handshake line. They assert what is loaded, never how long it
takes; ``benchmarks/handshake.py`` measures that.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.plugin_client import PluginProcess
from support.provider_install import install_provider
from test_plugin_runtime import launch_env

from tfprovider.protocol import tfplugin6_pb2, tfplugin6_pb2_grpc

MODULES_MARK = "modules-at-handshake:"
ATEXIT_MARK = "atexit-handlers-ran"
HOOK = textwrap.dedent(
    f"""
    import atexit, sys

    class _ReportModulesOnFirstWrite:
        def __init__(self, stream):
            self._stream = stream
            self._reported = False

        def write(self, text):
            if not self._reported:
                self._reported = True
                sys.stderr.write({MODULES_MARK!r} + " ".join(sorted(sys.modules)) + "\\n")
                sys.stderr.flush()
            return self._stream.write(text)

        def __getattr__(self, name):
            return getattr(self._stream, name)

    sys.stdout = _ReportModulesOnFirstWrite(sys.stdout)
    atexit.register(lambda: sys.stderr.write({ATEXIT_MARK!r} + "\\n"))
    """
)

# Nothing the handshake needs; each is either for people, for later, or replaced by something lighter.
NOT_BEFORE_THE_HANDSHAKE = (
    "argparse",  # command line parsing: only for people
    "tfprovider.installer",
    "tfprovider.emulator",
    "tfprovider.cloud",  # the Pulumi Cloud client
    "httpx",
    "ssl",
    "cryptography",  # the certificate is made by tfprovider.plugin.tls
    "hashlib",  # its first import loads OpenSSL; the built-in SHA-256 is used
    "asyncio",  # see tfprovider/plugin/grpc_import.py
    "grpc.aio",
    "tfprovider.server",  # the provider's servicer loads after the handshake
    "tfprovider.provider",
    "tfprovider.resources",
    "tfprovider.cty",
    "tfprovider.protocol",  # generated protobuf code, ours and go-plugin's
    "google.protobuf",
    "tfprovider.plugin.services",
    "tempfile",
    "shutil",
    "json",
    "dataclasses",
)


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The launcher Terraform would exec, installed into a temporary mirror."""
    return install_provider(tmp_path_factory.mktemp("mirror")).launchers[0]


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    hook_dir = tmp_path_factory.mktemp("hook")
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    env = launch_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook_dir), env.get("PYTHONPATH")]))
    env["PULUMISERVICE_FORKSERVER"] = "0"  # this file measures the cold path itself
    return env


@pytest.fixture(params=[True, False], ids=["tls", "plaintext"])
def launched(
    request: pytest.FixtureRequest, launcher: Path, hook_env: dict[str, str]
) -> Iterator[PluginProcess]:
    with PluginProcess([str(launcher)], hook_env, tls=request.param) as process:
        yield process


def modules_at_handshake(process: PluginProcess) -> set[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in process.stderr_text().splitlines():
            if line.startswith(MODULES_MARK):
                return set(line[len(MODULES_MARK) :].split())
        time.sleep(0.02)
    raise AssertionError(f"the hook reported no modules; stderr:\n{process.stderr_text()}")


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(name + ".") for module in modules)


def test_only_the_plugin_server_is_loaded_before_the_handshake(launched: PluginProcess) -> None:
    modules = modules_at_handshake(launched)
    assert {"grpc", "tfprovider.cli", "tfprovider.plugin.serve", "tfprovider.lazy_server"} <= modules
    assert ("tfprovider.plugin.tls" in modules) is launched.tls
    assert [name for name in NOT_BEFORE_THE_HANDSHAKE if loaded(modules, name)] == []


def test_the_provider_answers_after_loading_in_the_background(launched: PluginProcess) -> None:
    stub = tfplugin6_pb2_grpc.ProviderStub(launched.channel)
    schema = stub.GetProviderSchema(tfplugin6_pb2.GetProviderSchema.Request(), timeout=30)
    assert "pulumiservice_api_tokens_orgtoken" in schema.resource_schemas
    assert not [d for d in schema.diagnostics if d.severity == d.ERROR]
    directory = Path(launched.handshake.address).parent
    assert launched.shutdown() == 0
    launched.close()
    assert not directory.exists()
    assert "Traceback" not in launched.stderr_text()


def test_a_launch_that_is_shut_down_skips_interpreter_teardown(launched: PluginProcess) -> None:
    # The server has stopped and cleaned up before the process ends with os._exit: atexit
    # handlers (here the hook's) are part of the teardown that is skipped.
    assert launched.shutdown() == 0
    launched.close()
    assert ATEXIT_MARK not in launched.stderr_text()


def test_commands_for_people_still_exit_normally(launcher: Path, hook_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(launcher), "--version"], env=hook_env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("terraform-provider-pulumiservice ")
    assert ATEXIT_MARK in result.stderr
