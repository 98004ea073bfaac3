"""What the numbers were measured on, so a reader can tell whether two result files compare."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path

KEY_PACKAGES = ("grpcio", "protobuf", "cryptography", "httpx", "msgpack")


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    memory_gib: float
    os_name: str
    kernel: str
    python: str
    packages: dict[str, str]
    """Versions of the Python packages the provider's speed depends on."""

    @classmethod
    def describe(cls) -> Machine:
        return cls(
            cpu_model=_cpuinfo_field("model name") or platform.processor() or "unknown",
            cores=len(os.sched_getaffinity(0)),
            memory_gib=_meminfo_kib("MemTotal") / (1024 * 1024),
            os_name=_os_release().get("PRETTY_NAME", platform.system()),
            kernel=platform.release(),
            python=platform.python_version(),
            packages={name: _version(name) for name in KEY_PACKAGES},
        )


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load: above the core count means other work competed with the benchmark."""
    return os.getloadavg()


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cpuinfo_field(name: str) -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return ""


def _meminfo_kib(name: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _os_release() -> dict[str, str]:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.partition("=") for line in lines if "=" in line)
    return {key: value.strip('"') for key, _, value in pairs}


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
