"""Cold-start cost of one provider launch, as Terraform pays it 3-5 times per command.

    .venv/bin/python benchmarks/handshake.py [-n 30] [--import-runs 5] [--source DIR] [--baseline DIR]

Installs the real launcher (``tfprovider.installer.install``, through
``tests/support/provider_install.py``) into a temporary mirror and execs it N times with TLS
(``PLUGIN_CLIENT_CERT`` set, as every Terraform since 1.0 does) and N times plaintext, alternating,
with Terraform's launch environment. For each launch it measures:

- handshake: exec until the handshake line is read from stdout (what go-plugin waits for);
- schema: exec until a ``GetProviderSchema`` answer arrives over the pinned connection (the first
  thing Terraform asks; includes loading the provider code after the handshake);
- exit: from the ``Shutdown`` answer until the process is gone.

Then it runs the launcher under ``python -X importtime`` a few times and prints the fifteen
packages whose imports cost the most *before the handshake* (median self time, imports grouped
by top-level package; ``tfprovider`` modules one by one), and the import time after it.

``--source DIR`` runs another checkout's ``tfprovider`` (put first on ``PYTHONPATH``) with this
venv; ``--baseline DIR`` measures one alongside this one, launches interleaved so both see the
same machine load, e.g. after ``git archive HEAD tfprovider | tar -x -C /tmp/base``.
Timings only; nothing here asserts. Noisy machines need a larger ``-n``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import grpc  # noqa: E402
from support.provider_install import install_provider  # noqa: E402

from tfprovider.plugin.launch import MAGIC_COOKIE_VALUE  # noqa: E402
from tfprovider.plugin.tls import make_server_certificate  # noqa: E402
from tfprovider.protocol import go_plugin_pb2, go_plugin_pb2_grpc, tfplugin6_pb2, tfplugin6_pb2_grpc  # noqa: E402

HANDSHAKE_MARKER = "---- handshake ----"
# Loaded through PYTHONPATH in the import-time runs only: marks on stderr the moment the first
# stdout write (the handshake line) happens, so imports before and after it can be told apart.
SITECUSTOMIZE = textwrap.dedent(
    f"""
    import sys

    class _MarkFirstWrite:
        def __init__(self, stream):
            self._stream = stream
            self._marked = False

        def write(self, text):
            if not self._marked:
                self._marked = True
                sys.stderr.write({HANDSHAKE_MARKER!r} + "\\n")
                sys.stderr.flush()
            return self._stream.write(text)

        def __getattr__(self, name):
            return getattr(self._stream, name)

    sys.stdout = _MarkFirstWrite(sys.stdout)
    """
)


class Launch:
    """One provider process: its handshake and a client connected as Terraform connects."""

    def __init__(self, launcher: Path, env: Mapping[str, str], *, capture_stderr: bool = False) -> None:
        self.stderr_lines: list[str] = []
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(launcher)],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture_stderr else None,
        )
        assert self.process.stdout is not None
        self._stderr_reader = None
        if capture_stderr:
            stderr = self.process.stderr
            assert stderr is not None
            self._stderr_reader = threading.Thread(
                target=lambda: self.stderr_lines.extend(line.decode().rstrip("\n") for line in stderr),
                daemon=True,
            )
            self._stderr_reader.start()
        line = self.process.stdout.readline().decode().rstrip("\n")
        self.handshake_ms = (time.perf_counter() - self.started) * 1000
        fields = line.split("|")
        if len(fields) != 6:
            self.process.kill()
            raise SystemExit(f"not a handshake line: {line!r}")
        self.channel = _dial(fields[3], fields[5])

    def schema_ms(self) -> float:
        stub = tfplugin6_pb2_grpc.ProviderStub(self.channel)
        stub.GetProviderSchema(tfplugin6_pb2.GetProviderSchema.Request(), timeout=30)
        return (time.perf_counter() - self.started) * 1000

    def shutdown_ms(self) -> float:
        go_plugin_pb2_grpc.GRPCControllerStub(self.channel).Shutdown(go_plugin_pb2.Empty(), timeout=10)
        answered = time.perf_counter()
        self.process.wait(timeout=10)
        exited = time.perf_counter()
        self.channel.close()
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=10)
        return (exited - answered) * 1000


def _dial(socket_path: str, cert_field: str) -> grpc.Channel:
    import base64

    if not cert_field:
        return grpc.insecure_channel(f"unix:{socket_path}")
    der = base64.b64decode(cert_field + "=" * (-len(cert_field) % 4))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    credentials = grpc.ssl_channel_credentials(root_certificates=pem)
    options = [("grpc.ssl_target_name_override", "localhost")]
    return grpc.secure_channel(f"unix:{socket_path}", credentials, options=options)


def launch_environment(tls: bool, client_cert_pem: str, source: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    env.update(TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS="5,6")
    env["PULUMISERVICE_FORKSERVER"] = "0"  # the cold path; benchmarks/forkserver.py measures warm
    if tls:
        env["PLUGIN_CLIENT_CERT"] = client_cert_pem
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


Results = dict[str, dict[str, list[float]]]  # row ("TLS", "baseline plaintext", ...) -> column -> ms


def measure(launcher: Path, runs: int, client_cert_pem: str, sources: Mapping[str, Path | None]) -> Results:
    """``runs`` launches per source and mode, interleaved so that every row sees the same noise."""
    environments = {
        f"{label} {mode}".strip(): launch_environment(mode == "TLS", client_cert_pem, source)
        for label, source in sources.items()
        for mode in ("TLS", "plaintext")
    }
    results: Results = {row: {"handshake": [], "schema": [], "exit": []} for row in environments}
    for _ in range(runs):
        for row, env in environments.items():
            launch = Launch(launcher, env)
            results[row]["handshake"].append(launch.handshake_ms)
            results[row]["schema"].append(launch.schema_ms())
            results[row]["exit"].append(launch.shutdown_ms())
    return results


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_timings(results: Results, runs: int) -> None:
    width = max(len(row) for row in results)
    print(f"\nexec-to-X in ms over {runs} launches each (median / p90)")
    print(f"{'':<{width}} {'handshake':>17} {'GetProviderSchema':>19} {'exit after Shutdown':>21}")
    for row, columns in results.items():
        cells = [
            f"{statistics.median(columns[name]):7.1f} / {percentile(columns[name], 0.9):6.1f}"
            for name in ("handshake", "schema", "exit")
        ]
        print(f"{row:<{width}} {cells[0]:>17} {cells[1]:>19} {cells[2]:>21}")


def import_breakdown(launcher: Path, client_cert_pem: str, source: Path | None, runs: int) -> None:
    """Median self time per package before the handshake, over ``runs`` TLS launches."""
    before: dict[str, list[float]] = defaultdict(list)
    totals_before: list[float] = []
    totals_after: list[float] = []
    with tempfile.TemporaryDirectory() as hook_dir:
        Path(hook_dir, "sitecustomize.py").write_text(SITECUSTOMIZE)
        env = launch_environment(True, client_cert_pem, source)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), hook_dir]))
        env["PYTHONPROFILEIMPORTTIME"] = "1"
        for _ in range(runs):
            stderr_lines = _stderr_of_one_launch(launcher, env)
            if HANDSHAKE_MARKER not in stderr_lines:
                raise SystemExit(
                    "the import-time run printed no handshake marker:\n" + "\n".join(stderr_lines)
                )
            cut = stderr_lines.index(HANDSHAKE_MARKER)
            groups: dict[str, float] = defaultdict(float)
            for name, self_us in _import_times(stderr_lines[:cut]):
                if name == "sitecustomize":  # the measuring hook itself
                    continue
                groups[_group(name)] += self_us / 1000
            for group, ms in groups.items():
                before[group].append(ms)
            totals_before.append(sum(groups.values()))
            totals_after.append(sum(us for _, us in _import_times(stderr_lines[cut:])) / 1000)
    medians = {
        group: statistics.median(values + [0.0] * (runs - len(values))) for group, values in before.items()
    }
    print(f"\nimports before the handshake (python -X importtime, TLS, median of {runs} runs; inflated by")
    print("the measuring itself): top 15 by self time")
    for group, ms in sorted(medians.items(), key=lambda item: -item[1])[:15]:
        print(f"  {ms:7.1f} ms  {group}")
    print(f"  {statistics.median(totals_before):7.1f} ms  all imports before the handshake")
    print(f"  {statistics.median(totals_after):7.1f} ms  imports after it (loaded in the background)")


def _stderr_of_one_launch(launcher: Path, env: Mapping[str, str]) -> list[str]:
    launch = Launch(launcher, env, capture_stderr=True)
    launch.schema_ms()  # so that the provider code has surely loaded
    launch.shutdown_ms()
    return launch.stderr_lines


def _import_times(lines: Sequence[str]) -> list[tuple[str, float]]:
    """(module, self microseconds) from ``-X importtime`` lines, skipping the header."""
    times = []
    for line in lines:
        if not line.startswith("import time:"):
            continue
        self_us, _cumulative, name = line[len("import time:") :].split("|", 2)
        if self_us.strip().isdigit():
            times.append((name.strip(), float(self_us)))
    return times


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[0] == "tfprovider" else parts[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="launches per row (default 30)")
    parser.add_argument("--import-runs", type=int, default=5, help="-X importtime launches (0 skips)")
    parser.add_argument("--source", type=Path, help="a checkout whose tfprovider to run instead of this one")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure alongside, interleaved")
    options = parser.parse_args(argv)
    source = options.source.resolve() if options.source else None
    sources: dict[str, Path | None] = {"": source}
    if options.baseline:
        sources = {"this": source, "baseline": options.baseline.resolve()}
    for root in sources.values():
        # PYTHONDONTWRITEBYTECODE may be set: launches must read byte-code, as after `make setup`.
        compileall.compile_dir(str((root or REPO_ROOT) / "tfprovider"), quiet=1)
    client_cert_pem = make_server_certificate().cert_pem.decode()
    with tempfile.TemporaryDirectory() as mirror:
        launcher = install_provider(Path(mirror)).launchers[0]
        print(f"launcher: {launcher.read_text().splitlines()[-1]}")
        for label, root in sources.items():
            print(f"tfprovider{' (' + label + ')' if label else ''} from: {root or REPO_ROOT}")
            Launch(launcher, launch_environment(True, client_cert_pem, root)).shutdown_ms()  # warm the caches
        print_timings(measure(launcher, options.runs, client_cert_pem, sources), options.runs)
        if options.import_runs:
            import_breakdown(launcher, client_cert_pem, source, options.import_runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
