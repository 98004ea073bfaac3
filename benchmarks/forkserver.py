"""Exec-to-handshake time of the installed provider launcher: warm (fork-server) against cold.

    .venv/bin/python benchmarks/forkserver.py [--launches 20]

Launches the executable the installer writes, with Terraform's go-plugin environment and a client
certificate (so the provider serves TLS, as under Terraform), and times from ``exec`` to the
handshake line on stdout; each launch is then shut down with ``GRPCController/Shutdown``. Cold
launches run with ``PULUMISERVICE_FORKSERVER=0``, warm ones against a daemon in a private
directory made for the run (stopped at the end); the two kinds alternate so that a change in
machine load affects both alike.

Then where a warm launch's time goes, measured separately:
- the interpreter alone (``python -P -c pass``), the floor of any launch;
- the launcher up to the hand-over (interpreter, ``tfprovider.cli`` and the fork-server imports,
  the installation key);
- in a warm daemon-like process: ``fork()`` to the child's handshake line (the provider's own
  start: gRPC server, certificate, socket), with no launcher involved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.plugin_client import PluginProcess  # noqa: E402
from support.provider_install import install_provider  # noqa: E402

from tfprovider.forkserver import wire  # noqa: E402

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
TARGET_WARM_MS = 50.0

_CHILD_START = """
import os, statistics, sys, threading, time
from tfprovider.forkserver.warm import warm_up
serve = warm_up()
os.environ.update(TF_PLUGIN_MAGIC_COOKIE=sys.argv[1], PLUGIN_PROTOCOL_VERSIONS="6")
os.environ.update(PLUGIN_CLIENT_CERT="offered")
samples = []
for _ in range(int(sys.argv[2])):
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 1)
        threading.Timer(0.2, os.kill, (os.getpid(), 15)).start()
        os._exit(serve())
    os.close(write_end)
    os.read(read_end, 1)
    samples.append(time.perf_counter() - started)
    os.waitpid(pid, 0)
    os.close(read_end)
print(statistics.median(samples) * 1000)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--launches", type=int, default=20, help="launches of each kind (default 20)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tfpfs-bench-", dir="/tmp"))
    try:
        launcher = str(install_provider(work / "plugins").launchers[0])
        fs_dir = work / "fs"
        daemon = start_daemon(launcher, fs_dir)
        try:
            cold, warm = compare(launcher, fs_dir, args.launches)
        finally:
            os.kill(daemon, signal.SIGTERM)
        floor = median_ms(lambda: run([sys.executable, "-P", "-c", "pass"]), args.launches)
        handover = median_ms(lambda: run([sys.executable, "-P", "-c", _HANDOVER]), args.launches)
        child = float(run([sys.executable, "-P", "-c", _CHILD_START, COOKIE, str(args.launches)]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    machine = f"{os.cpu_count()} CPUs, load {load:.2f}"
    print(f"exec -> handshake, median of {args.launches} TLS launches each ({machine})")
    print(f"  cold (PULUMISERVICE_FORKSERVER=0)   {cold:7.1f} ms")
    print(f"  warm (fork-server)                  {warm:7.1f} ms   target <= {TARGET_WARM_MS:.0f} ms")
    print(f"  speed-up                            {cold / warm:7.1f} x")
    print("where a warm launch's time goes (medians, measured separately)")
    print(f"  interpreter alone (python -P -c pass)             {floor:6.1f} ms")
    print(f"  launcher to hand-over (imports + installation key) {handover:6.1f} ms")
    print(f"  fork() to handshake in a warm process              {child:6.1f} ms")
    return 0


_HANDOVER = (
    "import tfprovider.cli, tfprovider.forkserver\n"
    "from tfprovider.forkserver import identity\n"
    "identity.digest(identity.installation_key())\n"
)


def env_for(fs_dir: Path, *, forkserver: bool) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "PLUGIN_", "PULUMI_", "PULUMISERVICE_")) and key != "CI"
    }
    env.update(
        TF_PLUGIN_MAGIC_COOKIE=COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="6",
        PULUMISERVICE_FORKSERVER="1" if forkserver else "0",
        PULUMISERVICE_FORKSERVER_DIR=str(fs_dir),
    )
    return env


def launch_ms(launcher: str, env: dict[str, str]) -> tuple[float, str]:
    """One launch: exec-to-handshake in ms, and its stderr."""
    with PluginProcess([launcher], env, tls=True) as plugin:
        seconds = plugin.handshake_seconds
        if plugin.shutdown() != 0:
            raise SystemExit(f"a launch did not exit 0:\n{plugin.stderr_text()}")
    return seconds * 1000, plugin.stderr_text()


def start_daemon(launcher: str, fs_dir: Path) -> int:
    """Prime: one launch starts the daemon; wait until it answers; its pid."""
    launch_ms(launcher, env_for(fs_dir, forkserver=True))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in fs_dir.glob("*.sock") if fs_dir.is_dir() else ():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(path))
                except OSError:
                    continue
                return wire.peer_ids(probe)[0]
        time.sleep(0.05)
    raise SystemExit("the fork-server daemon did not come up")


def compare(launcher: str, fs_dir: Path, launches: int) -> tuple[float, float]:
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(launches):
        cold.append(launch_ms(launcher, env_for(fs_dir, forkserver=False))[0])
        elapsed, stderr = launch_ms(launcher, env_for(fs_dir, forkserver=True))
        if "served by daemon" not in stderr:
            raise SystemExit(f"a warm launch was not served by the fork-server:\n{stderr}")
        warm.append(elapsed)
    return statistics.median(cold), statistics.median(warm)


def run(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def median_ms(action: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
