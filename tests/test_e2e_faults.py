"""Real Terraform 1.15.5 against a misbehaving emulator: the reliability report passes, Ctrl-C stops
an apply quickly without leaving an orphan, and a TRACE log under faults holds no secret.

The pure parts of the report (reading diagnostics, comparing state with the service) are checked
first, on made-up data, so that a report saying PASS is known to be able to say FAIL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.emulator import Emulator
from support.tf import Completed, Terraform

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORT_SCRIPT = REPO_ROOT / "benchmarks" / "faults.py"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
ACCESS_TOKEN = "pul-e2e-faults-access-token-0123456789"
TERRAFORM_VERSION = "1.15.5"

#: The functional bound from the issue: after Ctrl-C, Terraform is gone within this many seconds.
CTRL_C_EXIT_BOUND = 5.0


def count_config(count: int, prefix: str) -> str:
    return f"""
terraform {{
  required_providers {{
    pulumiservice = {{ source = "pulumi/pulumiservice" }}
  }}
}}

resource "{ORGTOKEN}" "t" {{
  count       = {count}
  org_name    = "acme"
  name        = "{prefix}-${{count.index}}"
  description = "fault test"
}}
"""


@pytest.fixture(scope="module")
def report_module() -> ModuleType:
    """benchmarks/faults.py, imported by path (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("faults_report", REPORT_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tf15(terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path) -> Terraform:
    return Terraform(terraform_binaries[TERRAFORM_VERSION], tmp_path / "config", plugins_dir)


def live_tokens(emulator: Emulator) -> list[dict[str, Any]]:
    status, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=active&maxResults=1000")
    assert status == 200, body
    assert not body.get("continuationToken")
    tokens: list[dict[str, Any]] = body["tokens"]
    return tokens


def state_resources(tf: Terraform) -> dict[str, dict[str, Any]]:
    """Resource address -> attribute values, from the current state."""
    values = tf.show_json().get("values") or {}
    resources = (values.get("root_module") or {}).get("resources") or []
    return {r["address"]: r["values"] for r in resources}


# --- the report's own logic, on made-up data ------------------------------------------------------


def test_report_reads_lost_values_from_json_diagnostics(report_module: ModuleType) -> None:
    lost = {
        "type": "diagnostic",
        "diagnostic": {
            "severity": "error",
            "summary": "Token 'rel-7-v2' was created in organization 'acme' but its value was lost",
            "detail": "... choose a new `name` and apply again.",
            "address": f"{ORGTOKEN}.rel[7]",
        },
    }
    throttled = {
        "type": "diagnostic",
        "diagnostic": {"severity": "error", "summary": "Could not create token: HTTP 429", "detail": "wait"},
    }
    warning = {"type": "diagnostic", "diagnostic": {"severity": "warning", "summary": "s", "detail": "d"}}
    text = "\n".join(
        [json.dumps(lost), "not json", json.dumps({"type": "apply_start"}), json.dumps(throttled)]
    )
    text += "\n" + json.dumps(warning)
    found = report_module.parse_diagnostics(text)
    assert [d.severity for d in found] == ["error", "error", "warning"]
    assert found[0].value_lost and found[0].asks_for_new_name and found[0].index == 7
    assert not found[1].value_lost and not found[1].asks_for_new_name and found[1].index is None
    assert not found[2].value_lost


def test_report_reads_provider_counters_when_logged(report_module: ModuleType) -> None:
    log = (
        "[DEBUG] provider: create of token 'rel-1-v1' in 'acme' got no clear answer; listing to check\n"
        "[INFO] provider: cloud client: retries=4 retries.rate_limited=3 values_lost=1\n"
        "[INFO] provider: cloud client: retries=2 retries.rate_limited=0 values_lost=0\n"
    )
    parsed = report_module.parse_provider_log(log)
    assert parsed.retries == 6 and parsed.counters["retries.rate_limited"] == 3
    assert parsed.ambiguous_creates == 1
    assert report_module.parse_provider_log("nothing here").retries is None


def test_report_fails_on_orphans_duplicates_and_undeleted_lost_values(report_module: ModuleType) -> None:
    m = report_module
    configured = {0: "rel-0-v1", 1: "rel-1-v2"}
    state = {0: {"name": "rel-0-v1", "token_id": "a"}, 1: {"name": "rel-1-v2", "token_id": "b"}}
    agreeing = m.Snapshot(
        configured, state, [{"id": "a", "name": "rel-0-v1"}, {"id": "b", "name": "rel-1-v2"}]
    )
    assert agreeing.disagreements() == [] and agreeing.orphans == [] and agreeing.duplicates == {}

    live = [*agreeing.live, {"id": "c", "name": "rel-1-v2"}]
    broken = m.Snapshot(configured, state, live)
    assert [t["id"] for t in broken.orphans] == ["c"] and broken.duplicates == {"rel-1-v2": 2}
    assert broken.disagreements() == ["rel-1-v2 is live 2 times"]

    # rel-1-v1's value was lost and reported; its orphan was never deleted: FAIL, naming it.
    lost = m.Diagnostic("error", "Token 'rel-1-v1' ... value was lost", "", None)
    phase = m.Phase("apply 1", 1, 1.0, [lost], {}, {}, m.ProviderLog({}, 0), renamed={1: "rel-1-v1"})
    report = m.Report(m.Options(tokens=2), "x", phases=[phase], after_apply=agreeing)
    report.audit = [
        {"event": "token.created", "tokenId": "a", "tokenName": "rel-0-v1"},
        {"event": "token.created", "tokenId": "lost", "tokenName": "rel-1-v1"},
        {"event": "token.created", "tokenId": "b", "tokenName": "rel-1-v2"},
    ]
    check = m._lost_values_check(report, agreeing)
    assert not check.passed and "not deleted: rel-1-v1" in check.detail
    report.audit.append({"event": "token.deleted", "tokenId": "lost", "tokenName": "rel-1-v1"})
    assert m._lost_values_check(report, agreeing).passed
    report.phases = []  # the same orphan, never reported to the user: FAIL
    check = m._lost_values_check(report, agreeing)
    assert not check.passed and "lost without an error: rel-1-v1" in check.detail


# --- real Terraform ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="standard-faults"),
        # Enough dropped create answers that values are lost and names bumped in every run.
        pytest.param(["--drop-after-commit-rate", "0.15", "--max-rounds", "8"], id="many-lost-values"),
    ],
)
def test_quick_reliability_report_passes(tmp_path: Path, extra: list[str]) -> None:
    summary_file = tmp_path / "report.json"
    completed = subprocess.run(
        [sys.executable, str(REPORT_SCRIPT), "--quick", "--json", str(summary_file), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "RESULT: PASS" in completed.stdout and "FAIL" not in completed.stdout, output
    summary = json.loads(summary_file.read_text())
    assert summary["tokens"] == 20 and summary["passed"] is True
    assert len(summary["checks"]) == 8 and all(c["passed"] for c in summary["checks"])
    # The faults really happened and Terraform really made requests through them.
    phases = summary["phases"]
    assert sum(sum(p["faults"].values()) for p in phases) > 0, output
    assert summary["after_apply"]["in_state"] == summary["after_apply"]["live"] == 20
    assert summary["after_destroy"]["live"] == 0
    if extra:
        applies = [p for p in phases if p["name"].startswith("apply")]
        lost = sum(p["values_lost"] for p in applies)
        assert lost > 0 and len(applies) > 1, output
        assert sum(len(p["renamed"]) for p in applies) == lost


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"], extra_args=["--latency-ms", "500"]) as running:
        yield running


def test_ctrl_c_stops_apply_quickly_and_leaves_no_orphan(
    tf15: Terraform, slow_emulator: Emulator, tmp_path: Path
) -> None:
    tf = tf15
    tf.env_extra.update(PULUMI_ACCESS_TOKEN=ACCESS_TOKEN, PULUMI_BACKEND_URL=slow_emulator.url)
    tf.write(count_config(50, "cc"))
    tf.init()
    stdout_file, stderr_file = tmp_path / "apply.out", tmp_path / "apply.err"
    # Files, not pipes: a pipe would also wait for any provider process that kept it open.
    with stdout_file.open("w") as out, stderr_file.open("w") as err:
        process = subprocess.Popen(
            [str(tf.binary), "apply", "-input=false", "-no-color", "-auto-approve", "-parallelism=10"],
            cwd=tf.workdir,
            env=tf.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            wait_until_creating(process, stdout_file, started=time.monotonic())
            time.sleep(0.25)  # the next creates are now in flight (each answer takes 500 ms)
            assert process.poll() is None, "apply finished before the interrupt; the test proves nothing"
            # What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
            os.killpg(process.pid, signal.SIGINT)
            signalled = time.monotonic()
            try:
                returncode = process.wait(timeout=30)
            finally:
                exited_after = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    output = stdout_file.read_text() + stderr_file.read_text()
    assert exited_after < CTRL_C_EXIT_BOUND, f"Terraform took {exited_after:.1f} s to stop\n{output}"
    assert returncode != 0, output  # interrupted, not finished
    assert "Interrupt received" in output, output

    # Every live token is in the state, by ID, and every token in the state is live. Read after more
    # than the emulator's latency, so a create still on its way would have landed by now.
    time.sleep(1.0)
    state = state_resources(tf)
    live = live_tokens(slow_emulator)
    assert 0 < len(state) < 50, f"{len(state)} tokens in the state; the interrupt came too early or late"
    assert {str(v["token_id"]) for v in state.values()} == {t["id"] for t in live}
    for values in state.values():
        assert values["token_value"].startswith("pul-")

    # A plan (no faults) wants to create exactly the tokens that are missing, and to change nothing else.
    plan = tf.plan("-out=after-interrupt.tfplan", "-detailed-exitcode", check=False)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    changes = tf.show_json("after-interrupt.tfplan")["resource_changes"]
    creates = {c["address"] for c in changes if c["change"]["actions"] == ["create"]}
    others = {
        c["address"]: c["change"]["actions"]
        for c in changes
        if c["change"]["actions"] not in (["create"], ["no-op"])
    }
    everything = {f"{ORGTOKEN}.t[{i}]" for i in range(50)}
    assert others == {}
    assert creates == everything - set(state)


def wait_until_creating(process: subprocess.Popen[bytes], stdout_file: Path, started: float) -> None:
    """Return once Terraform has completed a create and about 2.5 s have passed since ``started``.

    A fixed sleep alone would sometimes interrupt the plan, before any create (start-up time
    varies with the machine's load), and then the test would prove nothing about in-flight work.
    """
    deadline = started + 60.0
    while "Creation complete" not in stdout_file.read_text() or time.monotonic() - started < 2.5:
        assert process.poll() is None, (
            "apply ended before it could be interrupted:\n" + stdout_file.read_text()
        )
        assert time.monotonic() < deadline, "no create completed within 60 s:\n" + stdout_file.read_text()
        time.sleep(0.05)


FAULTS_WITHOUT_LOST_VALUES = [
    "--seed",
    "11",
    "--error-rate",
    "0.15",
    "--throttle-rate",
    "0.1",
    "--reset-rate",
    "0.05",
]


def test_trace_log_under_faults_holds_no_secret(
    tf15: Terraform, tmp_path: Path, report_module: ModuleType
) -> None:
    log = tmp_path / "terraform.log"
    with Emulator(
        access_token=ACCESS_TOKEN, orgs=["acme"], extra_args=FAULTS_WITHOUT_LOST_VALUES
    ) as emulator:
        tf = tf15
        tf.env_extra.update(
            PULUMI_ACCESS_TOKEN=ACCESS_TOKEN,
            PULUMI_BACKEND_URL=emulator.url,
            TF_LOG="TRACE",
            TF_LOG_PATH=str(log),
        )
        tf.write(count_config(8, "trace"))
        tf.init()
        outputs = [retry_until_success(tf, "apply")]
        state = state_resources(tf)
        values = [v["token_value"] for v in state.values()]
        assert len(values) == 8 and all(v.startswith("pul-") for v in values)
        outputs.append(tf.plan(check=False))
        outputs.append(retry_until_success(tf, "destroy"))
        assert report_module.live_tokens(emulator) == []  # reads through the faults, retrying
        faults = emulator.stats()["faults"]
    assert faults["error"] + faults["throttle"] + faults["reset"] > 0, faults  # the run really was faulted
    assert faults["drop_after_commit"] == 0
    text = log.read_text()
    assert "ApplyResourceChange" in text  # the log really is at TRACE
    for secret in (ACCESS_TOKEN, *values):
        assert text.count(secret) == 0
        for completed in outputs:
            assert secret not in completed.stdout and secret not in completed.stderr


def retry_until_success(tf: Terraform, command: str, rounds: int = 3) -> Completed:
    """Apply or destroy again after a failure, as a user would; every attempt's output is kept in
    the returned result, so the secret checks cover the failed attempts too."""
    stdout = stderr = ""
    for _ in range(rounds):
        completed = getattr(tf, command)(check=False)
        stdout += completed.stdout
        stderr += completed.stderr
        if completed.returncode == 0:
            return subprocess.CompletedProcess(completed.args, 0, stdout, stderr)
    raise AssertionError(f"`terraform {command}` failed {rounds} times under faults:\n{stdout}\n{stderr}")
