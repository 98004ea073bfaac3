"""Peak memory of the providers Terraform starts, read from /proc while a command runs.

A background thread looks every ``interval`` seconds for the descendants of the Terraform process
(and for any process whose command line matches ``also``, for providers that a helper outside
Terraform's tree forks) and records each one's ``VmHWM``: the kernel's own high-water mark of the
process's resident set. So a sample taken any time before the process exits sees its true peak;
only a provider that lives less than one interval can be missed, and is then counted as unseen.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
KIB_PER_MIB = 1024


@dataclass
class _Seen:
    name: str
    peak_kib: int = 0


@dataclass
class MemoryReport:
    root_peak_kib: int = 0
    """Terraform's own peak resident set."""
    children: dict[int, _Seen] = field(default_factory=dict)
    """Every descendant seen, by pid."""

    @property
    def provider_peak_mib(self) -> float:
        """The largest peak of any one descendant (a provider), in MiB; 0 if none was seen."""
        return max((seen.peak_kib for seen in self.children.values()), default=0) / KIB_PER_MIB

    @property
    def root_peak_mib(self) -> float:
        return self.root_peak_kib / KIB_PER_MIB

    @property
    def processes_seen(self) -> int:
        return len(self.children)


class ProcessWatcher:
    """Context manager sampling the process tree under ``root_pid`` until it exits the block."""

    def __init__(
        self, root_pid: int, *, interval: float = 0.05, also: Callable[[str], bool] | None = None
    ) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.also = also
        self.report = MemoryReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="procwatch", daemon=True)

    def __enter__(self) -> ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        """One pass over /proc: find the tree, read each member's high-water mark."""
        parents: dict[int, int] = {}
        matched: set[int] = set()
        for entry in os.scandir(PROC):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            parent = _parent_pid(pid)
            if parent is None:
                continue
            parents[pid] = parent
            if self.also is not None and pid != os.getpid() and self.also(_cmdline(pid)):
                matched.add(pid)
        members = matched | {pid for pid in parents if _descends_from(pid, self.root_pid, parents)}
        root_hwm = _peak_kib(self.root_pid)
        if root_hwm is not None:
            self.report.root_peak_kib = max(self.report.root_peak_kib, root_hwm)
        root_exe = _exe(self.root_pid)
        for pid in members:
            if root_exe is not None and _exe(pid) == root_exe:
                # Between clone and exec a child shares Terraform's memory (Go spawns with
                # CLONE_VM), so its counters are Terraform's; the next sample sees the real program.
                continue
            peak = _peak_kib(pid)
            if peak is None:
                continue
            seen = self.report.children.setdefault(pid, _Seen(_comm(pid)))
            seen.peak_kib = max(seen.peak_kib, peak)


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    steps = 0
    while pid in parents and steps < 64:
        pid = parents[pid]
        if pid == ancestor:
            return True
        steps += 1
    return False


def _parent_pid(pid: int) -> int | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _peak_kib(pid: int) -> int | None:
    try:
        with open(PROC / str(pid) / "status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie or kernel thread has no memory lines


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(PROC / str(pid) / "exe")
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"
