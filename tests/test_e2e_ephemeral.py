"""Real Terraform 1.15.5 with the ephemeral organization token: a run mints its own short-lived
credential, uses it, and deletes it, and the value is in no plan or state file.

The configuration opens `ephemeral.pulumiservice_api_tokens_orgtoken.ci` with the default provider
(whose access token comes from a sensitive variable; PULUMI_ACCESS_TOKEN is not set), feeds its
value to a second provider block as `access_token`, and creates a token through that provider.
That create can only succeed with the ephemeral value: the emulator accepts the value of a live
token it issued as a credential, as Pulumi Cloud does.

To prove no value leaked, the emulator writes every value it issues to a file
(`--record-issued-values`, a test aid); the ephemeral ones are told apart by pairing that file,
line by line, with the creation events of the audit log (both are in creation order). Every such
value is then searched for in the saved plan (its raw bytes and every file inside it, also in
base64), `terraform show -json` of plan and state, the state file, and Terraform's output.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.emulator import Emulator
from support.install_terraform import NEW_VERSION
from support.tf import Completed, Terraform

ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
ADMIN_TOKEN = "pul-e2e-ephemeral-admin-token-0123"
PREFIX = "tf-run-"

CONFIG = f"""
terraform {{
  required_providers {{
    pulumiservice = {{ source = "pulumi/pulumiservice" }}
  }}
}}

variable "admin_token" {{
  type      = string
  sensitive = true
}}

provider "pulumiservice" {{
  access_token = var.admin_token
}}

ephemeral "{ORGTOKEN}" "ci" {{
  org_name    = "acme"
  name_prefix = "{PREFIX}"
  reason      = "scoped run"
  expires_in  = 900
}}

provider "pulumiservice" {{
  alias        = "scoped"
  access_token = ephemeral.{ORGTOKEN}.ci.token_value
}}

resource "{ORGTOKEN}" "made" {{
  provider = pulumiservice.scoped
  org_name = "acme"
  name     = "made-by-scoped"
}}
"""


@dataclass(frozen=True)
class Issued:
    name: str
    token_id: str
    value: str
    reason: str | None


@pytest.fixture
def issued_file(tmp_path: Path) -> Path:
    return tmp_path / "issued-values.txt"


@pytest.fixture
def emulator(issued_file: Path) -> Iterator[Emulator]:
    with Emulator(
        access_token=ADMIN_TOKEN, orgs=["acme"], extra_args=["--record-issued-values", str(issued_file)]
    ) as running:
        yield running


@pytest.fixture
def tf(
    terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path, emulator: Emulator
) -> Terraform:
    """Terraform 1.15.5 only: ephemeral resources need 1.10 or later. No PULUMI_ACCESS_TOKEN: the
    default provider gets the admin token from a variable, the scoped one only the ephemeral value."""
    env = {"TF_VAR_admin_token": ADMIN_TOKEN, "PULUMI_BACKEND_URL": emulator.url}
    return Terraform(terraform_binaries[NEW_VERSION], tmp_path / "config", plugins_dir, env)


def issued_tokens(emulator: Emulator, issued_file: Path) -> list[Issued]:
    """Every token the emulator created, with its value: the recorded values paired with the
    audit log's creation events, both in creation order."""
    values = issued_file.read_text().splitlines() if issued_file.exists() else []
    status, body = emulator.call("GET", "/api/orgs/acme/auditlogs")
    assert status == 200
    created = [e for e in body["auditLogEvents"] if e["event"] == "token.created"]
    assert len(created) == len(values), (created, len(values))
    pairs = zip(created, values, strict=True)
    return [Issued(e["tokenName"], e["tokenId"], value, e["reason"]) for e, value in pairs]


def deleted_ids(emulator: Emulator) -> set[str]:
    status, body = emulator.call("GET", "/api/orgs/acme/auditlogs")
    assert status == 200
    return {e["tokenId"] for e in body["auditLogEvents"] if e["event"] == "token.deleted"}


def live_tokens(emulator: Emulator) -> list[dict[str, Any]]:
    status, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=all")
    assert status == 200
    tokens: list[dict[str, Any]] = body["tokens"]
    return tokens


def plan_file_texts(path: Path) -> dict[str, bytes]:
    """The saved plan's raw bytes and each file inside it (a plan is a zip archive)."""
    raw = path.read_bytes()
    texts = {"<plan file bytes>": raw}
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            texts[name] = archive.read(name)
    return texts


def leaks(value: str, places: dict[str, bytes]) -> list[str]:
    """Where ``value`` (or its base64, or the part after ``pul-``) appears."""
    forms = [value.encode(), value[4:].encode(), base64.b64encode(value.encode()).rstrip(b"=")]
    return [where for where, data in places.items() if any(form in data for form in forms)]


def outputs(*runs: Completed) -> dict[str, bytes]:
    return {f"output of {' '.join(run.args[1:3])}": (run.stdout + run.stderr).encode() for run in runs}


def test_ephemeral_token_scopes_a_provider_and_never_reaches_plan_or_state(
    tf: Terraform, emulator: Emulator, issued_file: Path
) -> None:
    tf.write(CONFIG)
    tf.init()
    validated = tf.validate()

    planned = tf.plan("-out=tfplan")
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in planned.stdout
    places = plan_file_texts(tf.workdir / "tfplan")
    places["show -json of the plan"] = tf.run("show", "-json", "tfplan").stdout.encode()

    applied = tf.apply("tfplan")
    assert "Apply complete! Resources: 1 added" in applied.stdout
    places["state file"] = (tf.workdir / "terraform.tfstate").read_bytes()
    places["show -json of the state"] = tf.run("show", "-json").stdout.encode()
    places.update(outputs(validated, planned, applied))

    issued = issued_tokens(emulator, issued_file)
    ephemeral = [t for t in issued if t.name.startswith(PREFIX)]
    (made,) = [t for t in issued if t.name == "made-by-scoped"]

    # Plan and apply each opened the ephemeral resource: two tokens, each with a name of its own,
    # the configured reason, and each deleted when its run closed it.
    assert len(ephemeral) == 2 and len({t.name for t in ephemeral}) == 2
    assert all(len(t.name) == len(PREFIX) + 12 and t.reason == "scoped run" for t in ephemeral)
    assert {t.token_id for t in ephemeral} <= deleted_ids(emulator)
    assert [t["name"] for t in live_tokens(emulator)] == ["made-by-scoped"]

    # The scan works: the managed token's own value is in the state, where it belongs...
    state = json.loads(places["state file"])
    (resource,) = state["resources"]
    assert resource["instances"][0]["attributes"]["token_value"] == made.value
    assert leaks(made.value, places) == ["state file", "show -json of the state"]
    # ...and no ephemeral value is anywhere.
    for token in ephemeral:
        assert leaks(token.value, places) == [], f"{token.name}'s value leaked"

    destroyed = tf.destroy()
    assert "Resources: 1 destroyed" in destroyed.stdout
    after = issued_tokens(emulator, issued_file)
    ephemeral_after = [t for t in after if t.name.startswith(PREFIX)]
    assert len(ephemeral_after) > len(ephemeral)  # destroy opened it again
    assert live_tokens(emulator) == []  # every ephemeral token was closed, and the made one destroyed
    assert {t.token_id for t in after} <= deleted_ids(emulator)
    final = {"state file": (tf.workdir / "terraform.tfstate").read_bytes(), **outputs(destroyed)}
    for token in ephemeral_after:
        assert leaks(token.value, final) == [], f"{token.name}'s value leaked"


def test_validate_reports_bad_ephemeral_arguments_on_the_attribute(tf: Terraform) -> None:
    tf.write(
        CONFIG.replace("expires_in  = 900", "expires_in  = 10").replace(
            f'name_prefix = "{PREFIX}"', f'name_prefix = "{"p" * 29}"'
        )
    )
    tf.init()
    result = tf.validate(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, output
    assert "Invalid token lifetime" in output and "`expires_in` is 10" in output
    assert "Invalid name prefix" in output and "at most 28 fit" in output
