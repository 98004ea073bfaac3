"""The fork-server, end to end: the installed launcher, a real daemon, forked providers, Terraform's
go-plugin environment; and every way it must fall back to the ordinary start-up without a trace
beyond a ``[TRACE]`` line.

Each daemon lives in a private directory under /tmp made for the test (the real per-user one is
never touched) and is stopped afterwards, with every provider it forked.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.emulator import Emulator
from support.plugin_client import PluginProcess
from support.provider_install import install_provider

import tfprovider
from tfprovider.cty import encode_msgpack
from tfprovider.forkserver import identity, settings, wire
from tfprovider.forkserver.daemon import thread_count
from tfprovider.protocol import tfplugin6_pb2 as pb
from tfprovider.protocol import tfplugin6_pb2_grpc as pb_grpc
from tfprovider.provider import PROVIDER_SCHEMA
from tfprovider.resources.orgtoken import SCHEMA as ORGTOKEN_SCHEMA

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
SERVED = re.compile(r"\[TRACE\] tfprovider fork-server: served by daemon pid (\d+): provider pid (\d+)")
NOT_USED = "[TRACE] tfprovider fork-server: not used: "
DAEMON_START_TIMEOUT = 30.0


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The executable Terraform would run, as the installer writes it."""
    return str(install_provider(tmp_path_factory.mktemp("plugins")).launchers[0])


@contextlib.contextmanager
def forkserver_directory() -> Iterator[Path]:
    """A not-yet-existing socket directory under a fresh /tmp directory (short: socket paths are
    limited to 107 bytes); afterwards every process started for it is killed."""
    base = Path(tempfile.mkdtemp(prefix="tfpfs-", dir="/tmp"))
    try:
        yield base / "fs"
    finally:
        for pid in processes_for(base):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def fs_dir() -> Iterator[Path]:
    with forkserver_directory() as directory:
        yield directory


@pytest.fixture(scope="module")
def shared_dir() -> Iterator[Path]:
    with forkserver_directory() as directory:
        yield directory


def processes_for(directory: Path) -> list[int]:
    """Daemons (and the providers they forked, which share their command line) for ``directory``."""
    found = []
    needle = str(directory).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline and b"tfprovider.forkserver.daemon" in cmdline:
                found.append(int(entry))
    return found


def plugin_env(fs_dir: Path, **extra: str) -> dict[str, str]:
    """Terraform's environment for a provider, with the fork-server on and confined to ``fs_dir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "PLUGIN_", "PULUMI_", "PULUMISERVICE_")) and key != "CI"
    }
    env.update(
        TF_PLUGIN_MAGIC_COOKIE=COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="6",
        PULUMISERVICE_FORKSERVER="1",
        PULUMISERVICE_FORKSERVER_DIR=str(fs_dir),
        PULUMISERVICE_FORKSERVER_IDLE="60",
    )
    env.update(extra)
    return env


def daemon_socket(fs_dir: Path) -> Path | None:
    """The socket of the daemon for this installation in ``fs_dir``, if there is one."""
    path = fs_dir / (identity.digest(launcher_key()) + ".sock")
    return path if path.exists() else None


def wait_for_daemon(fs_dir: Path, other_than: int | None = None) -> int:
    """Wait until a daemon (not ``other_than``) answers on ``fs_dir``'s socket; its pid."""
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while time.monotonic() < deadline:
        path = daemon_socket(fs_dir)
        if path is not None:
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(path))
                except OSError:
                    pass
                else:
                    pid, _ = wire.peer_ids(probe)
                    if pid != other_than:
                        return pid
        time.sleep(0.02)
    raise AssertionError(f"no daemon came up in {fs_dir} within {DAEMON_START_TIMEOUT} s")


FIRST_LAUNCH_TOKEN = "token-of-the-launch-that-started-the-daemon"


def start_daemon(launcher: str, fs_dir: Path) -> int:
    """The first launch finds no daemon, takes the ordinary path and starts one; its pid.

    That launch has an access token in its environment, which the daemon must not inherit.
    """
    with PluginProcess([launcher], plugin_env(fs_dir, PULUMI_ACCESS_TOKEN=FIRST_LAUNCH_TOKEN)) as plugin:
        assert plugin.shutdown() == 0
        assert_not_served(plugin, "started one")
    return wait_for_daemon(fs_dir)


def trace_text(plugin: PluginProcess, wanted: str) -> str:
    """stderr once ``wanted`` shows up in it (it is drained by a thread), or as it is after 2 s."""
    deadline = time.monotonic() + 2
    while wanted not in plugin.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    return plugin.stderr_text()


def served_by(plugin: PluginProcess) -> tuple[int, int]:
    """(daemon pid, provider pid) from the launcher's trace line; fails if it was not served."""
    match = SERVED.search(trace_text(plugin, "served by"))
    assert match, f"not served by the fork-server; stderr:\n{plugin.stderr_text()}"
    return int(match[1]), int(match[2])


def assert_not_served(plugin: PluginProcess, reason: str) -> None:
    text = trace_text(plugin, reason)
    assert SERVED.search(text) is None, text
    assert reason in text, text


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not is_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def schema_attributes(plugin: PluginProcess) -> list[str]:
    response = pb_grpc.ProviderStub(plugin.channel).GetProviderSchema(
        pb.GetProviderSchema.Request(), timeout=10
    )
    return [attribute.name for attribute in response.provider.block.attributes]


@pytest.fixture(scope="module")
def warm(launcher: str, shared_dir: Path) -> int:
    """A daemon shared by the tests that only need one; its pid."""
    return start_daemon(launcher, shared_dir)


# --- served launches ------------------------------------------------------------------------


def test_a_warm_launch_is_forked_by_the_daemon_and_serves_terraform(
    launcher: str, shared_dir: Path, warm: int, tmp_path: Path
) -> None:
    # Started the way Terraform starts it, from a configuration directory, with the user's umask.
    argv = ["/bin/sh", "-c", 'umask 027 && exec "$0"', launcher]
    with PluginProcess(argv, plugin_env(shared_dir), tls=True, cwd=str(tmp_path)) as plugin:
        daemon, provider = served_by(plugin)
        assert daemon == warm
        assert provider != plugin.proc.pid
        assert parent_of(provider) == daemon  # a fork of the daemon, not a child of the launcher
        assert os.readlink(f"/proc/{provider}/cwd") == str(tmp_path)
        assert "Umask:\t0027" in Path(f"/proc/{provider}/status").read_text()
        assert "access_token" in schema_attributes(plugin)
        assert plugin.shutdown() == 0  # the launcher exits with the child's status
        assert wait_gone(provider, 2)
        assert plugin.stdout_after_handshake() == ""
        assert "Traceback" not in plugin.stderr_text()


def test_the_childs_exit_status_and_stderr_come_back_through_the_launcher(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    # The provider refuses a client without protocol 6: it says why on stderr and exits 1.
    result = subprocess.run(
        [launcher], env=plugin_env(shared_dir, PLUGIN_PROTOCOL_VERSIONS="5"), capture_output=True, timeout=20
    )
    stderr = result.stderr.decode()
    assert SERVED.search(stderr), stderr
    assert result.returncode == 1
    assert "speaks Terraform plugin protocol 6 only" in stderr
    assert result.stdout == b""


def test_concurrent_launches_each_get_only_their_own_environment(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    """Three providers forked from one daemon at once, configured from the environment alone:
    only the one whose launcher had the emulator's token can read from it."""
    resource_type = ORGTOKEN_SCHEMA.value_type()
    prior = {name: None for name in resource_type.attributes}
    with Emulator(access_token="token-of-launch-a") as emulator:
        prior.update(name="ci", org_name=emulator.org, token_id="no-such-token")
        envs = {
            "a": plugin_env(
                shared_dir, PULUMI_ACCESS_TOKEN="token-of-launch-a", PULUMI_BACKEND_URL=emulator.url
            ),
            "b": plugin_env(
                shared_dir, PULUMI_ACCESS_TOKEN="token-of-launch-b", PULUMI_BACKEND_URL=emulator.url
            ),
            "none": plugin_env(shared_dir, PULUMI_BACKEND_URL=emulator.url),
        }
        with contextlib.ExitStack() as stack:
            plugins = {
                name: stack.enter_context(PluginProcess([launcher], env)) for name, env in envs.items()
            }
            providers = {name: served_by(plugin)[1] for name, plugin in plugins.items()}
            assert len(set(providers.values())) == 3
            assert all(not is_gone(pid) for pid in providers.values())  # all alive at once

            def read(plugin: PluginProcess) -> list[str]:
                stub = pb_grpc.ProviderStub(plugin.channel)
                provider_type = PROVIDER_SCHEMA.value_type()
                config = encode_msgpack({name: None for name in provider_type.attributes}, provider_type)
                configured = stub.ConfigureProvider(
                    pb.ConfigureProvider.Request(
                        terraform_version="1.15.5", config=pb.DynamicValue(msgpack=config)
                    ),
                    timeout=10,
                )
                assert not configured.diagnostics
                response = stub.ReadResource(
                    pb.ReadResource.Request(
                        type_name="pulumiservice_api_tokens_orgtoken",
                        current_state=pb.DynamicValue(msgpack=encode_msgpack(prior, resource_type)),
                    ),
                    timeout=20,
                )
                return [
                    f"{d.summary}: {d.detail}"
                    for d in response.diagnostics
                    if d.severity == pb.Diagnostic.ERROR
                ]

            results: dict[str, Any] = {}

            def read_into_results(name: str, plugin: PluginProcess) -> None:
                try:
                    results[name] = read(plugin)
                except BaseException as exc:
                    results[name] = exc

            threads = [
                threading.Thread(target=read_into_results, args=(name, plugin))
                for name, plugin in plugins.items()
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            for plugin in plugins.values():
                assert plugin.shutdown() == 0
    assert results["a"] == [], results  # the token was right: the read reached the emulator
    assert any("not valid" in error for error in results["b"]), results
    assert any("Missing Pulumi Cloud access token" in error for error in results["none"]), results


def test_the_daemon_holds_no_credentials_of_the_launch_that_started_it(shared_dir: Path, warm: int) -> None:
    environ = Path(f"/proc/{warm}/environ").read_bytes().split(b"\0")
    assert not [item for item in environ if item.startswith((b"PULUMI_", b"TF_", b"PLUGIN_"))]
    assert FIRST_LAUNCH_TOKEN.encode() not in Path(f"/proc/{warm}/environ").read_bytes()
    assert any(item.startswith(b"PATH=") for item in environ)


def test_the_daemon_is_single_threaded_while_it_forks_and_serves(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    with (
        PluginProcess([launcher], plugin_env(shared_dir)) as first,
        PluginProcess([launcher], plugin_env(shared_dir)) as second,
    ):
        served_by(first)
        served_by(second)
        assert len(os.listdir(f"/proc/{warm}/task")) == 1
        assert first.shutdown() == 0
        assert second.shutdown() == 0
    assert len(os.listdir(f"/proc/{warm}/task")) == 1


def test_warming_up_imports_the_provider_without_starting_a_thread() -> None:
    code = (
        "import sys\n"
        "from tfprovider.forkserver.warm import warm_up\n"
        "from tfprovider.forkserver.daemon import thread_count\n"
        "warm_up()\n"
        "assert 'grpc' in sys.modules and 'tfprovider.server' in sys.modules\n"
        "print(thread_count())\n"
    )
    result = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    # ...and the count it relies on does see threads.
    event = threading.Event()
    thread = threading.Thread(target=event.wait)
    thread.start()
    try:
        assert thread_count() >= 2
    finally:
        event.set()
        thread.join()


# --- signals and the launcher's death --------------------------------------------------------


def test_sigterm_to_the_launcher_stops_the_provider_in_order(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir)) as plugin:
        _, provider = served_by(plugin)
        socket_dir = Path(plugin.handshake.address).parent
        plugin.proc.send_signal(signal.SIGTERM)
        assert plugin.wait(5) == 0  # the provider's own SIGTERM handling, relayed back
        assert wait_gone(provider, 2)
        assert not socket_dir.exists()  # it cleaned up, as it does when signalled directly


def test_sighup_ends_the_provider_and_the_launcher_dies_the_same_way(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir)) as plugin:
        _, provider = served_by(plugin)
        plugin.proc.send_signal(signal.SIGHUP)
        assert plugin.wait(5) == -signal.SIGHUP
        assert wait_gone(provider, 2)


def test_sigint_leaves_the_provider_serving_like_the_ordinary_one(
    launcher: str, shared_dir: Path, warm: int
) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir)) as plugin:
        _, provider = served_by(plugin)
        plugin.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert plugin.proc.poll() is None and not is_gone(provider)
        assert "access_token" in schema_attributes(plugin)
        assert plugin.shutdown() == 0


def test_a_killed_launcher_takes_its_provider_with_it(launcher: str, shared_dir: Path, warm: int) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir)) as plugin:
        _, provider = served_by(plugin)
        plugin.proc.kill()
        plugin.wait(5)
        assert wait_gone(provider, 3), "the forked provider outlived its launcher"


# --- falling back to the ordinary start-up ----------------------------------------------------


def test_a_killed_daemon_leaves_a_stale_socket_that_is_replaced(launcher: str, fs_dir: Path) -> None:
    first = start_daemon(launcher, fs_dir)
    os.kill(first, signal.SIGKILL)
    assert wait_gone(first, 5)
    assert daemon_socket(fs_dir) is not None  # left behind
    with PluginProcess([launcher], plugin_env(fs_dir)) as plugin:
        assert_not_served(plugin, "no daemon answered")
        assert plugin.shutdown() == 0  # served the ordinary way
    second = wait_for_daemon(fs_dir, other_than=first)
    with PluginProcess([launcher], plugin_env(fs_dir)) as plugin:
        assert served_by(plugin)[0] == second
        assert plugin.shutdown() == 0


def test_daemons_are_not_started_again_and_again(launcher: str, fs_dir: Path) -> None:
    """A start under way (or one that failed) holds further starts back for a while."""
    fs_dir.mkdir(mode=0o700)
    marker = fs_dir / (identity.digest(launcher_key()) + ".starting")
    marker.touch()
    with PluginProcess([launcher], plugin_env(fs_dir)) as plugin:
        assert_not_served(plugin, "is not answering yet")
        assert plugin.shutdown() == 0
    assert processes_for(fs_dir) == []
    os.utime(marker, (time.time() - 60, time.time() - 60))  # long ago: try again
    with PluginProcess([launcher], plugin_env(fs_dir)) as plugin:
        assert_not_served(plugin, "started one")
        assert plugin.shutdown() == 0
    wait_for_daemon(fs_dir)
    assert not marker.exists()  # the daemon removed it once it listened


def test_a_daemon_for_another_installation_is_not_used(
    launcher: str, shared_dir: Path, warm: int, tmp_path: Path
) -> None:
    # Another import path is another installation: another key, another socket.
    python_path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(tmp_path)]))
    with PluginProcess([launcher], plugin_env(shared_dir, PYTHONPATH=python_path)) as plugin:
        assert_not_served(plugin, "no daemon answered")
        assert plugin.shutdown() == 0


def test_a_request_with_another_installation_key_is_refused(shared_dir: Path, warm: int) -> None:
    reply, stdout = raw_launch(shared_dir, key=b"some other installation")
    assert reply == (wire.REFUSED, wire.REASON_WRONG_INSTALLATION)
    assert stdout == b""


def test_a_child_never_released_with_go_exits_without_writing(shared_dir: Path, warm: int) -> None:
    """The commit protocol: a launcher that gives up before "go" can still start the ordinary
    way, because the child has not written anything and exits quietly."""
    (kind, pid), stdout = raw_launch(shared_dir, key=launcher_key())
    assert kind == wire.STARTED
    assert stdout == b""
    assert wait_gone(pid, 3)


@pytest.mark.parametrize("how", ["other owner", "mode 0777", "symlink"])
def test_a_socket_directory_that_is_not_private_is_refused(launcher: str, fs_dir: Path, how: str) -> None:
    if how == "other owner":
        if os.geteuid() != 0:
            pytest.skip("making a directory owned by another user needs root")
        fs_dir.mkdir(mode=0o700)
        os.chown(fs_dir, 65534, 65534)
        reason = "is owned by uid 65534"
    elif how == "mode 0777":
        fs_dir.mkdir()
        fs_dir.chmod(0o777)
        reason = "is open to other users (mode 777"
    else:
        real = fs_dir.with_name("real")
        real.mkdir(mode=0o700)
        fs_dir.symlink_to(real)
        reason = "is not a directory"
    with PluginProcess([launcher], plugin_env(fs_dir)) as plugin:
        assert_not_served(plugin, reason)
        assert plugin.shutdown() == 0
    assert list(Path(os.path.realpath(fs_dir)).iterdir()) == []  # nothing created there
    assert processes_for(fs_dir.parent) == []  # and no daemon started for it


@pytest.mark.parametrize(
    ("extra", "trace"),
    # An empty switch counts as unset.
    [
        ({"CI": "true", "PULUMISERVICE_FORKSERVER": ""}, "off: CI is set"),
        ({"PULUMISERVICE_FORKSERVER": "0"}, None),
    ],
    ids=["CI", "switched-off"],
)
def test_ci_and_the_switch_turn_it_off(
    launcher: str, shared_dir: Path, warm: int, extra: dict[str, str], trace: str | None
) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir, **extra)) as plugin:
        assert plugin.shutdown() == 0
    text = plugin.stderr_text()  # complete: the readers are joined when the process is closed
    assert SERVED.search(text) is None
    if trace is None:
        assert "fork-server" not in text  # explicitly off: not a word
    else:
        assert trace in text


def test_ci_with_the_switch_on_uses_it(launcher: str, shared_dir: Path, warm: int) -> None:
    with PluginProcess([launcher], plugin_env(shared_dir, CI="true", PULUMISERVICE_FORKSERVER="1")) as plugin:
        assert served_by(plugin)[0] == warm
        assert plugin.shutdown() == 0


def test_a_person_running_the_provider_gets_the_explanation_and_no_daemon(
    launcher: str, fs_dir: Path
) -> None:
    env = plugin_env(fs_dir)
    del env["TF_PLUGIN_MAGIC_COOKIE"]
    result = subprocess.run([launcher], env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert "is a Terraform plugin" in result.stderr
    assert "fork-server" not in result.stderr
    assert not fs_dir.exists()


def test_an_idle_daemon_exits_and_removes_its_socket(launcher: str, fs_dir: Path) -> None:
    with PluginProcess([launcher], plugin_env(fs_dir, PULUMISERVICE_FORKSERVER_IDLE="1")) as plugin:
        assert plugin.shutdown() == 0
    daemon = wait_for_daemon(fs_dir)
    assert wait_gone(daemon, 10)
    assert daemon_socket(fs_dir) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another uid needs root")
def test_the_daemon_ignores_connections_from_another_uid(shared_dir: Path, warm: int) -> None:
    path = daemon_socket(shared_dir)
    assert path is not None
    # Open the outer barriers (the directories' modes and the socket's) for the test, to reach the
    # daemon's own check of the peer's uid.
    for directory in (shared_dir.parent, shared_dir):
        directory.chmod(0o711)
    path.chmod(0o666)
    result_read, result_write = os.pipe()
    conn = socket.socket(socket.AF_UNIX)
    try:
        pid = os.fork()
        if pid == 0:  # only system calls here: this process has gRPC threads we must not need
            try:
                os.setgid(65534)
                os.setuid(65534)
                conn.settimeout(5)
                conn.connect(str(path))
                # Without the uid check the daemon would wait for a request, time out after a
                # second and answer "refused"; with it, the connection closes at once, unanswered.
                os.write(result_write, b"answer:" + conn.recv(64))
            except OSError as exc:
                os.write(result_write, f"failed: {exc}".encode())
            finally:
                os._exit(0)
        os.close(result_write)
        os.waitpid(pid, 0)
        with os.fdopen(result_read, "rb") as result:
            answer = result.read()
    finally:
        conn.close()
        for directory in (shared_dir.parent, shared_dir):
            directory.chmod(0o700)
        path.chmod(0o600)
    assert answer == b"answer:", answer  # connected, then closed without a word


# --- small pieces ------------------------------------------------------------------------------


def test_the_launcher_path_imports_no_grpc_and_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import tfprovider.forkserver\n"
        "print(' '.join(set(sys.modules) - before))\n"
    )
    result = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=30)
    loaded = set(result.stdout.split())
    heavy = {"grpc", "google.protobuf", "json", "hashlib", "socket", "selectors", "typing", "dataclasses"}
    assert loaded & heavy == set(), loaded


def test_on_off_decision() -> None:
    linux = sys.platform.startswith("linux")
    assert (settings.disabled_reason({}) is None) is linux
    assert settings.disabled_reason({"PULUMISERVICE_FORKSERVER": "0"}) == "PULUMISERVICE_FORKSERVER=0"
    assert settings.disabled_reason({"PULUMISERVICE_FORKSERVER": "0", "CI": "1"}) is not None
    assert "CI is set" in (settings.disabled_reason({"CI": "true"}) or "")
    assert (settings.disabled_reason({"CI": "true", "PULUMISERVICE_FORKSERVER": "1"}) is None) is linux
    assert (settings.disabled_reason({"CI": ""}) is None) is linux


def test_socket_directory_choice() -> None:
    uid = os.geteuid()
    assert settings.socket_directory({"PULUMISERVICE_FORKSERVER_DIR": "/x/y"}) == "/x/y"
    assert (
        settings.socket_directory({"XDG_RUNTIME_DIR": "/run/user/7"})
        == "/run/user/7/tfprovider-pulumiservice"
    )
    assert settings.socket_directory({"TMPDIR": "/var/tmp"}) == f"/var/tmp/tfprovider-pulumiservice-{uid}"
    assert (
        settings.socket_directory({"XDG_RUNTIME_DIR": "relative"}) == f"/tmp/tfprovider-pulumiservice-{uid}"
    )
    assert settings.idle_seconds({}) == 300
    assert settings.idle_seconds({"PULUMISERVICE_FORKSERVER_IDLE": "2.5"}) == 2.5
    assert settings.idle_seconds({"PULUMISERVICE_FORKSERVER_IDLE": "soon"}) == 300


def test_the_installation_key_follows_version_and_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "tfprovider"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(tfprovider, "__file__", str(package / "__init__.py"))
    key = identity.installation_key()
    assert identity.installation_key() == key  # stable
    monkeypatch.setattr(tfprovider, "__version__", "9.9.9")
    assert identity.installation_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(tfprovider, "__file__", str(package / "__init__.py"))
    os.utime(package / "sub" / "module.py", ns=(1, 1))
    changed = identity.installation_key()
    assert changed != key
    assert re.fullmatch(r"[0-9a-f]{32}", identity.digest(changed))
    assert identity.digest(changed) != identity.digest(key)


def test_launch_requests_round_trip_exactly() -> None:
    request = wire.LaunchRequest(
        key=b"k\nk",
        cwd=b"/w\xff",
        umask=0o027,
        ignored_signals=[1, 2],
        argv=[b"/p", b"", b"a=b"],
        environ=[(b"A", b""), (b"B", b"x=y"), (b"NOT_UTF8", b"\xc3\x28")],
    )
    encoded = request.encode()
    decoded = wire.LaunchRequest.decode(encoded[4:])
    assert (decoded.key, decoded.cwd, decoded.umask) == (b"k\nk", b"/w\xff", 0o027)
    assert decoded.ignored_signals == (1, 2)
    assert decoded.argv == (b"/p", b"", b"a=b")
    assert decoded.environ == request.environ
    for broken in (b"", encoded[4:-1], b"\x00\x00\x00\x03abc" + encoded[4 + 4 + len(wire.MAGIC) :]):
        with pytest.raises(wire.ProtocolError):
            wire.LaunchRequest.decode(broken)


# --- talking to a daemon directly ----------------------------------------------------------------


@functools.cache
def launcher_key() -> bytes:
    """The key as the installed launcher computes it (its interpreter flags and import path)."""
    code = (
        "import sys\n"
        "from tfprovider.forkserver import identity\n"
        "sys.stdout.buffer.write(identity.installation_key())\n"
    )
    return subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, check=True, timeout=30
    ).stdout


def raw_launch(fs_dir: Path, *, key: bytes) -> tuple[tuple[int, int], bytes]:
    """Send one launch request by hand, as a launcher that then gives up before "go" (stdout is a
    pipe we read): the daemon's first answer and everything written to that stdout."""
    path = daemon_socket(fs_dir)
    assert path is not None
    out_read, out_write = os.pipe()
    ours, theirs = socket.socketpair()
    null = os.open(os.devnull, os.O_RDWR)
    env = [(b"TF_PLUGIN_MAGIC_COOKIE", COOKIE.encode()), (b"PLUGIN_PROTOCOL_VERSIONS", b"6")]
    request = wire.LaunchRequest(key, b"/", 0o022, [], [b"terraform-provider-pulumiservice"], env)
    with socket.socket(socket.AF_UNIX) as conn, ours:
        conn.settimeout(10)
        conn.connect(str(path))
        wire.send_request(conn, request, [null, out_write, null, theirs.fileno()])
        for fd in (out_write, null):
            os.close(fd)
        theirs.close()
        reply = wire.unpack_message(wire.receive_exactly(conn, wire.MESSAGE_SIZE))
        if reply[0] == wire.STARTED:
            ours.settimeout(10)
            assert ours.recv(1) == wire.CHILD_READY
        ours.close()
        if reply[0] == wire.STARTED:
            assert wire.unpack_message(wire.receive_exactly(conn, wire.MESSAGE_SIZE)) == (wire.EXITED, 0)
    with os.fdopen(out_read, "rb") as stdout:
        return reply, stdout.read()
