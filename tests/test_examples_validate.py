"""Every configuration under ``examples/`` is one real Terraform accepts.

The examples are what users copy and what the Registry docs embed (``docs/generate.py``), so each
directory with a ``main.tf`` runs ``terraform init`` and ``terraform validate`` against this
checkout's provider under Terraform 1.0.3 and 1.15.5, and must also be ``terraform fmt``-clean.
``validate`` launches the provider, so the provider's own checks of each resource block run too.

Some combinations cannot work: ``import`` blocks arrived in Terraform 1.5 (and their ``identity``
argument in 1.12), ``ephemeral`` blocks in 1.10, so 1.0.3 rejects ``examples/import-block``,
``examples/import-by-identity`` and ``examples/ephemeral-org-token``. Those cases are not skipped:
each asserts the exact error 1.0.3 gives, so the example's ``required_version`` claim and the old
Terraform's behaviour both stay checked.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from support.install_terraform import TERRAFORM_VERSIONS
from support.tf import Terraform

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
EXAMPLE_NAMES = sorted(path.parent.name for path in EXAMPLES.glob("*/main.tf"))

# Examples an older Terraform must refuse: example -> (minimum version, what the older one says).
REQUIRES_NEWER = {
    "import-block": ((1, 5, 0), 'Blocks of type "import" are not expected here.'),
    "import-by-identity": ((1, 12, 0), 'Blocks of type "import" are not expected here.'),
    "ephemeral-org-token": ((1, 10, 0), 'Blocks of type "ephemeral" are not expected here.'),
}
_REQUIRED_VERSION = re.compile(r'required_version\s*=\s*">=\s*(\d+)\.(\d+)\.(\d+)"')


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def supports(version: str, example: str) -> bool:
    needed = REQUIRES_NEWER.get(example)
    return needed is None or version_tuple(version) >= needed[0]


VALIDATE_CASES = [
    pytest.param(version, example, id=f"tf{version}-{example}")
    for version in TERRAFORM_VERSIONS
    for example in EXAMPLE_NAMES
    if supports(version, example)
]
REFUSED_CASES = [
    pytest.param(
        version,
        example,
        id=f"tf{version}-{example}-needs-terraform-{'.'.join(map(str, REQUIRES_NEWER[example][0]))}",
    )
    for version in TERRAFORM_VERSIONS
    for example in EXAMPLE_NAMES
    if not supports(version, example)
]


def copy_example(example: str, terraform: Terraform) -> None:
    """The example's files only: never a developer's .terraform/, lock file or state."""
    shutil.copytree(
        EXAMPLES / example,
        terraform.workdir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfvars"),
    )


def test_examples_are_found() -> None:
    # Guards the parametrisation: an empty glob would make every case below vanish silently.
    assert {
        "quickstart",
        "import-block",
        "import-by-identity",
        "ephemeral-org-token",
        "two-organizations",
        "short-lived-ci-token",
    } <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize("example", sorted(REQUIRES_NEWER))
def test_version_table_matches_required_version(example: str) -> None:
    """REQUIRES_NEWER must say what the example itself declares, or the refusal case lies."""
    match = _REQUIRED_VERSION.search((EXAMPLES / example / "main.tf").read_text())
    assert match, f"examples/{example}/main.tf declares no `required_version = \">= X.Y.Z\"`"
    assert tuple(int(part) for part in match.groups()) == REQUIRES_NEWER[example][0]


@pytest.mark.parametrize(("terraform", "example"), VALIDATE_CASES, indirect=["terraform"])
def test_example_validates(terraform: Terraform, example: str) -> None:
    copy_example(example, terraform)

    terraform.init()
    result = terraform.validate()

    assert "Success! The configuration is valid." in result.stdout
    formatting = terraform.run("fmt", "-check", "-diff", "-no-color", check=False)
    assert formatting.returncode == 0, f"run `terraform fmt examples/{example}`:\n{formatting.stdout}"


@pytest.mark.parametrize(("terraform", "example"), REFUSED_CASES, indirect=["terraform"])
def test_older_terraform_refuses_example_with_a_clear_error(terraform: Terraform, example: str) -> None:
    copy_example(example, terraform)

    result = terraform.init(check=False)

    assert result.returncode != 0
    assert REQUIRES_NEWER[example][1] in result.stdout + result.stderr


def test_refused_cases_cover_the_old_version() -> None:
    """The known refusals really are exercised: 1.0.3 with each example that needs a newer one."""
    assert sorted(tuple(case.values) for case in REFUSED_CASES) == [
        ("1.0.3", "ephemeral-org-token"),
        ("1.0.3", "import-block"),
        ("1.0.3", "import-by-identity"),
    ]


# --- the short-lived example's variable validation ---------------------------------------------


def test_short_lived_example_accepts_unix_seconds_and_rejects_other_numbers(terraform: Terraform) -> None:
    """Its `validation` block passes a unix time in seconds and stops the usual slips.

    A plan that only creates needs no API call, so no access token or service takes part: only
    Terraform's variable validation and the provider's plan-time checks run. One `init` serves
    every plan, which keeps this fast.
    """
    copy_example("short-lived-ci-token", terraform)
    terraform.init()
    now = int(time.time())
    good = now + 30 * 24 * 60 * 60

    accepted = terraform.plan(f"-var=ci_token_expires={good}")
    assert f'"ci-until-{good}"' in accepted.stdout
    assert "1 to add, 0 to change, 0 to destroy" in accepted.stdout

    slips = {"a fraction": f"{good}.5", "a duration": "7776000", "milliseconds": f"{good * 1000}"}
    for slip, value in slips.items():
        refused = terraform.plan(f"-var=ci_token_expires={value}", check=False)
        output = " ".join((refused.stdout + refused.stderr).split())
        assert refused.returncode != 0, f"{slip} ({value}) was accepted:\n{refused.stdout}"
        assert "Invalid value for variable" in output, output
        assert "must be a whole unix time in seconds" in output, output
