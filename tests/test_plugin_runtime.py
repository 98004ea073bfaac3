"""The go-plugin runtime as Terraform sees it: real provider processes, launched with Terraform's
environment and driven over their unix socket (TLS specifics are in test_plugin_tls.py)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from support.plugin_client import PluginLaunchError, PluginProcess

from tfprovider.plugin.launch import handshake_line, parse_protocol_versions, reattach_line
from tfprovider.protocol import go_plugin_pb2, go_plugin_pb2_grpc, grpc_health_pb2, grpc_health_pb2_grpc

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
SERVE_NOTHING = "from tfprovider.plugin import serve; raise SystemExit(serve(lambda s: None))"
SERVE_DEBUG = "from tfprovider.plugin import serve; raise SystemExit(serve(lambda s: None, debug=True))"
SERVING = grpc_health_pb2.HealthCheckResponse.SERVING
MiB = 1024 * 1024

# A provider whose register() adds an echo method, so a test can see that the hook runs and that
# large messages pass both ways.
SERVE_ECHO = textwrap.dedent(
    """
    import grpc
    from tfprovider.plugin import serve

    def register(server):
        echo = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Echo": echo}),))

    raise SystemExit(serve(register))
    """
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def launch_env(**extra: str) -> dict[str, str]:
    """The environment Terraform gives a provider, minus the client certificate."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    env.update(TF_PLUGIN_MAGIC_COOKIE=COOKIE, PLUGIN_PROTOCOL_VERSIONS="5,6")
    env.update(PLUGIN_MIN_PORT="10000", PLUGIN_MAX_PORT="25000")
    env.update(extra)
    return env


def health(channel: grpc.Channel, service: str = "plugin", timeout: float = 5.0) -> int:
    stub = grpc_health_pb2_grpc.HealthStub(channel)
    status: int = stub.Check(grpc_health_pb2.HealthCheckRequest(service=service), timeout=timeout).status
    return status


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python(code), env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def plugin() -> Iterator[PluginProcess]:
    with PluginProcess(python(SERVE_NOTHING), launch_env(), tls=False) as process:
        yield process


# --- launch checks -------------------------------------------------------------------------------


def test_without_the_cookie_it_explains_itself_and_exits_1_before_loading_grpc() -> None:
    env = launch_env()
    del env["TF_PLUGIN_MAGIC_COOKIE"]
    code = (
        "import sys; from tfprovider.plugin import serve; rc = serve(lambda s: None); "
        'sys.stderr.write(f\'heavy={sorted(m for m in ("grpc", "cryptography") if m in sys.modules)}\'); '
        "raise SystemExit(rc)"
    )
    result = run(code, env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Terraform plugin" in result.stderr
    assert "terraform init" in result.stderr
    assert "terraform-provider-pulumiservice install" in result.stderr
    assert "--debug" in result.stderr
    assert "heavy=[]" in result.stderr


def test_a_wrong_cookie_is_refused_too() -> None:
    result = run(SERVE_NOTHING, launch_env(TF_PLUGIN_MAGIC_COOKIE="not-the-cookie"))
    assert (result.returncode, result.stdout) == (1, "")
    assert "Terraform plugin" in result.stderr


def test_a_client_without_protocol_6_gets_a_clear_refusal() -> None:
    result = run(SERVE_NOTHING, launch_env(PLUGIN_PROTOCOL_VERSIONS="5"))
    assert (result.returncode, result.stdout) == (1, "")
    assert "protocol 6" in result.stderr
    assert "'5'" in result.stderr
    assert "Terraform >= 1.0" in result.stderr


@pytest.mark.parametrize("versions", ["6,5", " 5 , 6", "6", "5,,6,", "x,6", None])
def test_protocol_6_is_accepted_in_any_spelling(versions: str | None) -> None:
    env = launch_env()
    if versions is None:
        del env["PLUGIN_PROTOCOL_VERSIONS"]  # absent: assume 6
    else:
        env["PLUGIN_PROTOCOL_VERSIONS"] = versions
    with PluginProcess(python(SERVE_NOTHING), env, tls=False) as process:
        assert process.handshake.app_protocol == 6
        assert process.shutdown() == 0


def test_parse_protocol_versions() -> None:
    assert parse_protocol_versions("5,6") == {5, 6}
    assert parse_protocol_versions(" 6 , 5 ") == {5, 6}
    assert parse_protocol_versions("") == frozenset()
    assert parse_protocol_versions(",,7,abc,") == {7}


def test_handshake_and_reattach_lines() -> None:
    assert handshake_line("/tmp/d/plugin.sock", None) == "1|6|unix|/tmp/d/plugin.sock|grpc|"
    # Two bytes need one pad character in standard base64; the handshake drops it.
    assert handshake_line("/s", b"\x01\x02") == "1|6|unix|/s|grpc|AQI"
    line = reattach_line("registry.terraform.io/pulumi/pulumiservice", 42, "/tmp/d/plugin.sock")
    assert line.startswith("TF_REATTACH_PROVIDERS='{") and line.endswith("}'")


# --- the running server -----------------------------------------------------------------------


def test_plaintext_handshake_when_no_client_certificate_is_offered(plugin: PluginProcess) -> None:
    hs = plugin.handshake
    assert (hs.core_protocol, hs.app_protocol, hs.network, hs.protocol) == (1, 6, "unix", "grpc")
    assert hs.line.endswith("|grpc|") and hs.cert_der is None
    assert Path(hs.address).name == "plugin.sock"
    assert health(plugin.channel) == SERVING


def test_socket_is_private_while_running_and_removed_after(plugin: PluginProcess) -> None:
    socket_path = Path(plugin.handshake.address)
    directory = socket_path.parent
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert [p.name for p in directory.iterdir()] == ["plugin.sock"]  # and nothing else, no key file
    assert directory.stat().st_uid == os.getuid()
    assert plugin.shutdown() == 0
    assert not directory.exists()


def test_health_serves_plugin_and_the_whole_server(plugin: PluginProcess) -> None:
    assert health(plugin.channel, "plugin") == SERVING
    assert health(plugin.channel, "") == SERVING
    with pytest.raises(grpc.RpcError) as info:
        health(plugin.channel, "something.Else")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_reports_once_and_ends_at_shutdown(plugin: PluginProcess) -> None:
    stub = grpc_health_pb2_grpc.HealthStub(plugin.channel)
    stream = stub.Watch(grpc_health_pb2.HealthCheckRequest(service="plugin"), timeout=10)
    assert next(stream).status == SERVING
    assert plugin.shutdown() == 0
    with pytest.raises((StopIteration, grpc.RpcError)):
        next(stream)


def test_cancelled_watch_streams_give_their_worker_thread_back(plugin: PluginProcess) -> None:
    # Two rounds of 60 held streams against 64 worker threads: if cancelled streams kept their
    # threads, the second round could not get its first answers before the deadline.
    stub = grpc_health_pb2_grpc.HealthStub(plugin.channel)
    for _ in range(2):
        streams = [
            stub.Watch(grpc_health_pb2.HealthCheckRequest(service="plugin"), timeout=5) for _ in range(60)
        ]
        assert all(next(stream).status == SERVING for stream in streams)
        time.sleep(0.2)  # let every handler reach its wait
        for stream in streams:
            stream.cancel()
    assert health(plugin.channel, timeout=5) == SERVING


def test_stream_stdio_ends_cleanly_without_data(plugin: PluginProcess) -> None:
    stub = go_plugin_pb2_grpc.GRPCStdioStub(plugin.channel)
    assert list(stub.StreamStdio(go_plugin_pb2.Empty(), timeout=5)) == []


def test_shutdown_answers_and_the_process_exits_0_within_a_second(plugin: PluginProcess) -> None:
    directory = Path(plugin.handshake.address).parent
    go_plugin_pb2_grpc.GRPCControllerStub(plugin.channel).Shutdown(go_plugin_pb2.Empty(), timeout=5)
    answered = time.monotonic()
    assert plugin.wait(timeout=1.0) == 0
    assert time.monotonic() - answered < 1.0
    assert not directory.exists()


def test_sigterm_stops_in_order_and_cleans_up(plugin: PluginProcess) -> None:
    directory = Path(plugin.handshake.address).parent
    plugin.proc.send_signal(signal.SIGTERM)
    assert plugin.wait(timeout=2) == 0
    assert not directory.exists()


def test_sigint_is_ignored_then_shutdown_still_works(plugin: PluginProcess) -> None:
    plugin.proc.send_signal(signal.SIGINT)
    plugin.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    assert plugin.proc.poll() is None
    assert health(plugin.channel) == SERVING
    assert plugin.shutdown() == 0
    assert "Traceback" not in plugin.stderr_text()


def test_register_hook_runs_and_messages_of_many_mib_pass_both_ways() -> None:
    with PluginProcess(python(SERVE_ECHO), launch_env(), tls=False) as process:
        echo = process.channel.unary_unary("/test.Echo/Echo")
        payload = os.urandom(10 * MiB)
        assert echo(payload, timeout=30) == payload
        # A 10 MiB health request is received too (and refused for its name, not its size).
        with pytest.raises(grpc.RpcError) as info:
            health(process.channel, "x" * (10 * MiB), timeout=30)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert process.shutdown() == 0


def test_nothing_precedes_the_handshake_and_nothing_is_left_on_stdout(plugin: PluginProcess) -> None:
    assert plugin.shutdown() == 0
    plugin.close()
    assert plugin.stdout_after_handshake() == ""


def test_an_unusable_socket_directory_is_reported() -> None:
    long_parent = Path("/tmp") / ("d" * 120)
    env = launch_env(PLUGIN_UNIX_SOCKET_DIR=str(long_parent))
    long_parent.mkdir(exist_ok=True)
    try:
        result = run(SERVE_NOTHING, env)
        assert (result.returncode, result.stdout) == (1, "")
        assert "TMPDIR" in result.stderr
        assert list(long_parent.iterdir()) == []  # the private directory was removed again
    finally:
        long_parent.rmdir()


def test_a_missing_socket_parent_directory_is_reported() -> None:
    result = run(SERVE_NOTHING, launch_env(PLUGIN_UNIX_SOCKET_DIR="/nonexistent/plugin-sockets"))
    assert (result.returncode, result.stdout) == (1, "")
    assert "cannot create a private directory" in result.stderr
    assert "Traceback" not in result.stderr


# --- debug mode ---------------------------------------------------------------------------------


def test_debug_mode_prints_reattach_config_and_keeps_serving() -> None:
    env = launch_env()
    del env["TF_PLUGIN_MAGIC_COOKIE"]  # nobody launches a debug server: no cookie
    with PluginProcess(python(SERVE_DEBUG), env, debug=True) as process:
        assert process.reattach_config is not None
        ((address, config),) = process.reattach_config.items()
        assert address == "registry.terraform.io/pulumi/pulumiservice"
        assert config["Protocol"] == "grpc"
        assert config["ProtocolVersion"] == 6
        assert config["Pid"] == process.proc.pid
        assert config["Test"] is True
        assert config["Addr"]["Network"] == "unix"
        socket_path = Path(config["Addr"]["String"])
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        assert health(process.channel) == SERVING

        # A Shutdown request does not end a debug session ...
        go_plugin_pb2_grpc.GRPCControllerStub(process.channel).Shutdown(go_plugin_pb2.Empty(), timeout=5)
        time.sleep(0.3)
        assert process.proc.poll() is None
        assert health(process.channel) == SERVING

        # ... Ctrl-C does.
        process.proc.send_signal(signal.SIGINT)
        assert process.wait(timeout=2) == 0
        assert not socket_path.parent.exists()
        process.close()
        assert "export the TF_REATTACH_PROVIDERS line" in process.stderr_text()
        assert "ignoring a Shutdown request" in process.stderr_text()


def test_debug_reattach_line_is_valid_shell_and_json() -> None:
    line = reattach_line("registry.terraform.io/pulumi/pulumiservice", 7, "/tmp/x y/plugin.sock")
    result = subprocess.run(
        ["sh", "-c", line + '; printf %s "$TF_REATTACH_PROVIDERS"'],
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(result.stdout)
    assert config["registry.terraform.io/pulumi/pulumiservice"]["Addr"]["String"] == "/tmp/x y/plugin.sock"


# --- import hygiene ------------------------------------------------------------------------------


def test_importing_the_runtime_is_light_and_starts_no_threads() -> None:
    code = textwrap.dedent(
        """
        import sys, threading
        import tfprovider.plugin, tfprovider.plugin.launch, tfprovider.plugin.serve
        import tfprovider.plugin.socket_dir, tfprovider.plugin.tls, tfprovider.plugin.stream_gate
        import tfprovider.plugin.grpc_import, tfprovider.lazy_server
        heavy = [m for m in ("grpc", "cryptography", "asyncio") if m in sys.modules]
        print(heavy, threading.active_count())
        """
    )
    result = run(code, launch_env())
    assert result.stdout.split("\n")[0] == "[] 1", result.stderr


def test_serve_stays_the_function_after_the_server_module_is_loaded() -> None:
    code = (
        "import tfprovider.plugin as p; p.serve(lambda s: None); "
        "from tfprovider.plugin import serve; print(callable(serve), type(serve).__name__)"
    )
    env = launch_env()
    del env["TF_PLUGIN_MAGIC_COOKIE"]
    assert run(code, env).stdout.strip() == "True function"


def test_plugin_client_rejects_a_plaintext_answer_to_a_tls_offer() -> None:
    # The test client must fail loudly when the plugin's TLS choice differs from what was offered.
    deaf = "import os; os.environ.pop('PLUGIN_CLIENT_CERT', None); " + SERVE_NOTHING
    with pytest.raises(PluginLaunchError, match="no certificate"):
        PluginProcess(python(deaf), launch_env(), tls=True).start()
