"""``make bench``: how this provider's speed and cost compare with other providers, in one run.

Measured side by side on the same machine in the same run (medians over repetitions):

1. provider launch latency, exec to handshake line and to a working TLS connection, for this
   provider (cold, and warm through its fork server when it has one), a Go provider, the Go null
   provider, providers on the Python frameworks ``tf`` and ``pyvider``, and a bare
   grpcio + cryptography skeleton (a provider's start-up written the obvious way, doing nothing else);
2. Terraform 1.15.5 wall time of init, validate, plan, apply, plan again (refresh) and destroy for
   N organization tokens against the local emulator, beside the same for N Go ``null_resource``;
3. API requests per command, from the emulator's counters;
4. peak resident memory of the provider processes Terraform starts, and of Terraform itself;
5. apply throughput at several ``-parallelism`` values;
6. how each grows with N.

Prints the tables and writes them, with the machine they were measured on, to
``benchmarks/RESULTS.md`` (``--output`` to write elsewhere). ``--quick`` is a tiny run for the
smoke test; ``--no-peers`` skips everything that has to be fetched from PyPI.
"""

from __future__ import annotations

import os

# grpcio logs every refused TLS handshake (Go servers refuse grpcio's) unless told not to.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import argparse
import compileall
import importlib.util
import json
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
for _path in (BENCH_DIR, REPO_ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from harness import report  # noqa: E402
from harness.launches import ClientIdentity, Launcher, LaunchError, LaunchTiming, ProviderCommand  # noqa: E402
from harness.machine import Machine, load_average, now_utc  # noqa: E402
from harness.peers import PeerCache, Unavailable, plugin_dir_listing  # noqa: E402
from harness.report import Table  # noqa: E402
from harness.tfruns import (  # noqa: E402
    CommandFailed,
    Emulator,
    Measurement,
    Workspace,
    build_mirror,
    null_config,
    tokens_config,
    version_of,
)
from support.provider_install import install_provider  # noqa: E402

from tfprovider.installer import launcher_script, pointer_path  # noqa: E402

TOOLS = REPO_ROOT / ".tools"
TERRAFORM = TOOLS / "bin" / "terraform-1.15.5"
OLD_TERRAFORM = TOOLS / "bin" / "terraform-1.0.3"
CACHE = TOOLS / "bench"
DEFAULT_OUTPUT = BENCH_DIR / "RESULTS.md"
PROVIDERS_DIR = BENCH_DIR / "providers"

OURS_COLD = "ours, cold (python -m tfprovider)"
OURS_WARM = "ours, warm (fork server)"
RELEASE_COLD = "ours, release build, cold"
RELEASE_WARM = "ours, release build, warm (fork server)"
SKELETON = "bare grpcio + cryptography skeleton"
GO_WORKATO = "Go: workato provider 0.16.0"
GO_NULL = "Go: hashicorp/null 2.1.2 (protocol 5)"
TF_FRAMEWORK = "Python: tf 1.2.0 framework"
PYVIDER = "Python: pyvider 0.8.1 framework"

FORKSERVER_SWITCH = "PULUMISERVICE_FORKSERVER"
FORKSERVER_TRACE_USED = "fork-server: served by daemon"
# Longer than any gap between warm launches in a run; the run stops its daemons itself at the end,
# and this bounds how long one outlives a run that was killed.
FORKSERVER_IDLE_SECONDS = "600"

PHASES = ("init", "validate", "plan", "apply", "refresh", "destroy")
PHASE_NAMES = {
    "init": "init",
    "validate": "validate",
    "plan": "plan (all to create)",
    "apply": "apply (create all)",
    "refresh": "plan again (refresh all)",
    "destroy": "destroy (refresh, delete all)",
}
OURS = "ours"
OURS_WARM_KIND = "ours-warm"
RELEASE = "release"
RELEASE_WARM_KIND = "release-warm"
NULL = "null"
WARM_KINDS = (OURS_WARM_KIND, RELEASE_WARM_KIND)
RATIO_TARGET = 1.3
"""The release build against the venv launcher: handshake and one-token plan, at most 1.3x."""
DIST_TARGET_SECONDS = 180.0
"""`make dist` on this machine."""


@dataclass(frozen=True)
class RunSize:
    """How much a run measures; ``full`` is meant to stay under about 15 minutes on two cores."""

    name: str
    launches: int
    warmup_launches: int
    cycles: Mapping[int, int]
    """Terraform cycles of our provider (cold) per N."""
    warm_cycles: Mapping[int, int]
    """The same through the fork server, when there is one."""
    null_cycles: Mapping[int, int]
    """Cycles of the Go null provider per N."""
    release_cycles: Mapping[int, int]
    """Cycles of the release build (frozen executable from `make dist`), cold and warm alike."""
    throughput_size: int
    parallelisms: tuple[int, ...]
    throughput_repetitions: int = 1
    api_latencies_ms: tuple[int, ...] = (0, 50)
    """Throughput is measured with the emulator answering at once, and with a delay per request
    like a real service's round trip, where parallel requests pay off."""

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.cycles)

    @property
    def null_sizes(self) -> tuple[int, ...]:
        return tuple(self.null_cycles)


FULL = RunSize(
    name="full",
    launches=15,
    warmup_launches=2,
    cycles={1: 5, 100: 3, 1000: 1},
    warm_cycles={1: 5, 100: 1},
    null_cycles={1: 5, 100: 3, 1000: 1},
    release_cycles={1: 5},
    throughput_size=100,
    parallelisms=(1, 10, 50),
    throughput_repetitions=3,
)
QUICK = RunSize(
    name="quick",
    launches=3,
    warmup_launches=1,
    cycles={1: 1, 10: 1},
    warm_cycles={},
    null_cycles={1: 1},
    release_cycles={1: 1},
    throughput_size=10,
    parallelisms=(1, 10),
)

LaunchOutcome = list[LaunchTiming] | Unavailable | str


@dataclass
class Results:
    launches: dict[str, LaunchOutcome] = field(default_factory=dict)
    """Per provider row, in print order: its timings, why it is missing, or the error that stopped it."""
    cycles: dict[tuple[str, int], list[dict[str, Measurement]]] = field(default_factory=dict)
    throughput: dict[tuple[int, int], list[Measurement]] = field(default_factory=dict)
    """By (added API latency in ms, -parallelism)."""
    failures: list[str] = field(default_factory=list)
    """Failures of our own provider's measurements: the run exits non-zero when there are any."""
    notes: list[str] = field(default_factory=list)
    release: ReleaseBuild | None = None
    """The release build this run made (`make dist` into the scratch directory), if it succeeded."""
    launcher_overhead: tuple[float, float] | None = None
    """Median seconds from exec to the interpreter's exec: our launcher (pointer file), and a
    launcher with the interpreter's path written in."""


@dataclass(frozen=True)
class ReleaseBuild:
    """What `release/dist.py` built for this run, unpacked as Terraform unpacks it."""

    seconds: float
    archive_bytes: int
    executable: Path
    mirror: Path
    files: int


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- 1. Launch latency -----------------------------------------------------------------------------


def forkserver_env(scratch: Path, on: bool) -> dict[str, str]:
    """Our provider's fork-server switch; when on, a daemon private to this run that idles out soon."""
    if not on:
        return {FORKSERVER_SWITCH: "0"}
    return {
        FORKSERVER_SWITCH: "1",
        "PULUMISERVICE_FORKSERVER_DIR": str(scratch / "forkserver"),
        "PULUMISERVICE_FORKSERVER_IDLE": FORKSERVER_IDLE_SECONDS,
    }


def stop_forkserver_daemons(scratch: Path) -> int:
    """SIGTERM the fork-server daemons of this run (found by their sockets in its private
    directory, pid from the socket's peer credentials); how many were stopped."""
    stopped = 0
    for path in sorted((scratch / "forkserver").glob("*.sock")):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
                credentials = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            except OSError:
                continue
        pid, _uid, _gid = struct.unpack("3i", credentials)
        try:
            os.kill(pid, signal.SIGTERM)
            stopped += 1
        except ProcessLookupError:
            pass
    return stopped


def has_forkserver() -> bool:
    return importlib.util.find_spec("tfprovider.forkserver") is not None


def build_release(scratch: Path, results: Results) -> ReleaseBuild | None:
    """`make dist` into the scratch directory, timed; its zip unpacked as Terraform unpacks it."""
    progress("release build: release/dist.py (freeze, zip, mirrors)")
    out = scratch / "dist"
    command = [sys.executable, str(REPO_ROOT / "release" / "dist.py"), "--out", str(out)]
    command += ["--work", str(scratch / "dist-work")]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        results.failures.append(f"release build: {completed.stderr.strip()[-500:]}")
        return None
    info = json.loads((out / "build-info.json").read_text())
    archive = out / info["archive"]
    unpacked = scratch / "release-unpacked"
    with zipfile.ZipFile(archive) as opened:
        for member in opened.infolist():
            target = Path(opened.extract(member, unpacked))
            target.chmod((member.external_attr >> 16) & 0o777)
        files = len(opened.infolist())
    executable = unpacked / f"terraform-provider-pulumiservice_v{info['version']}"
    return ReleaseBuild(seconds, archive.stat().st_size, executable, out / "mirror", files)


def measure_launcher_overhead(scratch: Path, runs: int) -> tuple[float, float]:
    """What finding the interpreter through the pointer file costs a launch: our launcher and one
    with the path written in, both exec'ing ``/bin/true`` as the "interpreter", interleaved."""
    directory = scratch / "launcher-overhead"
    pointer = pointer_path(environ={"XDG_CONFIG_HOME": str(directory / "config")})
    pointer.parent.mkdir(parents=True)
    pointer.write_text("/bin/true\n")
    ours, written_in = directory / "ours", directory / "written-in"
    ours.write_text(launcher_script())
    written_in.write_text('#!/bin/sh\nexec /bin/true -P -c "code" "$@"\n')
    env = {k: v for k, v in os.environ.items() if k != "PULUMISERVICE_PYTHON"}
    env["XDG_CONFIG_HOME"] = str(directory / "config")
    samples: dict[Path, list[float]] = {ours: [], written_in: []}
    for script in samples:
        script.chmod(0o755)
    for _ in range(runs):
        for script, values in samples.items():
            started = time.perf_counter()
            subprocess.run([str(script)], env=env, check=True)
            values.append(time.perf_counter() - started)
    return statistics.median(samples[ours]), statistics.median(samples[written_in])


def launch_rows(
    cache: PeerCache | None, scratch: Path, release: ReleaseBuild | None
) -> dict[str, ProviderCommand | Unavailable]:
    """Every provider row of the launch table, in print order."""
    launcher = str(install_provider(scratch / "launch-plugins").launchers[0])
    missing = Unavailable("n/a (release build failed)")
    rows: dict[str, ProviderCommand | Unavailable] = {
        OURS_COLD: ProviderCommand(OURS_COLD, [launcher], forkserver_env(scratch, on=False)),
        OURS_WARM: (
            ProviderCommand(OURS_WARM, [launcher], forkserver_env(scratch, on=True))
            if has_forkserver()
            else Unavailable("n/a (not available)")
        ),
        RELEASE_COLD: (
            ProviderCommand(RELEASE_COLD, [str(release.executable)], forkserver_env(scratch, on=False))
            if release
            else missing
        ),
        RELEASE_WARM: (
            ProviderCommand(RELEASE_WARM, [str(release.executable)], forkserver_env(scratch, on=True))
            if release
            else missing
        ),
        SKELETON: ProviderCommand(SKELETON, [sys.executable, str(PROVIDERS_DIR / "skeleton_provider.py")]),
    }
    if cache is None:
        skipped = Unavailable("skipped (--no-peers)")
        rows.update({GO_WORKATO: skipped, GO_NULL: skipped, TF_FRAMEWORK: skipped, PYVIDER: skipped})
        return rows
    for label, obtain in ((GO_WORKATO, cache.workato_provider), (GO_NULL, cache.null_provider)):
        progress(f"obtaining {label}")
        binary = obtain()
        rows[label] = binary if isinstance(binary, Unavailable) else ProviderCommand(label, [str(binary)])
    frameworks: tuple[tuple[str, Callable[[], Path | Unavailable], str], ...] = (
        (TF_FRAMEWORK, cache.tf_python, "tf_provider.py"),
        (PYVIDER, cache.pyvider_python, "pyvider_provider.py"),
    )
    for label, obtain_python, script in frameworks:
        progress(f"obtaining {label} (a virtual environment under {cache.root})")
        python = obtain_python()
        rows[label] = (
            python
            if isinstance(python, Unavailable)
            else ProviderCommand(label, [str(python), str(PROVIDERS_DIR / script)], {"HOME": str(cache.home)})
        )
    return rows


def measure_launches(
    size: RunSize, rows: Mapping[str, ProviderCommand | Unavailable], launcher: Launcher, results: Results
) -> None:
    """Launch every available row ``size.launches`` times, round-robin so that a burst of load from
    elsewhere on the machine hits all rows alike; the warm-up launches are not counted."""
    commands = {label: row for label, row in rows.items() if isinstance(row, ProviderCommand)}
    timings: dict[str, list[LaunchTiming]] = {label: [] for label in commands}
    failed: dict[str, str] = {}
    total = size.warmup_launches + size.launches
    progress(f"launch latency: {len(commands)} providers, {total} launches each")
    for round_index in range(total):
        for label, command in commands.items():
            if label in failed:
                continue
            try:
                timing = launcher.launch_once(command)
            except LaunchError as error:
                failed[label] = f"failed: {error}"
                continue
            if round_index >= size.warmup_launches:
                timings[label].append(timing)
    for label, row in rows.items():
        if isinstance(row, Unavailable):
            results.launches[label] = row
        else:
            results.launches[label] = failed.get(label) or timings[label]
    for label in (OURS_COLD, OURS_WARM, RELEASE_COLD, RELEASE_WARM):
        if label in failed:
            results.failures.append(f"{label}: {failed[label]}")
    for label in (OURS_WARM, RELEASE_WARM):
        warm = results.launches.get(label)
        if not isinstance(warm, list):
            continue
        served = sum(FORKSERVER_TRACE_USED in timing.stderr_head for timing in warm)
        if served == 0:
            # tfprovider.forkserver exists but the launch path does not use it (yet): the row
            # would only repeat the cold one under another name.
            results.launches[label] = Unavailable(f"n/a (fork server unused: 0 of {len(warm)} served)")
        elif served < len(warm):
            results.notes.append(
                f"{label}: only {served} of {len(warm)} counted launches were served by the fork server."
            )


def warm_launches_work(results: Results, label: str = OURS_WARM) -> bool:
    return isinstance(results.launches.get(label), list)


def launch_table(results: Results, size: RunSize) -> Table:
    def medians(label: str) -> tuple[float | None, float | None]:
        data = results.launches.get(label)
        if not isinstance(data, list):
            return None, None
        return (
            report.median([t.handshake_seconds for t in data]),
            report.median([t.tls_ready_seconds for t in data]),
        )

    ours, _ = medians(OURS_COLD)
    go, _ = medians(GO_WORKATO)
    table = Table(
        "Provider launch latency (exec to handshake line; to TLS connection accepted)",
        ["provider", "handshake median", "min", "max", "TLS ready median", "vs ours cold", "vs Go"],
    )
    for label, data in results.launches.items():
        if not isinstance(data, list):
            reason = data.reason if isinstance(data, Unavailable) else data
            table.add(label, reason[:70], *[report.MISSING] * 5)
            continue
        handshake, tls_ready = medians(label)
        values = [t.handshake_seconds for t in data]
        table.add(
            label,
            report.millis(handshake),
            report.millis(min(values)),
            report.millis(max(values)),
            report.millis(tls_ready),
            report.ratio(handshake, ours),
            report.ratio(handshake, go),
        )
    table.notes += [
        f"{size.launches} counted launches per provider after {size.warmup_launches} warm-up, round-robin; "
        "environment as Terraform sets it (magic cookie, PLUGIN_PROTOCOL_VERSIONS=5,6, an ECDSA P-521 "
        "PLUGIN_CLIENT_CERT), so every provider serves TLS.",
        "'vs' columns divide this row's median handshake by that row's: 2.00x means twice as slow.",
        "Terraform launches a provider 2 (validate) to 5 (destroy) times per command, so this cost is "
        "paid several times per command.",
    ]
    if results.launcher_overhead is not None:
        ours, written_in = results.launcher_overhead
        table.notes.append(
            f"Our launcher finds its interpreter through a pointer file (so that it is the same on every "
            f"machine): exec to the interpreter's exec {ours * 1000:.2f} ms, against {written_in * 1000:.2f} "
            "ms for a launcher with the interpreter's path written in (medians, /bin/true standing in for "
            "the interpreter)."
        )
    return table


# --- 2-5. Terraform commands -----------------------------------------------------------------------


def run_cycle(workspace: Workspace, config: str) -> dict[str, Measurement]:
    """init, validate, plan, apply, plan again (refresh), destroy: every one measured."""
    workspace.write(config)
    return {
        "init": workspace.run("init", "-input=false", "-no-color"),
        "validate": workspace.validate(),
        "plan": workspace.plan(),
        "apply": workspace.apply(),
        "refresh": workspace.plan(),
        "destroy": workspace.destroy(),
    }


def one_cycle(
    kind: str, n: int, repetition: int, tag: str, mirror: Path, scratch: Path
) -> dict[str, Measurement]:
    """A cycle in a fresh directory; for tokens against a fresh emulator, so counters and the
    organization's token list start empty."""
    root = scratch / f"{kind}-n{n}-r{repetition}"
    root.mkdir()
    if kind == NULL:
        return run_cycle(Workspace(TERRAFORM, root, mirror), null_config(n))
    with Emulator() as emulator:
        env = forkserver_env(scratch, on=kind in WARM_KINDS)
        workspace = Workspace(TERRAFORM, root, mirror, emulator=emulator, env_extra=env)
        return run_cycle(workspace, tokens_config(n, f"bench-{tag}-{kind[-4:]}{n}r{repetition}"))


def measure_terraform(
    size: RunSize,
    results: Results,
    mirror: Path,
    scratch: Path,
    *,
    null: bool,
    before_warm: Callable[[], None],
) -> None:
    """Every cycle of the run. Kinds take turns at each size and repetition (ours, ours warm,
    release, release warm, null, then again), so a burst of load from elsewhere on the machine
    falls on all of them alike. The release kinds install from the release's packed mirror."""
    tag = secrets.token_hex(3)
    schedule: dict[str, Mapping[int, int]] = {OURS: size.cycles}
    if warm_launches_work(results) and size.warm_cycles:
        schedule[OURS_WARM_KIND] = size.warm_cycles
    if results.release is not None:
        schedule[RELEASE] = size.release_cycles
        if warm_launches_work(results, RELEASE_WARM) and size.warm_cycles:
            schedule[RELEASE_WARM_KIND] = size.release_cycles
    mirrors = {kind: mirror for kind in schedule}
    if results.release is not None:
        mirrors[RELEASE] = mirrors[RELEASE_WARM_KIND] = results.release.mirror
    if null:
        schedule[NULL] = size.null_cycles
    stopped: set[tuple[str, int]] = set()
    daemon_started = False
    for n in sorted({n for cycles in schedule.values() for n in cycles}):
        for repetition in range(max(cycles.get(n, 0) for cycles in schedule.values())):
            for kind, cycles in schedule.items():
                repetitions = cycles.get(n, 0)
                if repetition >= repetitions or (kind, n) in stopped:
                    continue
                if kind in WARM_KINDS and not daemon_started:
                    before_warm()
                    daemon_started = True
                progress(f"terraform cycle: {kind} N={n} (repetition {repetition + 1}/{repetitions})")
                runs = results.cycles.setdefault((kind, n), [])
                try:
                    runs.append(one_cycle(kind, n, repetition, tag, mirrors.get(kind, mirror), scratch))
                except CommandFailed as error:
                    message = f"{kind} N={n}: {error}"
                    progress(message)
                    (results.notes if kind == NULL else results.failures).append(message)
                    stopped.add((kind, n))


def measure_throughput(size: RunSize, results: Results, mirror: Path, scratch: Path) -> None:
    """Each (latency, parallelism) pair ``size.throughput_repetitions`` times, pairs taking turns."""
    tag = secrets.token_hex(3)
    for repetition in range(size.throughput_repetitions):
        for latency in size.api_latencies_ms:
            for parallelism in size.parallelisms:
                progress(
                    f"throughput: apply of {size.throughput_size} tokens at -parallelism={parallelism}, "
                    f"API latency +{latency} ms (repetition {repetition + 1}/{size.throughput_repetitions})"
                )
                root = scratch / f"throughput-l{latency}-p{parallelism}-r{repetition}"
                root.mkdir()
                with Emulator(latency_ms=latency) as emulator:
                    env = forkserver_env(scratch, on=False)
                    workspace = Workspace(TERRAFORM, root, mirror, emulator=emulator, env_extra=env)
                    prefix = f"tput-{tag}-l{latency}p{parallelism}r{repetition}"
                    workspace.write(tokens_config(size.throughput_size, prefix))
                    try:
                        workspace.init()
                        measured = workspace.apply(f"-parallelism={parallelism}")
                    except CommandFailed as error:
                        results.failures.append(f"throughput at -parallelism={parallelism}: {error}")
                        continue
                    results.throughput.setdefault((latency, parallelism), []).append(measured)


def _phase_values(results: Results, kind: str, n: int, phase: str) -> list[Measurement]:
    return [run[phase] for run in results.cycles.get((kind, n), []) if phase in run]


def _median_seconds(results: Results, kind: str, n: int, phase: str) -> float | None:
    return report.median([m.seconds for m in _phase_values(results, kind, n, phase)])


def _growth(sizes: tuple[int, ...]) -> str:
    return f"N={sizes[-1]} / N={sizes[-2]}"


def _cycle_counts(results: Results, kind: str, sizes: tuple[int, ...]) -> str:
    return ", ".join(f"N={n}: {len(results.cycles.get((kind, n), []))}" for n in sizes) or "none"


def wall_time_table(results: Results, size: RunSize) -> Table:
    ours_sizes, null_sizes = size.sizes, size.null_sizes
    warm_sizes = tuple(n for n in size.warm_cycles if results.cycles.get((OURS_WARM_KIND, n)))
    headers = ["command", *(f"ours N={n}" for n in ours_sizes), f"ours {_growth(ours_sizes)}"]
    headers += [f"ours warm N={n}" for n in warm_sizes]
    release_columns = [
        (kind, n)
        for kind in (RELEASE, RELEASE_WARM_KIND)
        for n in size.release_cycles
        if results.cycles.get((kind, n))
    ]
    headers += [f"{kind.replace('-', ' ')} N={n}" for kind, n in release_columns]
    headers += [f"null N={n}" for n in null_sizes]
    if len(null_sizes) > 1:
        headers.append(f"null {_growth(null_sizes)}")
    headers.append("ours / null at N=1")
    table = Table("Terraform 1.15.5 wall time (median per command)", headers)
    for phase in PHASES:
        ours = [_median_seconds(results, OURS, n, phase) for n in ours_sizes]
        null = [_median_seconds(results, NULL, n, phase) for n in null_sizes]
        row = [PHASE_NAMES[phase], *(report.seconds(v) for v in ours), report.ratio(ours[-1], ours[-2])]
        row += [report.seconds(_median_seconds(results, OURS_WARM_KIND, n, phase)) for n in warm_sizes]
        row += [report.seconds(_median_seconds(results, kind, n, phase)) for kind, n in release_columns]
        row += [report.seconds(v) for v in null]
        if len(null_sizes) > 1:
            row.append(report.ratio(null[-1], null[-2]))
        row.append(
            report.ratio(_median_seconds(results, OURS, 1, phase), _median_seconds(results, NULL, 1, phase))
        )
        table.add(*row)
    table.notes += [
        "'ours' = N pulumiservice_api_tokens_orgtoken (count = N) against the local emulator, provider "
        "started cold (PULUMISERVICE_FORKSERVER=0); 'ours warm' = the same through the fork server; "
        "'release' and 'release warm' = the same with the release build (the frozen executable from "
        "`make dist`, installed from its packed mirror); "
        "'null' = N null_resource of the Go hashicorp/null provider, the cheapest resource Terraform can "
        "manage, so the difference is what the provider and its API calls cost.",
        f"Cycles (fresh directory, fresh emulator each): ours {_cycle_counts(results, OURS, ours_sizes)}; "
        f"ours warm {_cycle_counts(results, OURS_WARM_KIND, warm_sizes)}; "
        f"null {_cycle_counts(results, NULL, null_sizes)}.",
        f"Growth: linear scaling shows as the size ratio ({ours_sizes[-1] // ours_sizes[-2]}.0x here); less "
        "means a fixed cost (provider launches, Terraform start-up) still dominates.",
    ]
    return table


def _describe_requests(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{count} {operation}" for operation, count in sorted(counts.items()))


def _median_requests(values: list[Measurement], operation: str) -> int:
    return int(report.median([m.requests.get(operation, 0) for m in values]) or 0)


def requests_table(results: Results, size: RunSize) -> Table:
    table = Table(
        "Pulumi Cloud API requests per command (emulator counters; median over cycles)",
        ["command", *(f"N={n}" for n in size.sizes)],
    )
    for phase in PHASES:
        cells = []
        for n in size.sizes:
            values = _phase_values(results, OURS, n, phase)
            operations = sorted({op for m in values for op in m.requests})
            counts = {op: _median_requests(values, op) for op in operations}
            cells.append(
                _describe_requests({op: c for op, c in counts.items() if c}) if values else report.MISSING
            )
        table.add(PHASE_NAMES[phase], *cells)
    checks = []
    for n in size.sizes:
        values = _phase_values(results, OURS, n, "refresh")
        if values:
            measured, target = _median_requests(values, "list"), -(-n // 1000)
            checks.append(
                f"N={n}: {measured} (target {target}, {'met' if measured <= target else 'NOT met'})"
            )
    table.notes += [
        "List requests during the refresh plan: " + ("; ".join(checks) or "not measured") + ". The target "
        "is ceil(N/1000) per organization: one listing per provider process, shared by every read.",
        "destroy refreshes first (its list requests) and then deletes each token.",
    ]
    return table


def memory_table(results: Results, size: RunSize) -> Table:
    ours_sizes, last, null_last = size.sizes, size.sizes[-1], size.null_sizes[-1]
    headers = ["command", *(f"ours N={n}" for n in ours_sizes), f"ours {_growth(ours_sizes)}"]
    headers += [f"null N={null_last}", f"Terraform (ours) N={last}", f"Terraform (null) N={null_last}"]
    table = Table("Peak resident memory (largest single provider process; Terraform itself)", headers)

    def peak(kind: str, n: int, phase: str, of_terraform: bool = False) -> float | None:
        values = [
            m.memory.root_peak_mib if of_terraform else m.memory.provider_peak_mib
            for m in _phase_values(results, kind, n, phase)
        ]
        return max(values) if values else None

    for phase in PHASES:
        ours = [peak(OURS, n, phase) for n in ours_sizes]
        table.add(
            PHASE_NAMES[phase],
            *(report.mib(v) for v in ours),
            report.ratio(ours[-1], ours[-2]),
            report.mib(peak(NULL, null_last, phase)),
            report.mib(peak(OURS, last, phase, of_terraform=True)),
            report.mib(peak(NULL, null_last, phase, of_terraform=True)),
        )
    table.notes += [
        "VmHWM (the kernel's high-water mark of resident memory) of each process Terraform started, "
        "sampled every 50 ms; the largest over the command's provider processes and repetitions. "
        "init starts no provider. Cold launches only: a fork-server provider is not Terraform's child.",
    ]
    return table


def _throughput_seconds(results: Results, latency: int, parallelism: int) -> float | None:
    return report.median([m.seconds for m in results.throughput.get((latency, parallelism), [])])


def throughput_table(results: Results, size: RunSize) -> Table:
    n = size.throughput_size
    headers = ["-parallelism"]
    for latency in size.api_latencies_ms:
        label = f"+{latency} ms per request" if latency else "no added latency"
        headers += [f"apply, {label}", "tokens/s", "speed-up"]
    headers += ["provider peak", "requests"]
    table = Table(f"Apply throughput: {n} new tokens, by -parallelism and API latency (median)", headers)
    for parallelism in size.parallelisms:
        row = [str(parallelism)]
        for latency in size.api_latencies_ms:
            seconds = _throughput_seconds(results, latency, parallelism)
            first = _throughput_seconds(results, latency, size.parallelisms[0])
            row += [
                report.seconds(seconds),
                report.rate(n / seconds if seconds else None),
                report.ratio(first, seconds),
            ]
        measured = [
            m for latency in size.api_latencies_ms for m in results.throughput.get((latency, parallelism), [])
        ]
        row += [
            report.mib(max((m.memory.provider_peak_mib for m in measured), default=None)),
            _describe_requests(measured[0].requests) if measured else report.MISSING,
        ]
        table.add(*row)
    table.notes += [
        f"{size.throughput_repetitions} repetition(s) of each cell, taking turns. Whole `terraform apply` "
        "wall time, including its plan and provider launches (cold, 4 per apply); tokens/s is N divided by "
        "it, so fixed costs weigh on it as they would for a user. Speed-up is against the first row at the "
        "same latency. The emulator answers a create in about a millisecond, so without added latency "
        "there is little for parallel requests to overlap; the delayed columns (emulator --latency-ms) "
        "stand in for a real service's round trip. Provider peak: the largest over all runs of the row; "
        "requests: those of its first run.",
    ]
    return table


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return report.MISSING
    return "met" if value <= target else "NOT met"


def _ratio_value(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def release_table(results: Results) -> Table:
    """The release build's targets: how long `make dist` takes, and its start-up and one-token plan
    against the venv launcher's, measured side by side in this run."""
    table = Table(
        "Release build (make dist) against the venv launcher",
        ["measure", "release build", "venv launcher", "release / venv", "target", "verdict"],
    )
    release = results.release
    if release is None:
        table.add("make dist", "failed", *[report.MISSING] * 4)
        return table
    table.add(
        "make dist (freeze, zip, mirrors)",
        report.seconds(release.seconds),
        report.MISSING,
        report.MISSING,
        f"<= {DIST_TARGET_SECONDS:.0f} s",
        _verdict(release.seconds, DIST_TARGET_SECONDS),
    )
    table.add(
        "zip size (files)",
        f"{release.archive_bytes / 2**20:.1f} MiB ({release.files})",
        *[report.MISSING] * 4,
    )

    def handshake(label: str) -> float | None:
        data = results.launches.get(label)
        return report.median([t.tls_ready_seconds for t in data]) if isinstance(data, list) else None

    pairs = (
        ("exec to TLS-ready handshake, cold", handshake(RELEASE_COLD), handshake(OURS_COLD)),
        ("exec to TLS-ready handshake, warm", handshake(RELEASE_WARM), handshake(OURS_WARM)),
    )
    for name, ours, venv in pairs:
        ratio = _ratio_value(ours, venv)
        table.add(
            name,
            report.millis(ours),
            report.millis(venv),
            report.ratio(ours, venv),
            f"<= {RATIO_TARGET:.2f}x",
            _verdict(ratio, RATIO_TARGET),
        )
    for name, release_kind, venv_kind in (
        ("terraform plan of one token, cold", RELEASE, OURS),
        ("terraform plan of one token, warm", RELEASE_WARM_KIND, OURS_WARM_KIND),
    ):
        ours = _median_seconds(results, release_kind, 1, "plan")
        venv = _median_seconds(results, venv_kind, 1, "plan")
        table.add(
            name,
            report.seconds(ours),
            report.seconds(venv),
            report.ratio(ours, venv),
            f"<= {RATIO_TARGET:.2f}x",
            _verdict(_ratio_value(ours, venv), RATIO_TARGET),
        )
    table.notes += [
        "make dist: `release/dist.py` into a scratch directory (PyInstaller one-directory freeze, "
        "reproducible zip, checksums, manifest, mirrors, lock files), wall time.",
        "Handshakes: medians of the launch table's rows (release build unpacked from its zip, as "
        "Terraform unpacks it). Plans: medians of the wall-time table's N=1 plan cells; the release "
        "build installs from its packed mirror, the venv launcher from a filesystem mirror. Terraform "
        "hashes the installed package on every command, which a bigger package pays for.",
    ]
    return table


# --- Output ----------------------------------------------------------------------------------------


def headline(results: Results, size: RunSize) -> list[str]:
    """The few numbers a reader wants first; lines starting with two spaces belong to the one above."""

    def handshake(label: str) -> float | None:
        data = results.launches.get(label)
        return report.median([t.handshake_seconds for t in data]) if isinstance(data, list) else None

    ours = handshake(OURS_COLD)
    lines = [f"Handshake, ours cold: {report.millis(ours)}; against the others (others' time / ours):"]
    for label in (OURS_WARM, SKELETON, GO_WORKATO, GO_NULL, TF_FRAMEWORK, PYVIDER):
        other = handshake(label)
        if other is not None:
            lines.append(f"  {label}: {report.millis(other)} ({report.ratio(other, ours)})")
    ours_plan, null_plan = (
        _median_seconds(results, OURS, 1, "plan"),
        _median_seconds(results, NULL, 1, "plan"),
    )
    lines.append(
        f"Plan of one token: {report.seconds(ours_plan)}; of one null_resource (Go null provider): "
        f"{report.seconds(null_plan)}; ratio {report.ratio(ours_plan, null_plan)}"
    )
    warm_plan = _median_seconds(results, OURS_WARM_KIND, 1, "plan")
    if warm_plan is not None:
        lines.append(
            f"  through the fork server: {report.seconds(warm_plan)} ({report.ratio(warm_plan, null_plan)})"
        )
    if results.release is not None:
        release_plan = _median_seconds(results, RELEASE, 1, "plan")
        lines.append(
            f"Release build: make dist {report.seconds(results.release.seconds)} (target <= "
            f"{DIST_TARGET_SECONDS:.0f} s); handshake {report.millis(handshake(RELEASE_COLD))} cold "
            f"({report.ratio(handshake(RELEASE_COLD), ours)} of the venv launcher's), "
            f"plan of one token {report.seconds(release_plan)} ({report.ratio(release_plan, ours_plan)})"
        )
    biggest = size.sizes[-1]
    refresh = _phase_values(results, OURS, biggest, "refresh")
    if refresh:
        took = report.seconds(_median_seconds(results, OURS, biggest, "refresh"))
        lines.append(
            f"Refresh plan of N={biggest}: {took}, {_median_requests(refresh, 'list')} list request(s) "
            f"(target {-(-biggest // 1000)})"
        )
    for latency, parallelism in results.throughput:
        apply_seconds = _throughput_seconds(results, latency, parallelism)
        lines.append(
            f"Apply of {size.throughput_size} tokens at -parallelism={parallelism}"
            f"{f', +{latency} ms per API request' if latency else ''}: "
            f"{report.rate(size.throughput_size / apply_seconds if apply_seconds else None)}"
        )
    return lines


def machine_section(
    machine: Machine, versions: Mapping[str, str], load: Mapping[str, tuple[float, ...]]
) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in machine.packages.items())
    loads = "; ".join(f"{when} {' / '.join(f'{x:.2f}' for x in values)}" for when, values in load.items())
    return "\n".join(
        [
            f"- CPU: {machine.cpu_model}, {machine.cores} cores available to the run",
            f"- Memory: {machine.memory_gib:.1f} GiB",
            f"- OS: {machine.os_name}, kernel {machine.kernel}",
            f"- Python {machine.python}; {packages}",
            "- Terraform: " + ", ".join(f"{version} ({role})" for role, version in versions.items()),
            f"- Load average (1 / 5 / 15 min): {loads}",
        ]
    )


def write_results(
    path: Path, size: RunSize, tables: list[Table], lines: list[str], machine_text: str, results: Results
) -> None:
    problems = [*results.notes, *(f"FAILED: {failure.splitlines()[0]}" for failure in results.failures)]
    command = " ".join(["benchmarks/bench.py", *sys.argv[1:]])
    parts = [
        "# Benchmark results",
        "",
        f"Measured {now_utc()} with `{command}` ({size.name} run). Regenerate with `make bench`; "
        "`benchmarks/README.md` says what is run.",
        "",
        "## Machine",
        "",
        machine_text,
        "",
        "The machine was shared with other work during the run, so absolute numbers carry noise. The "
        "rows of one table were measured in the same run (launches interleaved round-robin), so the "
        f"ratios between them are the numbers to read. A load average above {os.cpu_count()} means the "
        "run competed for the CPU.",
        "",
        "## Headline",
        "",
        *(f"  - {line.strip()}" if line.startswith("  ") else f"- {line}" for line in lines),
        "",
        "## Tables",
        "",
    ]
    for table in tables:
        parts += [table.markdown(), ""]
    if problems:
        parts += ["## Notes from this run", "", *(f"- {problem}" for problem in problems), ""]
    parts += [
        "## What the numbers mean",
        "",
        "- **Handshake**: go-plugin has Terraform wait for the provider's first stdout line before "
        "anything else. A Python provider pays interpreter start-up, imports (grpcio, protobuf, its "
        "own code) and a fresh self-signed certificate before it can print it. **ours, warm**: the "
        "launcher hands the launch to a per-user fork-server daemon that has all of that imported "
        "and forks a provider for it (the launch that starts a daemon takes the cold path). "
        "**TLS ready** adds the first TLS handshake on the announced socket, which Terraform's first "
        "call needs.",
        "- The **skeleton** row is a grpcio provider's start-up written the obvious way and nothing "
        "else: import grpc and cryptography, make a P-256 certificate with cryptography, serve, print "
        "the line. This provider avoids importing cryptography at launch (it writes its certificate "
        "with a small pure-Python P-256 signer), which is how it can start faster than the skeleton. "
        "The **tf** framework caches its RSA-1024 certificate in `~/.cache` between launches instead "
        "of making a key per launch. **pyvider** prints its handshake before it discovers its "
        "components.",
        "- **Terraform wall time** is the whole command as a user waits for it, provider launches "
        "included (2 for validate up to 5 for destroy); **ours / null** shows what this provider and "
        "its API round trips add over the cheapest possible resource.",
        "- **Requests** are counted by the emulator per operation; the list requests during refresh "
        "show whether reads share one listing of the organization's tokens.",
        "- **Peak memory** is per provider process (Terraform starts several per command, mostly one "
        "after another), with Terraform's own beside it.",
        "",
    ]
    path.write_text("\n".join(parts))


# --- Main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark this provider against its peers.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", dest="quick", action="store_false", help="the full run (default)")
    mode.add_argument(
        "--quick", dest="quick", action="store_true", help="tiny sizes, 3 launches (smoke test)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the providers fetched from PyPI")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to write")
    parser.set_defaults(quick=False)
    return parser.parse_args(argv)


def measure_all(size: RunSize, cache: PeerCache | None, scratch: Path) -> Results:
    results = Results()
    results.release = build_release(scratch, results)
    progress("launcher overhead: the pointer file against a path written in")
    results.launcher_overhead = measure_launcher_overhead(scratch, runs=300 if size is FULL else 30)
    rows = launch_rows(cache, scratch, results.release)
    launcher = Launcher(ClientIdentity.generate(), scratch / "launches")
    measure_launches(size, rows, launcher, results)
    null_row = rows.get(GO_NULL)
    null_binary = Path(null_row.argv[0]) if isinstance(null_row, ProviderCommand) else None
    if null_binary is None:
        results.notes.append("No Go null provider in this run: the null columns are empty.")
    mirror = build_mirror(scratch / "mirror", null_binary)
    warm_rows = [
        row for row in (rows.get(OURS_WARM), rows.get(RELEASE_WARM)) if isinstance(row, ProviderCommand)
    ]

    def start_daemon() -> None:
        # The launch that starts a daemon does not use it: make sure one runs before warm cycles.
        for warm in warm_rows:
            for _ in range(2):
                launcher.launch_once(warm)
                time.sleep(1.0)

    measure_terraform(size, results, mirror, scratch, null=null_binary is not None, before_warm=start_daemon)
    measure_throughput(size, results, mirror, scratch)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = QUICK if args.quick else FULL
    if not TERRAFORM.is_file():
        print(f"{TERRAFORM} is missing: run `make terraform` first.", file=sys.stderr)
        return 2
    started = time.monotonic()
    load: dict[str, tuple[float, ...]] = {"start": load_average()}
    # Launches should read byte-code, as an installed package does (`make setup` does the same).
    compileall.compile_dir(REPO_ROOT / "tfprovider", quiet=1)
    real_plugins_before = plugin_dir_listing(Path.home())
    cache = None if args.no_peers else PeerCache(CACHE)

    with tempfile.TemporaryDirectory(prefix="tfbench-") as scratch_name:
        scratch = Path(scratch_name)
        try:
            results = measure_all(size, cache, scratch)
        finally:
            stop_forkserver_daemons(scratch)

    if plugin_dir_listing(Path.home()) != real_plugins_before:
        results.notes.append(
            f"{Path.home() / '.terraform.d/plugins'} changed during the run: see what wrote it."
        )
    load["end"] = load_average()
    versions = {"used for every Terraform number": version_of(TERRAFORM)}
    if OLD_TERRAFORM.is_file():
        versions["installed, not used here"] = version_of(OLD_TERRAFORM)
    tables = [
        launch_table(results, size),
        release_table(results),
        wall_time_table(results, size),
        requests_table(results, size),
        memory_table(results, size),
        throughput_table(results, size),
    ]
    lines = headline(results, size)
    machine_text = machine_section(Machine.describe(), versions, load)
    print()
    for table in tables:
        print(table.text(), end="\n\n")
    print("Headline\n========", *lines, sep="\n")
    print(f"\nMachine\n=======\n{machine_text}\n")
    for note in results.notes:
        print(f"note: {note}")
    for failure in results.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.output, size, tables, lines, machine_text, results)
    progress(f"wrote {args.output} after {time.monotonic() - started:.0f} s")
    return 1 if results.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
