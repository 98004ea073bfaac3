"""Real Terraform (1.0.3 and 1.15.5) manages tokens in the local Pulumi Cloud emulator:
create, refresh, drift, import, replacement, audit reasons, destroy, and no secret in any log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.emulator import Emulator
from support.tf import Terraform, TerraformError

ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
ACCESS_TOKEN = "pul-e2e-access-token-0123456789"

HEADER = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""


def token_block(
    name: str = "ci", description: str = "for CI", reason: str | None = "set up CI", label: str = "t"
) -> str:
    lines = [f'  name        = "{name}"', '  org_name    = "acme"', f'  description = "{description}"']
    if reason is not None:
        lines.append(f'  reason      = "{reason}"')
    return f'resource "{ORGTOKEN}" "{label}" {{\n' + "\n".join(lines) + "\n}\n"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


@pytest.fixture
def tf(terraform: Terraform, emulator: Emulator) -> Terraform:
    terraform.env_extra.update(PULUMI_ACCESS_TOKEN=ACCESS_TOKEN, PULUMI_BACKEND_URL=emulator.url)
    return terraform


def live_tokens(emulator: Emulator) -> list[dict[str, Any]]:
    status, body = emulator.call("GET", "/api/orgs/acme/tokens?filter=active")
    assert status == 200
    tokens: list[dict[str, Any]] = body["tokens"]
    return tokens


def state_values(tf: Terraform) -> dict[str, Any]:
    state = tf.show_json()
    (resource,) = state["values"]["root_module"]["resources"]
    values: dict[str, Any] = resource["values"]
    return values


def test_create_refresh_drift(tf: Terraform, emulator: Emulator) -> None:
    tf.write(HEADER + token_block())
    tf.init()
    tf.apply()
    values = state_values(tf)
    (live,) = live_tokens(emulator)
    assert values["token_id"] == live["id"] and values["id"] == f"acme/{live['id']}"
    assert values["token_value"].startswith("pul-")
    assert values["admin"] is False and values["expires"] == 0 and values["description"] == "for CI"

    # A second plan refreshes against the service and finds nothing to do.
    assert tf.plan("-detailed-exitcode").returncode == 0

    # Deleted out of band: the refresh notices and Terraform plans a new one.
    status, _ = emulator.call("DELETE", f"/api/orgs/acme/tokens/{live['id']}")
    assert status == 204
    drift = tf.plan("-detailed-exitcode", check=False)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert f"{ORGTOKEN}.t will be created" in drift.stdout


@pytest.mark.parametrize("form", ["ORG/TOKEN_ID", "ORG/NAME/TOKEN_ID"])
def test_import_then_matching_plan_has_no_replacement(tf: Terraform, emulator: Emulator, form: str) -> None:
    status, created = emulator.call(
        "POST",
        "/api/orgs/acme/tokens",
        {"name": "team/deployer", "description": "made by hand", "expires": 0},
    )
    assert status == 200
    import_id = f"acme/{created['id']}" if form == "ORG/TOKEN_ID" else f"acme/team/deployer/{created['id']}"
    tf.write(HEADER + token_block(name="team/deployer", description="made by hand", reason=None))
    tf.init()
    tf.run("import", "-input=false", "-no-color", f"{ORGTOKEN}.t", import_id)
    values = state_values(tf)
    assert values["id"] == f"acme/{created['id']}" and values["name"] == "team/deployer"
    assert values["token_value"] is None  # the service never reveals it again
    plan = tf.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "must be replaced" not in plan.stdout


def test_import_of_a_missing_token_fails_clearly(tf: Terraform) -> None:
    tf.write(HEADER + token_block())
    tf.init()
    with pytest.raises(TerraformError) as failure:
        tf.run("import", "-input=false", "-no-color", f"{ORGTOKEN}.t", "acme/00000000-dead-beef")
    assert "Token not found" in failure.value.stdout + failure.value.stderr


def test_same_name_replacement_is_refused_and_new_name_replaces(tf: Terraform, emulator: Emulator) -> None:
    tf.write(HEADER + token_block())
    tf.init()
    tf.apply()
    (original,) = live_tokens(emulator)

    tf.write(HEADER + token_block(description="new words"))
    with pytest.raises(TerraformError) as failure:
        tf.apply()
    output = failure.value.stdout + failure.value.stderr
    assert "Token name cannot be reused" in output and "never reuses a token name" in output
    assert [t["id"] for t in live_tokens(emulator)] == [original["id"]]  # nothing destroyed
    assert state_values(tf)["token_id"] == original["id"]

    tf.write(HEADER + token_block(name="ci-v2", description="new words"))
    plan = tf.plan().stdout
    assert "must be replaced" in plan and "1 to add, 0 to change, 1 to destroy" in plan
    tf.apply()
    (replacement,) = live_tokens(emulator)
    assert replacement["name"] == "ci-v2" and replacement["id"] != original["id"]
    assert state_values(tf)["token_id"] == replacement["id"]


def test_reason_change_is_in_place_and_reaches_the_audit_log(tf: Terraform, emulator: Emulator) -> None:
    tf.write(HEADER + token_block(reason="ticket OPS-1"))
    tf.init()
    tf.apply()
    status, audit = emulator.call("GET", "/api/orgs/acme/auditlogs")
    assert status == 200
    assert [e["reason"] for e in audit["auditLogEvents"] if e["event"] == "token.created"] == ["ticket OPS-1"]

    (before,) = live_tokens(emulator)
    tf.write(HEADER + token_block(reason="ticket OPS-2"))
    plan = tf.plan().stdout
    assert "0 to add, 1 to change, 0 to destroy" in plan
    tf.apply()
    (after,) = live_tokens(emulator)
    assert after["id"] == before["id"]  # no API call replaced it
    assert state_values(tf)["reason"] == "ticket OPS-2"


def test_destroy_leaves_no_live_token(tf: Terraform, emulator: Emulator) -> None:
    tf.write(HEADER + token_block(label="a", name="a") + token_block(label="b", name="b"))
    tf.init()
    tf.apply()
    assert len(live_tokens(emulator)) == 2
    tf.destroy()
    assert live_tokens(emulator) == []
    _, audit = emulator.call("GET", "/api/orgs/acme/auditlogs")
    assert (
        sorted(e["event"] for e in audit["auditLogEvents"]) == ["token.created"] * 2 + ["token.deleted"] * 2
    )


def test_missing_access_token_is_a_clear_error_only_when_needed(
    terraform: Terraform, emulator: Emulator
) -> None:
    terraform.env_extra.update(PULUMI_BACKEND_URL=emulator.url)
    terraform.env_extra.pop("PULUMI_ACCESS_TOKEN", None)
    terraform.write(HEADER + token_block())
    terraform.init()
    terraform.validate()
    terraform.plan()  # a plan of a new token needs no API call
    with pytest.raises(TerraformError) as failure:
        terraform.apply()
    output = failure.value.stdout + failure.value.stderr
    assert "Missing Pulumi Cloud access token" in output and "PULUMI_ACCESS_TOKEN" in output


def test_wrong_access_token_says_what_to_do(terraform: Terraform, emulator: Emulator) -> None:
    terraform.env_extra.update(PULUMI_ACCESS_TOKEN="pul-wrong-token-abcdef", PULUMI_BACKEND_URL=emulator.url)
    terraform.write(HEADER + token_block())
    terraform.init()
    with pytest.raises(TerraformError) as failure:
        terraform.apply()
    output = failure.value.stdout + failure.value.stderr
    assert "401" in output and "pul-wrong-token-abcdef" not in output


def test_trace_logs_never_hold_secrets(tf: Terraform, emulator: Emulator, tmp_path: Path) -> None:
    log = tmp_path / "terraform.log"
    tf.env_extra.update(TF_LOG="TRACE", TF_LOG_PATH=str(log))
    tf.write(HEADER + token_block(label="a", name="a") + token_block(label="b", name="b"))
    tf.init()
    outputs = [tf.apply()]
    values = [r["values"]["token_value"] for r in tf.show_json()["values"]["root_module"]["resources"]]
    assert len(values) == 2 and all(v.startswith("pul-") for v in values)
    outputs += [tf.plan(), tf.destroy()]
    text = log.read_text()
    assert "ApplyResourceChange" in text  # the log really is at TRACE
    for secret in (ACCESS_TOKEN, *values):
        assert secret not in text
        for completed in outputs:
            assert secret not in completed.stdout and secret not in completed.stderr


def test_forced_replacement_keeping_the_name_is_refused_before_anything_is_deleted(
    tf: Terraform, emulator: Emulator
) -> None:
    tf.write(HEADER + token_block())
    tf.init()
    tf.apply()
    (original,) = live_tokens(emulator)
    with pytest.raises(TerraformError) as failure:
        tf.apply(f"-replace={ORGTOKEN}.t")
    output = failure.value.stdout + failure.value.stderr
    assert "Token name already in use" in output and f"acme/{original['id']}" in output
    assert [t["id"] for t in live_tokens(emulator)] == [original["id"]]  # the working token stays
