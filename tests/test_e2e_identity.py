"""Real Terraform 1.15.5 with resource identity: identities in state, import by identity, and
configuration generated for an import that then plans no change.

Identity arrived in Terraform 1.12, so these run on 1.15.5 only; one test starts on 1.0.3, whose
state holds no identity, to show that 1.15.5 adds it on the next refresh without planning a change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.emulator import Emulator
from support.install_terraform import NEW_VERSION, OLD_VERSION
from support.tf import Terraform, TerraformError

ORGTOKEN = "pulumiservice_api_tokens_orgtoken"
ACCESS_TOKEN = "pul-e2e-identity-access-token-0123"

HEADER = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(access_token=ACCESS_TOKEN, orgs=["acme"]) as running:
        yield running


def harness(binary: Path, workdir: Path, plugins_dir: Path, emulator: Emulator) -> Terraform:
    env = {"PULUMI_ACCESS_TOKEN": ACCESS_TOKEN, "PULUMI_BACKEND_URL": emulator.url}
    return Terraform(binary, workdir, plugins_dir, env)


@pytest.fixture
def tf(
    terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path, emulator: Emulator
) -> Terraform:
    """Terraform 1.15.5 only: identity needs 1.12 or later."""
    return harness(terraform_binaries[NEW_VERSION], tmp_path / "config", plugins_dir, emulator)


def create_by_hand(emulator: Emulator, name: str, description: str) -> str:
    status, created = emulator.call(
        "POST", "/api/orgs/acme/tokens", {"name": name, "description": description, "expires": 0}
    )
    assert status == 200, created
    token_id: str = created["id"]
    return token_id


def state_instance(tf: Terraform) -> dict[str, Any]:
    """The one resource instance as the state file stores it (identity included)."""
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    ((instance,),) = [r["instances"] for r in state["resources"] if r["mode"] == "managed"]
    result: dict[str, Any] = instance
    return result


def identity_import_block(token_id: str, org: str = "acme") -> str:
    return (
        "import {\n"
        f"  to = {ORGTOKEN}.adopted\n"
        "  identity = {\n"
        f'    org_name = "{org}"\n'
        f'    token_id = "{token_id}"\n'
        "  }\n"
        "}\n"
    )


def test_import_by_identity_with_generated_config_then_no_changes(tf: Terraform, emulator: Emulator) -> None:
    token_id = create_by_hand(emulator, "team/deployer", "made by hand")
    tf.write(HEADER + identity_import_block(token_id))
    tf.init()

    generating = tf.plan("-generate-config-out=generated.tf")
    assert f"{ORGTOKEN}.adopted will be imported" in generating.stdout
    generated = (tf.workdir / "generated.tf").read_text()
    assert f'resource "{ORGTOKEN}" "adopted" {{' in generated
    assert 'name        = "team/deployer"' in generated
    assert 'org_name    = "acme"' in generated
    assert 'description = "made by hand"' in generated
    # Never `id`, `token_id` or the secret `token_value` (computed), nor `admin` and `expires` at
    # their defaults; Terraform writes the unset optional arguments as null.
    written = set(re.findall(r"^\s+([a-z_]+)\s+=", generated, flags=re.MULTILINE))
    assert written == {"description", "name", "org_name", "reason", "role_id"}, generated

    # The generated block is configuration as written by hand: it validates and plans only the import.
    assert "Success!" in tf.validate().stdout
    plan = tf.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 2, plan.stdout + plan.stderr  # 2: the import itself is pending
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in plan.stdout

    tf.apply()
    instance = state_instance(tf)
    assert instance["identity"] == {"org_name": "acme", "token_id": token_id}
    assert instance["identity_schema_version"] == 0
    assert instance["attributes"]["id"] == f"acme/{token_id}"
    assert instance["attributes"]["token_value"] is None and instance["attributes"]["reason"] is None
    settled = tf.plan("-detailed-exitcode", check=False)
    assert settled.returncode == 0, settled.stdout + settled.stderr


def test_import_by_identity_of_a_missing_token_fails_clearly(tf: Terraform) -> None:
    tf.write(
        HEADER
        + identity_import_block("00000000-dead-beef")
        + f'resource "{ORGTOKEN}" "adopted" {{\n  name     = "x"\n  org_name = "acme"\n}}\n'
    )
    tf.init()
    with pytest.raises(TerraformError) as failure:
        tf.plan()
    output = failure.value.stdout + failure.value.stderr
    assert "Token not found" in output and "00000000-dead-beef" in output


def test_identity_follows_the_token_through_create_update_and_destroy(
    tf: Terraform, emulator: Emulator
) -> None:
    def config(reason: str) -> str:
        return HEADER + (
            f'resource "{ORGTOKEN}" "ci" {{\n'
            '  name     = "ci"\n'
            '  org_name = "acme"\n'
            f'  reason   = "{reason}"\n'
            "}\n"
        )

    tf.write(config("first"))
    tf.init()
    tf.apply()
    created = state_instance(tf)
    status, listed = emulator.call("GET", "/api/orgs/acme/tokens")
    assert status == 200
    (live,) = listed["tokens"]
    assert created["identity"] == {"org_name": "acme", "token_id": live["id"]}

    tf.write(config("second"))  # `reason` changes in place: same token, same identity
    update = tf.apply()
    assert "1 changed" in update.stdout
    assert state_instance(tf)["identity"] == created["identity"]

    tf.destroy()
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    assert state["resources"] == []


def test_state_written_without_identity_gains_it_on_refresh(
    terraform_binaries: dict[str, Path], plugins_dir: Path, tmp_path: Path, emulator: Emulator
) -> None:
    """Terraform 1.0.3 stores no identity; 1.15.5 reads the token, gets its identity, and plans
    nothing for it."""
    workdir = tmp_path / "config"
    old = harness(terraform_binaries[OLD_VERSION], workdir, plugins_dir, emulator)
    old.write(HEADER + f'resource "{ORGTOKEN}" "ci" {{\n  name     = "ci"\n  org_name = "acme"\n}}\n')
    old.init()
    old.apply()
    assert "identity" not in state_instance(old)

    new = harness(terraform_binaries[NEW_VERSION], workdir, plugins_dir, emulator)
    new.init()
    plan = new.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    new.apply("-refresh-only")
    instance = state_instance(new)
    assert instance["identity"] == {"org_name": "acme", "token_id": instance["attributes"]["token_id"]}
