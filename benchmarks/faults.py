"""`make faults`: the reliability report, real Terraform against a Pulumi Cloud that misbehaves.

Why this exists: the provider's request policy (GET and DELETE retried with backoff, a create whose
answer went missing settled by listing, a lost token value reported and its token deleted) is only
worth trusting once it holds up end to end, under Terraform's own parallelism, against a service
that fails the way real ones do. Unit tests check the pieces; this report checks the outcome a
user cares about: after the dust settles, Terraform's state and Pulumi Cloud agree, and no live
credential exists that nobody holds.

What it does, with real Terraform (1.15.5 by default) and the local emulator injecting 5xx
answers, 429 throttling, connection resets and dropped create answers (seeded, so a run can be
repeated):

1. ``terraform apply`` of N tokens named ``rel-<index>-v1``;
2. while an apply fails, do what its errors say, as a user would: an error that asks for a new
   ``name`` (a value lost in transit: Pulumi Cloud never reuses a name) gets the next version,
   ``-v2``, ``-v3``..., through the ``versions`` variable; then apply again (bounded rounds).
   Which names to change is read from Terraform's ``-json`` diagnostics only; the emulator is
   consulted afterwards, to verify, never to decide;
3. ``terraform destroy``, faults still on, again until it succeeds (bounded);

then it prints a table (tokens in config, in state, live, orphans, duplicates, values lost,
errors, requests and faults per phase, provider retries when its log reports them, wall time) and
PASS/FAIL lines, and exits non-zero on any FAIL.

    .venv/bin/python benchmarks/faults.py [--tokens 200] [--parallelism 20] [--seed 7] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The project's Terraform and emulator harness lives with the tests; the report drives it the same way.
sys.path.insert(0, str(ROOT / "tests"))

from support.emulator import Emulator  # noqa: E402
from support.provider_install import install_provider  # noqa: E402
from support.tf import Terraform  # noqa: E402

DEFAULT_TERRAFORM = ROOT / ".tools" / "bin" / "terraform-1.15.5"
ORG = "acme"
ACCESS_TOKEN = "pul-reliability-report-access-token"
RESOURCE_TYPE = "pulumiservice_api_tokens_orgtoken"
RESOURCE_NAME = "rel"
QUICK_TOKENS = 20
#: Long enough for 200 tokens riding out throttling at parallelism 20; a hung run still ends.
COMMAND_TIMEOUT = 1800.0
#: Request kinds the emulator counts that are the harness's own reads, not Terraform's traffic.
HARNESS_REQUEST_KINDS = frozenset({"stats", "audit_log"})

CONFIG = f"""\
terraform {{
  required_providers {{
    pulumiservice = {{ source = "pulumi/pulumiservice" }}
  }}
}}

variable "token_count" {{
  type = number
}}

# Index -> version of its name. Pulumi Cloud never reuses a token name, so when an error asks for a
# new name the index moves on to the next version.
variable "versions" {{
  type    = map(number)
  default = {{}}
}}

resource "{RESOURCE_TYPE}" "{RESOURCE_NAME}" {{
  count       = var.token_count
  org_name    = "{ORG}"
  name        = "rel-${{count.index}}-v${{lookup(var.versions, tostring(count.index), 1)}}"
  description = "reliability report"
}}
"""

_ADDRESS_INDEX = re.compile(re.escape(f"{RESOURCE_TYPE}.{RESOURCE_NAME}") + r"\[(\d+)\]$")
_NAME_INDEX = re.compile(r"'rel-(\d+)-v\d+'")
_STATS_PAIR = re.compile(r"\b([a-z_]+(?:\.[a-z_]+)?)=(\d+)\b")


def token_name(index: int, version: int) -> str:
    """The name the configuration gives token ``index`` at ``version`` (see :data:`CONFIG`)."""
    return f"rel-{index}-v{version}"


# --- fault settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """Fault rates for the emulator; the defaults are the report's standard mix."""

    error_rate: float = 0.10
    throttle_rate: float = 0.05
    reset_rate: float = 0.02
    drop_after_commit_rate: float = 0.02
    latency_ms: int = 0

    def emulator_args(self, seed: int) -> list[str]:
        return [
            "--seed", str(seed),
            "--error-rate", str(self.error_rate),
            "--throttle-rate", str(self.throttle_rate),
            "--reset-rate", str(self.reset_rate),
            "--drop-after-commit-rate", str(self.drop_after_commit_rate),
            "--latency-ms", str(self.latency_ms),
        ]  # fmt: skip

    def describe(self) -> str:
        return (
            f"errors {self.error_rate:.0%}, throttling {self.throttle_rate:.0%}, "
            f"resets {self.reset_rate:.0%}, dropped create answers {self.drop_after_commit_rate:.0%}, "
            f"latency {self.latency_ms} ms"
        )


# --- what Terraform said -------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic from ``terraform ... -json`` output."""

    severity: str
    summary: str
    detail: str
    address: str | None

    @property
    def index(self) -> int | None:
        """The ``count.index`` this diagnostic is about: from its address, else from a quoted name."""
        if self.address:
            match = _ADDRESS_INDEX.search(self.address)
            if match:
                return int(match.group(1))
        match = _NAME_INDEX.search(self.summary)
        return int(match.group(1)) if match else None

    @property
    def value_lost(self) -> bool:
        """The provider's report that a token was created but its one-time value never arrived."""
        return self.severity == "error" and "value was lost" in self.summary

    @property
    def asks_for_new_name(self) -> bool:
        """The error tells the user to choose a new `name` (what a user then does)."""
        return self.severity == "error" and "choose a new `name`" in self.detail


def parse_diagnostics(json_lines: str) -> list[Diagnostic]:
    """The diagnostics in Terraform's machine-readable (``-json``) output; other lines are skipped."""
    found: list[Diagnostic] = []
    for line in json_lines.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("type") != "diagnostic":
            continue
        body = message.get("diagnostic")
        if not isinstance(body, dict):
            continue
        address = body.get("address")
        found.append(
            Diagnostic(
                severity=str(body.get("severity", "")),
                summary=str(body.get("summary", "")),
                detail=str(body.get("detail", "")),
                address=address if isinstance(address, str) else None,
            )
        )
    return found


@dataclass(frozen=True)
class ProviderLog:
    """What the provider's own log lines say about its request policy.

    ``counters`` sums ``name=number`` pairs from lines reporting ``retries=`` (the provider's
    client counters, when it logs them); ``ambiguous_creates`` counts its lines saying that a create
    got no clear answer and was checked by listing.
    """

    counters: dict[str, int]
    ambiguous_creates: int

    @property
    def retries(self) -> int | None:
        return self.counters.get("retries")


def parse_provider_log(text: str) -> ProviderLog:
    counters: Counter[str] = Counter()
    ambiguous = 0
    for line in text.splitlines():
        if "retries=" in line:
            for name, number in _STATS_PAIR.findall(line):
                counters[name] += int(number)
        if "got no clear answer" in line:
            ambiguous += 1
        if "retrying Pulumi Cloud request" in line:  # one WARN line per retry (tfprovider.log)
            counters["retries"] += 1
    return ProviderLog(dict(counters), ambiguous)


# --- one Terraform command ------------------------------------------------------------------------


@dataclass
class Phase:
    """One Terraform command of the run and what it cost."""

    name: str
    returncode: int
    seconds: float
    diagnostics: list[Diagnostic]
    requests: dict[str, int]
    faults: dict[str, int]
    provider: ProviderLog
    renamed: dict[int, str] = field(default_factory=dict)
    """Index -> the name that was lost or refused, for indexes this phase's errors made us rename."""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def lost(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.value_lost]


def _delta(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, int]:
    return {key: int(after.get(key, 0)) - int(before.get(key, 0)) for key in after}


# --- reading the emulator (to verify, never to decide) -------------------------------------------


def harness_get(emulator: Emulator, path: str, attempts: int = 30) -> dict[str, Any]:
    """GET ``path`` from the emulator, repeating through injected faults (the report's own reads)."""
    problem = ""
    for attempt in range(attempts):
        try:
            status, body = emulator.call("GET", path)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # resets, plain-text 5xx
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if status == 200 and isinstance(body, dict):
                return body
            problem = f"HTTP {status}"
        time.sleep(min(1.0, 0.05 * 2**attempt))  # a 429 asks for about a second
    raise RuntimeError(f"GET {path} kept failing ({problem}) after {attempts} attempts")


def live_tokens(emulator: Emulator, token_filter: str = "active") -> list[dict[str, Any]]:
    """Every token the emulator lists under ``token_filter``, following continuation tokens."""
    tokens: list[dict[str, Any]] = []
    cursor = ""
    while True:
        path = f"/api/orgs/{ORG}/tokens?filter={token_filter}&maxResults=1000"
        if cursor:
            path += f"&continuationToken={cursor}"
        page = harness_get(emulator, path)
        tokens.extend(page.get("tokens") or [])
        cursor = page.get("continuationToken") or ""
        if not cursor:
            return tokens


def audit_events(emulator: Emulator) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = harness_get(emulator, f"/api/orgs/{ORG}/auditlogs")["auditLogEvents"]
    return events


def state_tokens(tf: Terraform) -> dict[int, dict[str, Any]]:
    """``count.index`` -> the token's attributes, from ``terraform show -json``."""
    values = tf.show_json().get("values") or {}
    resources = (values.get("root_module") or {}).get("resources") or []
    return {
        int(r["index"]): r["values"]
        for r in resources
        if r.get("type") == RESOURCE_TYPE and r.get("mode") == "managed"
    }


# --- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    tokens: int = 200
    parallelism: int = 20
    seed: int = 7
    max_rounds: int = 5
    faults: Faults = Faults()
    terraform: Path = DEFAULT_TERRAFORM
    workdir: Path | None = None


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Snapshot:
    """State versus emulator at one moment."""

    configured: dict[int, str]
    state: dict[int, dict[str, Any]]
    live: list[dict[str, Any]]

    @property
    def state_ids(self) -> set[str]:
        return {str(v["token_id"]) for v in self.state.values()}

    @property
    def orphans(self) -> list[dict[str, Any]]:
        return [t for t in self.live if t["id"] not in self.state_ids]

    @property
    def duplicates(self) -> dict[str, int]:
        counts = Counter(str(t["name"]) for t in self.live)
        return {name: n for name, n in counts.items() if n > 1}

    def disagreements(self) -> list[str]:
        """Why state and emulator are not the same set of configured tokens (empty when they are)."""
        problems: list[str] = []
        live_by_id = {str(t["id"]): str(t["name"]) for t in self.live}
        for index, name in sorted(self.configured.items()):
            held = self.state.get(index)
            if held is None:
                problems.append(f"[{index}] {name} is not in the state")
            elif held["name"] != name:
                problems.append(f"[{index}] state holds {held['name']}, config says {name}")
            elif live_by_id.get(str(held["token_id"])) != name:
                problems.append(f"[{index}] {name} ({held['token_id']}) is not live in the emulator")
        extra = sorted(set(self.state) - set(self.configured))
        problems += [f"[{index}] is in the state but not configured" for index in extra]
        live_names = Counter(live_by_id.values())
        problems += [
            f"{name} is live {live_names[name]} times"
            for name in sorted(set(self.configured.values()))
            if live_names[name] > 1
        ]
        return problems


@dataclass
class Report:
    options: Options
    terraform_version: str
    phases: list[Phase] = field(default_factory=list)
    after_apply: Snapshot | None = None
    after_destroy: Snapshot | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def applies(self) -> list[Phase]:
        return [p for p in self.phases if p.name.startswith("apply")]

    @property
    def destroys(self) -> list[Phase]:
        return [p for p in self.phases if p.name.startswith("destroy")]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """The report as JSON-able data (``--json``), for tools and tests."""

        def snap(s: Snapshot | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {
                "configured": len(s.configured),
                "in_state": len(s.state),
                "live": len(s.live),
                "orphans": len(s.orphans),
                "duplicates": len(s.duplicates),
            }

        return {
            "tokens": self.options.tokens,
            "parallelism": self.options.parallelism,
            "seed": self.options.seed,
            "terraform": self.terraform_version,
            "phases": [
                {
                    "name": p.name,
                    "returncode": p.returncode,
                    "seconds": round(p.seconds, 2),
                    "errors": len(p.errors),
                    "values_lost": len(p.lost),
                    "renamed": {str(i): n for i, n in p.renamed.items()},
                    "requests": p.requests,
                    "faults": p.faults,
                    "provider_counters": p.provider.counters,
                    "provider_ambiguous_creates": p.provider.ambiguous_creates,
                }
                for p in self.phases
            ],
            "after_apply": snap(self.after_apply),
            "after_destroy": snap(self.after_destroy),
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
            "passed": self.passed,
        }


class Run:
    """One reliability run: a work directory, an emulator with faults, and Terraform."""

    def __init__(self, options: Options, workdir: Path, emulator: Emulator) -> None:
        self.options = options
        self.emulator = emulator
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True)
        plugins = workdir / "plugins"
        install_provider(plugins)
        self.tf = Terraform(
            options.terraform,
            workdir / "config",
            plugins,
            env_extra={"PULUMI_ACCESS_TOKEN": ACCESS_TOKEN, "PULUMI_BACKEND_URL": emulator.url},
        )
        self.versions: dict[int, int] = {}
        self.vars_file = self.tf.workdir / "report.tfvars.json"

    def configured(self) -> dict[int, str]:
        return {i: token_name(i, self.versions.get(i, 1)) for i in range(self.options.tokens)}

    def write_config(self) -> None:
        self.tf.write(CONFIG)
        variables = {
            "token_count": self.options.tokens,
            "versions": {str(i): v for i, v in sorted(self.versions.items())},
        }
        self.vars_file.write_text(json.dumps(variables, indent=2) + "\n")

    def terraform(self, name: str, command: str) -> Phase:
        """Run ``terraform COMMAND -json`` with the provider logging to a file of its own."""
        log = self.logs / f"{name.replace(' ', '-')}.log"
        self.tf.env_extra.update(TF_LOG_PROVIDER="DEBUG", TF_LOG_PATH=str(log))
        before = self.emulator.stats()
        started = time.monotonic()
        completed = self.tf.run(
            command, "-json", "-input=false", "-auto-approve", f"-parallelism={self.options.parallelism}",
            f"-var-file={self.vars_file.name}", check=False, timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
        seconds = time.monotonic() - started
        after = self.emulator.stats()
        (self.logs / f"{name.replace(' ', '-')}.jsonl").write_text(completed.stdout)
        (self.logs / f"{name.replace(' ', '-')}.stderr").write_text(completed.stderr)
        requests = {
            k: v
            for k, v in _delta(after["requests"], before["requests"]).items()
            if k not in HARNESS_REQUEST_KINDS
        }
        return Phase(
            name=name,
            returncode=completed.returncode,
            seconds=seconds,
            diagnostics=parse_diagnostics(completed.stdout),
            requests=requests,
            faults=_delta(after["faults"], before["faults"]),
            provider=parse_provider_log(log.read_text() if log.exists() else ""),
        )

    def apply_until_success(self, report: Report) -> bool:
        for round_number in range(1, self.options.max_rounds + 1):
            self.write_config()
            names = self.configured()
            phase = self.terraform(f"apply {round_number}", "apply")
            report.phases.append(phase)
            _progress(phase)
            if phase.returncode == 0:
                return True
            # As a user: an error that asks for a new name gets one; anything else, just apply again.
            for diagnostic in phase.errors:
                index = diagnostic.index
                if diagnostic.asks_for_new_name and index is not None and index in names:
                    phase.renamed[index] = names[index]
                    self.versions[index] = self.versions.get(index, 1) + 1
        return False

    def destroy_until_success(self, report: Report) -> bool:
        for round_number in range(1, self.options.max_rounds + 1):
            phase = self.terraform(f"destroy {round_number}", "destroy")
            report.phases.append(phase)
            _progress(phase)
            if phase.returncode == 0:
                return True
        return False

    def snapshot(self) -> Snapshot:
        return Snapshot(self.configured(), state_tokens(self.tf), live_tokens(self.emulator))


def _progress(phase: Phase) -> None:
    outcome = "ok" if phase.returncode == 0 else f"exit {phase.returncode}"
    print(
        f"  {phase.name}: {outcome}, {len(phase.errors)} errors ({len(phase.lost)} values lost), "
        f"{phase.seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def check_run(report: Report, applied: bool, destroyed: bool) -> list[Check]:
    """The PASS/FAIL verdicts; each names what it compared."""
    checks: list[Check] = []
    options = report.options
    rounds = len(report.applies)
    checks.append(
        Check(
            "apply converged",
            applied,
            f"an apply succeeded in round {rounds}" if applied else f"no apply succeeded in {rounds} rounds",
        )
    )
    snap = report.after_apply
    assert snap is not None
    problems = snap.disagreements()
    checks.append(
        Check(
            "after the final apply, state and emulator agree exactly",
            not problems and len(snap.state) == len(snap.live) == options.tokens,
            f"{options.tokens} configured, {len(snap.state)} in state, {len(snap.live)} live"
            + (f"; {len(problems)} problems, first: {'; '.join(problems[:3])}" if problems else ""),
        )
    )
    checks.append(
        Check(
            "0 orphans (live tokens not in the state)",
            not snap.orphans,
            f"{len(snap.orphans)} orphans"
            + (f": {', '.join(str(t['name']) for t in snap.orphans[:5])}" if snap.orphans else ""),
        )
    )
    checks.append(
        Check(
            "0 duplicates (a name live more than once)",
            not snap.duplicates,
            f"{len(snap.duplicates)} duplicated names"
            + (f": {', '.join(sorted(snap.duplicates)[:5])}" if snap.duplicates else ""),
        )
    )
    checks.append(_lost_values_check(report, snap))
    dropped = sum(p.faults.get("drop_after_commit", 0) for p in report.applies)
    lost = sum(len(p.lost) for p in report.applies)
    checks.append(
        Check(
            "every create answer the emulator dropped was reported as a lost value",
            dropped == lost,
            f"{dropped} dropped by the emulator, {lost} reported lost by Terraform",
        )
    )
    checks.append(
        Check(
            "destroy converged",
            destroyed,
            f"succeeded in round {len(report.destroys)}"
            if destroyed
            else f"no destroy succeeded in {len(report.destroys)} rounds",
        )
    )
    gone = report.after_destroy
    assert gone is not None
    checks.append(
        Check(
            "after destroy, 0 live tokens and an empty state",
            not gone.live and not gone.state,
            f"{len(gone.live)} live, {len(gone.state)} in state",
        )
    )
    return checks


def _lost_values_check(report: Report, snap: Snapshot) -> Check:
    """Tokens created but never in the state must be exactly the lost values Terraform reported,
    and each must have been deleted (the audit log, read after the final apply, shows both)."""
    created = {str(e["tokenId"]): str(e["tokenName"]) for e in report.audit if e["event"] == "token.created"}
    deleted = {str(e["tokenId"]) for e in report.audit if e["event"] == "token.deleted"}
    unheld = {token_id: name for token_id, name in created.items() if token_id not in snap.state_ids}
    undeleted = sorted(name for token_id, name in unheld.items() if token_id not in deleted)
    reported = Counter(name for p in report.applies for d in p.lost if (name := _lost_name(d, p)) is not None)
    unheld_names = Counter(unheld.values())
    unreported = sorted((unheld_names - reported).elements())
    unexplained = sorted((reported - unheld_names).elements())
    passed = not undeleted and not unreported and not unexplained
    detail = f"{len(unheld)} created tokens never reached the state, {sum(reported.values())} reported lost"
    for label, names in (
        ("not deleted", undeleted),
        ("lost without an error", unreported),
        ("reported but not found in the audit log", unexplained),
    ):
        if names:
            detail += f"; {label}: {', '.join(names[:5])}"
    return Check("every lost value surfaced as an error and its orphan deleted", passed, detail)


def _lost_name(diagnostic: Diagnostic, phase: Phase) -> str | None:
    index = diagnostic.index
    if index is not None and index in phase.renamed:
        return phase.renamed[index]
    match = re.search(r"Token '([^']+)'", diagnostic.summary)
    return match.group(1) if match else None


def run_report(options: Options) -> Report:
    """Run the whole scenario and return the report (its checks filled in)."""
    if not options.terraform.is_file():
        raise SystemExit(f"{options.terraform} is missing; run `make terraform` first")
    with (
        _workdir(options.workdir) as workdir,
        Emulator(
            access_token=ACCESS_TOKEN, orgs=[ORG], extra_args=options.faults.emulator_args(options.seed)
        ) as emulator,
    ):
        run = Run(options, workdir, emulator)
        report = Report(options, run.tf.version())
        run.write_config()
        run.tf.init()
        applied = run.apply_until_success(report)
        report.after_apply = run.snapshot()
        report.audit = audit_events(emulator)
        destroyed = run.destroy_until_success(report)
        report.after_destroy = run.snapshot()
        report.checks = check_run(report, applied, destroyed)
        return report


#: Marks a --workdir as this report's, so a rerun may empty it; any other non-empty directory is refused.
WORKDIR_MARKER = ".faults-report"


@contextmanager
def _workdir(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        if chosen.exists() and any(chosen.iterdir()):
            if not (chosen / WORKDIR_MARKER).is_file():
                raise SystemExit(
                    f"--workdir {chosen} is not empty and not from an earlier report; choose another"
                )
            shutil.rmtree(chosen)
        chosen.mkdir(parents=True, exist_ok=True)
        (chosen / WORKDIR_MARKER).write_text("reliability report work directory; emptied by each run\n")
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="faults-report-") as directory:
        yield Path(directory)


# --- output ---------------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[object]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(report: Report) -> str:
    options = report.options
    out = [
        f"Reliability report: {options.tokens} tokens, -parallelism={options.parallelism}, "
        f"seed {options.seed}, Terraform {report.terraform_version}",
        f"Faults: {options.faults.describe()}",
        "",
    ]
    rows: list[list[object]] = [
        ["phase", "exit", "errors", "lost", "renamed", "requests", "create/list/delete",
         "faults", "err/429/rst/drop", "retries*", "seconds"],
    ]  # fmt: skip
    for p in report.phases:
        r, f = p.requests, p.faults
        retries = p.provider.retries
        rows.append([
            p.name, p.returncode, len(p.errors), len(p.lost), len(p.renamed), sum(r.values()),
            f"{r.get('create', 0)}/{r.get('list', 0)}/{r.get('delete', 0)}", sum(f.values()),
            f"{f.get('error', 0)}/{f.get('throttle', 0)}/{f.get('reset', 0)}/{f.get('drop_after_commit', 0)}",
            "n/a" if retries is None else retries, f"{p.seconds:.1f}",
        ])  # fmt: skip
    out.append(_table(rows))
    logged = any(p.provider.retries is not None for p in report.phases)
    out.append(
        "* retries as the provider logged them"
        + ("" if logged else " (n/a: its log reports no retry counters)")
        + "; requests and faults are counted by the emulator"
    )
    renamed = [
        f"{name} -> v{int(name.rpartition('-v')[2]) + 1}"
        for p in report.applies
        for name in p.renamed.values()
    ]
    if renamed:
        shown = ", ".join(renamed[:10]) + (f" and {len(renamed) - 10} more" if len(renamed) > 10 else "")
        out.append(f"  renamed because an error asked for a new name: {shown}")
    ambiguous = sum(p.provider.ambiguous_creates for p in report.phases)
    # The provider logs these at INFO; when its log holds none, it may just not have logged them.
    shown_ambiguous = str(ambiguous) if ambiguous else "none in the provider's log"
    out.append(f"  creates without a clear answer, settled by listing (provider log): {shown_ambiguous}")
    out.append("")
    a, d = report.after_apply, report.after_destroy
    assert a is not None and d is not None
    outcome_rows: list[list[object]] = [
        ["", "after final apply", "after destroy"],
        ["tokens in config", len(a.configured), len(d.configured)],
        ["tokens in state", len(a.state), len(d.state)],
        ["live in emulator", len(a.live), len(d.live)],
        ["orphans (live, not in state)", len(a.orphans), len(d.orphans)],
        ["duplicates (name live twice+)", len(a.duplicates), len(d.duplicates)],
        ["values lost (Terraform errors)", sum(len(p.lost) for p in report.applies), ""],
        ["errors surfaced, per round", " ".join(str(len(p.errors)) for p in report.applies),
         " ".join(str(len(p.errors)) for p in report.destroys)],
        ["rounds", len(report.applies), len(report.destroys)],
        ["requests (emulator)", sum(sum(p.requests.values()) for p in report.applies),
         sum(sum(p.requests.values()) for p in report.destroys)],
        ["faults injected (emulator)", sum(sum(p.faults.values()) for p in report.applies),
         sum(sum(p.faults.values()) for p in report.destroys)],
        ["wall time, s", f"{sum(p.seconds for p in report.applies):.1f}",
         f"{sum(p.seconds for p in report.destroys):.1f}"],
    ]  # fmt: skip
    out.append(_table(outcome_rows))
    out.append("")
    out += [f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in report.checks]
    out.append("")
    out.append("RESULT: PASS" if report.passed else "RESULT: FAIL")
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="faults.py",
        description="Reliability report: real Terraform applies and destroys tokens against the local "
        "Pulumi Cloud emulator with injected faults, then checks that state and service agree.",
    )
    parser.add_argument("--tokens", type=int, default=None, help="tokens in the configuration (default 200)")
    parser.add_argument("--quick", action="store_true", help=f"smoke test: {QUICK_TOKENS} tokens")
    parser.add_argument("--parallelism", type=int, default=20, help="terraform -parallelism (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="the emulator's fault seed (default 7)")
    parser.add_argument("--max-rounds", type=int, default=5, help="most applies (and destroys) (default 5)")
    defaults = Faults()
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate)
    parser.add_argument("--throttle-rate", type=float, default=defaults.throttle_rate)
    parser.add_argument("--reset-rate", type=float, default=defaults.reset_rate)
    parser.add_argument("--drop-after-commit-rate", type=float, default=defaults.drop_after_commit_rate)
    parser.add_argument("--latency-ms", type=int, default=defaults.latency_ms)
    parser.add_argument("--terraform", type=Path, default=DEFAULT_TERRAFORM, help="Terraform binary to drive")
    parser.add_argument(
        "--workdir", type=Path, default=None,
        help="keep configuration, state and logs here (emptied first); default: a temporary directory",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    tokens = args.tokens if args.tokens is not None else (QUICK_TOKENS if args.quick else 200)
    if tokens < 1 or args.parallelism < 1 or args.max_rounds < 1:
        parser.error("--tokens, --parallelism and --max-rounds must be at least 1")
    faults = Faults(
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        reset_rate=args.reset_rate,
        drop_after_commit_rate=args.drop_after_commit_rate,
        latency_ms=args.latency_ms,
    )
    options = Options(
        tokens=tokens,
        parallelism=args.parallelism,
        seed=args.seed,
        max_rounds=args.max_rounds,
        faults=faults,
        terraform=args.terraform,
        workdir=args.workdir,
    )
    return options, args.json


def main(argv: Sequence[str] | None = None) -> int:
    options, json_path = parse_args(argv)
    print(
        f"Running: {options.tokens} tokens, -parallelism={options.parallelism}, seed {options.seed} ...",
        file=sys.stderr,
        flush=True,
    )
    report = run_report(options)
    print(render(report), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps(report.summary(), indent=2) + "\n")
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
