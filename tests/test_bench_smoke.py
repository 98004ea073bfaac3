"""`make bench` in miniature: the harness launches providers, drives Terraform against the emulator,
counts API requests and prints its tables. Sizes are tiny and nothing here depends on timings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table(text: str, title: str) -> str:
    """The printed table whose title starts with ``title``, up to the blank line after it."""
    start = text.index(title)
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else len(text)]


def _row(table: str, name: str) -> list[str]:
    """The cells of the row that starts with ``name`` (columns are two or more spaces apart)."""
    for line in table.splitlines():
        if line.startswith(name):
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no row {name!r} in:\n{table}")


BENCH = ROOT / "benchmarks" / "bench.py"


def test_quick_bench_prints_and_writes_every_table(
    terraform_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """``terraform_binaries`` fails the test (with the fix) when ``make terraform`` has not run."""
    results = tmp_path / "RESULTS.md"
    command = [sys.executable, str(BENCH), "--quick", "--no-peers", "--output", str(results)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    launches = _table(out, "Provider launch latency")
    wall = _table(out, "Terraform 1.15.5 wall time")
    requests = _table(out, "Pulumi Cloud API requests per command")
    memory = _table(out, "Peak resident memory")
    throughput = _table(out, "Apply throughput: 10 new tokens")
    assert "Headline" in out and "Machine" in out

    # Our provider and the skeleton were really launched: each row has a median in milliseconds.
    assert re.fullmatch(r"\d+ ms", _row(launches, "ours, cold")[1])
    assert re.fullmatch(r"\d+ ms", _row(launches, "bare grpcio + cryptography skeleton")[1])
    assert _row(launches, "Go: workato provider")[1] == "skipped (--no-peers)"

    # The release build was made (timed) and launched, and its one-token plan measured.
    release = _table(out, "Release build (make dist)")
    assert re.fullmatch(r"\d+\.\d\d s", _row(release, "make dist")[1])
    assert re.fullmatch(r"\d+ ms", _row(launches, "ours, release build, cold")[1])
    assert re.fullmatch(r"\d+ ms|\d+\.\d\d s", _row(release, "terraform plan of one token, cold")[1])

    # Every Terraform command of both sizes ran and was timed.
    for phase in ("validate", "plan (all to create)", "apply (create all)", "destroy (refresh, delete all)"):
        assert all(re.fullmatch(r"\d+ ms|\d+\.\d\d s", cell) for cell in _row(wall, phase)[1:3]), phase

    # The emulator's counters reached the table: N creates on apply, one shared listing on refresh.
    assert _row(requests, "apply (create all)")[1:] == ["1 create", "10 create"]
    assert _row(requests, "plan again (refresh all)")[1:] == ["1 list", "1 list"]
    assert _row(requests, "destroy (refresh, delete all)")[1:] == ["1 delete, 1 list", "10 delete, 1 list"]

    # Terraform started our provider during plan, and its memory was read from /proc.
    assert re.fullmatch(r"\d+ MiB", _row(memory, "plan (all to create)")[1])
    assert _row(throughput, "10")[-1] == "10 create"

    text = results.read_text()
    assert text.startswith("# Benchmark results")
    for section in ("## Machine", "## Headline", "## Tables", "## What the numbers mean"):
        assert section in text
    assert "| ours, cold (python -m tfprovider) |" in text
    assert "Terraform: 1.15.5" in text
