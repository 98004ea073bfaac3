"""Real Terraform (1.0.3 and 1.15.5) launches the provider, loads its schema, validates and plans.

No API call is needed for any of this: a plan of new tokens touches nothing remote, so these
runs have no access token and no emulator — proof that credentials are asked for only when the
API is really needed.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from support.tf import Terraform, TerraformError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ORGTOKEN = "pulumiservice_api_tokens_orgtoken"

REQUIRED_PROVIDERS = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""


def copy_example(name: str, terraform: Terraform) -> None:
    for path in (EXAMPLES / name).glob("*.tf"):
        shutil.copy(path, terraform.workdir / path.name)


def planned_change(terraform: Terraform, address: str) -> dict[str, object]:
    terraform.plan("-out=tfplan")
    plan = terraform.show_json("tfplan")
    (change,) = [c for c in plan["resource_changes"] if c["address"] == address]
    result: dict[str, object] = change["change"]
    return result


@pytest.mark.parametrize("example", ["pulumi-docs", "quickstart"])
def test_init_validate_plan_examples(terraform: Terraform, example: str) -> None:
    copy_example(example, terraform)
    terraform.init()
    assert "Success! The configuration is valid." in terraform.validate().stdout
    address = {
        "pulumi-docs": f"{ORGTOKEN}.orgTokenResource",
        "quickstart": f"{ORGTOKEN}.ci",
    }[example]
    change = planned_change(terraform, address)
    assert change["actions"] == ["create"]
    unknown = change["after_unknown"]
    assert isinstance(unknown, dict)
    assert unknown["id"] is True and unknown["token_id"] is True and unknown["token_value"] is True
    sensitive = change["after_sensitive"]
    assert isinstance(sensitive, dict) and sensitive["token_value"] is True
    after = change["after"]
    assert isinstance(after, dict)
    if example == "pulumi-docs":
        assert after == {
            "admin": False,
            "description": "string",
            "expires": 0,
            "name": "string",
            "org_name": "string",
            "reason": "string",
            "role_id": "string",
        }
    else:  # defaults are planned, never left null
        assert after["admin"] is False and after["expires"] == 0


def test_plan_text_shows_known_after_apply_and_sensitive(terraform: Terraform) -> None:
    copy_example("pulumi-docs", terraform)
    terraform.init()
    out = terraform.plan().stdout
    assert "+ id          = (known after apply)" in out
    assert "+ token_id    = (known after apply)" in out
    assert "+ token_value = (sensitive value)" in out
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in out


THREE_YEARS = 3 * 365 * 24 * 3600


@pytest.mark.parametrize(
    ("attribute", "line", "message"),
    [
        ("name", f'name = "{"n" * 41}"', "41 characters long"),
        ("expires", "expires = -1", "`expires` is -1"),
        ("expires", f"expires = {int(time.time()) + THREE_YEARS}", "more than two years from now"),
        ("org_name", 'org_name = ""', "`org_name` must not be empty"),
        ("expires", "expires = 1.5", "whole number of seconds"),
    ],
)
def test_bad_arguments_fail_naming_the_attribute(
    terraform: Terraform, attribute: str, line: str, message: str
) -> None:
    args = {"name": '"ci"', "org_name": '"acme"'}
    key, _, value = line.partition(" = ")
    args[key] = value
    body = "\n".join(f"  {k} = {v}" for k, v in args.items())
    terraform.write(REQUIRED_PROVIDERS + f'resource "{ORGTOKEN}" "bad" {{\n{body}\n}}\n')
    terraform.init()
    with pytest.raises(TerraformError) as failure:
        terraform.validate()
        terraform.plan()
    output = failure.value.stdout + failure.value.stderr
    assert message in output
    # Terraform quotes the offending configuration line when the diagnostic has an attribute path.
    assert f"{attribute} =" in output.split("Error:", 1)[1]


def test_unknown_values_are_accepted_at_validate_and_checked_when_known(terraform: Terraform) -> None:
    terraform.write(
        REQUIRED_PROVIDERS
        + f"""
variable "token_name" {{
  type = string
}}

resource "{ORGTOKEN}" "t" {{
  name     = var.token_name
  org_name = "acme"
}}
"""
    )
    terraform.init()
    terraform.validate()
    with pytest.raises(TerraformError) as failure:
        terraform.plan(f"-var=token_name={'x' * 41}")
    assert "at most 40" in failure.value.stdout + failure.value.stderr


def test_provider_schema_is_complete(terraform: Terraform) -> None:
    copy_example("pulumi-docs", terraform)
    terraform.init()
    schemas = json.loads(terraform.run("providers", "schema", "-json").stdout)
    (provider,) = schemas["provider_schemas"].values()
    provider_attrs = provider["provider"]["block"]["attributes"]
    assert provider_attrs["access_token"]["sensitive"] is True
    assert provider_attrs["access_token"]["optional"] is True
    assert provider_attrs["api_url"]["optional"] is True
    resource = provider["resource_schemas"][ORGTOKEN]
    assert resource["version"] == 0
    attrs = resource["block"]["attributes"]
    assert attrs["name"]["required"] and attrs["org_name"]["required"]
    for name in ("admin", "description", "expires"):
        assert attrs[name]["optional"] and attrs[name]["computed"]
    for name in ("reason", "role_id"):
        assert attrs[name]["optional"] and not attrs[name].get("computed")
    for name in ("id", "token_id", "token_value"):
        assert attrs[name]["computed"] and not attrs[name].get("optional")
    assert attrs["token_value"]["sensitive"] is True
    assert attrs["expires"]["type"] == "number" and attrs["admin"]["type"] == "bool"
    for name, attr in attrs.items():
        assert attr.get("description"), name
        assert attr.get("description_kind") == "markdown", name
