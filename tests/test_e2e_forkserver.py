"""Real Terraform through the warm fork-server: it serves, a killed daemon falls back to the cold
path and is replaced, and two concurrent runs with different credentials never see each other's."""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.emulator import Emulator
from support.tf import Terraform

ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
SERVED = re.compile(r"fork-server: served by daemon pid (\d+)")
HEADER = (
    'terraform {\n  required_providers {\n    pulumiservice = { source = "pulumi/pulumiservice" }\n  }\n}\n'
)


def config(names: list[str], reason: str = "first") -> str:
    blocks = [
        f'resource "{ORGTOKEN}" "{n}" {{\n  name = "{n}"\n  org_name = "acme"\n  reason = "{reason}"\n}}\n'
        for n in names
    ]
    return HEADER + "".join(blocks)


def make_tf(
    binaries: dict[str, Path], plugins_dir: Path, workdir: Path, emulator: Emulator, fs: Path
) -> Terraform:
    return Terraform(
        binaries["1.15.5"],
        workdir,
        plugins_dir,
        env_extra={
            "PULUMI_ACCESS_TOKEN": emulator.access_token,
            "PULUMI_BACKEND_URL": emulator.url,
            "PULUMISERVICE_FORKSERVER": "1",
            "PULUMISERVICE_FORKSERVER_DIR": str(fs),
            "TF_LOG": "TRACE",
            "TF_LOG_PATH": str(workdir.parent / f"{workdir.name}.log"),
        },
    )


def served_pids(tf: Terraform) -> set[int]:
    log = Path(tf.env_extra["TF_LOG_PATH"])
    return {int(m) for m in SERVED.findall(log.read_text())} if log.exists() else set()


def live(emulator: Emulator) -> list[str]:
    _, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=active")
    return sorted(t["name"] for t in body["tokens"])


def test_warm_launches_serve_terraform_and_a_killed_daemon_falls_back(
    terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path, fork_server_dir: Path
) -> None:
    with Emulator(access_token="pul-fs-token") as emulator:
        tf = make_tf(terraform_binaries, plugins_dir, tmp_path / "cfg", emulator, fork_server_dir)
        tf.write(config(["a", "b"]))
        tf.init()
        tf.apply()  # the first launch finds no daemon: cold path, and a daemon starts
        deadline = time.monotonic() + 20
        while not served_pids(tf) and time.monotonic() < deadline:
            assert tf.plan("-detailed-exitcode", check=False).returncode == 0
        (daemon,) = served_pids(tf)
        assert live(emulator) == ["a", "b"]

        os.kill(daemon, signal.SIGKILL)  # a dead daemon leaves a stale socket behind
        tf.write(config(["a", "b"], reason="second"))
        tf.apply()
        assert tf.plan("-detailed-exitcode", check=False).returncode == 0
        tf.destroy()
        assert live(emulator) == []


def test_concurrent_runs_with_different_credentials_stay_apart(
    terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path, fork_server_dir: Path
) -> None:
    with Emulator(access_token="pul-team-one") as one, Emulator(access_token="pul-team-two") as two:
        runs = [
            make_tf(terraform_binaries, plugins_dir, tmp_path / "one", one, fork_server_dir),
            make_tf(terraform_binaries, plugins_dir, tmp_path / "two", two, fork_server_dir),
        ]
        for tf, team in zip(runs, ("one", "two"), strict=True):
            tf.write(config([f"{team}-0"]))
            tf.init()
        runs[0].plan()  # start and warm a daemon for both

        def cycle(tf: Terraform, team: str) -> None:
            for round_ in range(1, 4):  # names are never reusable: each round has its own
                tf.write(config([f"{team}-{round_}-a", f"{team}-{round_}-b"]))
                tf.apply()

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(cycle, runs, ("one", "two")))
        # Each emulator only accepts its own token, so any crossed credential would have failed.
        assert live(one) == ["one-3-a", "one-3-b"]
        assert live(two) == ["two-3-a", "two-3-b"]
        assert all(served_pids(tf) for tf in runs), "the runs were not served by the fork-server"
