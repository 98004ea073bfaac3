"""The Registry docs in ``docs/`` are what ``docs/generate.py`` makes from the schema and examples.

A schema description, template or example edited without regenerating would leave the docs
describing a different provider. ``generate.py --check`` detects that; these tests run it on this
checkout, and on a scratch copy that is made stale on purpose, so a check that passes everything
cannot go unnoticed. The remaining tests pin what the pages must contain: the Registry layout,
every attribute from the schema with its type and description, and the import facts.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tfprovider.cty import NUMBER, STRING, List, Map, Object
from tfprovider.provider import PROVIDER_SCHEMA
from tfprovider.resources.orgtoken import SCHEMA
from tfprovider.schema import Schema

REPO_ROOT = Path(__file__).resolve().parents[1]
GENERATOR = REPO_ROOT / "docs" / "generate.py"
INDEX = Path("docs/index.md")
RESOURCE_PAGE = Path("docs/resources/api_tokens_orgtoken.md")


def run_generator(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This checkout's generator, working on the docs/templates, examples and docs of ``root``."""
    return subprocess.run(
        [sys.executable, str(GENERATOR), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stale_names(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(re.findall(r"^stale: (\S+)$", result.stderr, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


# --- freshness --------------------------------------------------------------------------------


def test_checked_in_docs_are_current() -> None:
    result = run_generator(REPO_ROOT, "--check")
    assert result.returncode == 0, f"run `.venv/bin/python docs/generate.py`:\n{result.stderr}"


@pytest.fixture
def scratch_tree(tmp_path: Path) -> Path:
    """A copy of what the generator reads and writes: docs/ and examples/."""
    skip = shutil.ignore_patterns("__pycache__", ".terraform*", "*.tfstate*")
    shutil.copytree(REPO_ROOT / "docs", tmp_path / "docs", ignore=skip)
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples", ignore=skip)
    baseline = run_generator(tmp_path, "--check")
    assert baseline.returncode == 0, f"the untouched copy should be current:\n{baseline.stderr}"
    return tmp_path


def test_check_names_the_page_of_an_edited_template(scratch_tree: Path) -> None:
    template = scratch_tree / "docs/templates/resources/api_tokens_orgtoken.md.tmpl"
    template.write_text(template.read_text() + "\nOne more sentence.\n")

    result = run_generator(scratch_tree, "--check")

    assert result.returncode == 1
    assert stale_names(result) == {str(RESOURCE_PAGE)}
    assert "docs/generate.py" in result.stderr  # says how to fix it


def test_check_names_the_page_that_embeds_an_edited_example(scratch_tree: Path) -> None:
    example = scratch_tree / "examples/two-organizations/main.tf"
    example.write_text(example.read_text().replace('"acme-staging"', '"acme-qa"'))

    result = run_generator(scratch_tree, "--check")

    assert result.returncode == 1
    assert stale_names(result) == {str(INDEX)}


def test_check_names_hand_edited_missing_and_orphaned_pages(scratch_tree: Path) -> None:
    index = scratch_tree / INDEX
    index.write_text(index.read_text().replace("Threat model", "Threats"))
    (scratch_tree / RESOURCE_PAGE).unlink()
    (scratch_tree / "docs/resources/removed_resource.md").write_text("# gone\n")

    result = run_generator(scratch_tree, "--check")

    assert result.returncode == 1
    assert stale_names(result) == {str(INDEX), str(RESOURCE_PAGE), "docs/resources/removed_resource.md"}


def test_generating_repairs_what_check_reports(scratch_tree: Path) -> None:
    (scratch_tree / RESOURCE_PAGE).write_text("edited by hand\n")
    (scratch_tree / "docs/resources/removed_resource.md").write_text("# gone\n")

    written = run_generator(scratch_tree)

    assert written.returncode == 0, written.stderr
    assert f"wrote {RESOURCE_PAGE}" in written.stdout
    assert "removed docs/resources/removed_resource.md" in written.stdout
    assert run_generator(scratch_tree, "--check").returncode == 0
    assert (scratch_tree / RESOURCE_PAGE).read_text() == (REPO_ROOT / RESOURCE_PAGE).read_text()


def test_bad_directive_is_reported_with_its_line(scratch_tree: Path) -> None:
    template = scratch_tree / "docs/templates/index.md.tmpl"
    template.write_text("# Title\n\n{{ exampel quickstart }}\n")

    result = run_generator(scratch_tree, "--check")

    assert result.returncode == 2
    assert "index.md.tmpl:3: unknown directive" in result.stderr


def test_missing_example_is_reported(scratch_tree: Path) -> None:
    template = scratch_tree / "docs/templates/index.md.tmpl"
    template.write_text("{{ example no-such-example }}\n")

    result = run_generator(scratch_tree, "--check")

    assert result.returncode == 2
    assert "examples/no-such-example/main.tf does not exist" in result.stderr


# --- content ----------------------------------------------------------------------------------


def front_matter(text: str) -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match, "a page must start with YAML front matter"
    keys = dict(re.findall(r"^([a-z_]+):\s*(.*)$", match.group(1), flags=re.MULTILINE))
    return keys


@pytest.mark.parametrize(("page", "schema"), [(INDEX, PROVIDER_SCHEMA), (RESOURCE_PAGE, SCHEMA)])
def test_page_has_registry_front_matter(page: Path, schema: Schema) -> None:
    text = (REPO_ROOT / page).read_text()
    keys = front_matter(text)
    assert set(keys) == {"page_title", "subcategory", "description"}
    assert keys["description"] == "|-"
    assert f"description: |-\n  {schema.block.description}\n---\n" in text


@pytest.mark.parametrize(("page", "schema"), [(INDEX, PROVIDER_SCHEMA), (RESOURCE_PAGE, SCHEMA)])
def test_every_attribute_is_listed_with_type_and_schema_description(page: Path, schema: Schema) -> None:
    text = (REPO_ROOT / page).read_text()
    labels = {"string": "String", "number": "Number", "bool": "Boolean"}
    for attribute in schema.block.attributes:
        flags = ", Sensitive" if attribute.sensitive else ""
        line = f"- `{attribute.name}` ({labels[str(attribute.type)]}{flags}) {attribute.description}"
        assert line in text, f"{page} lacks: {line}"


def section(text: str, heading: str) -> str:
    """The lines under ``heading`` up to the next heading of the same or a higher level; lines in
    code blocks are never headings (HCL comments start with ``#`` too)."""
    level = len(heading.split(" ")[0])
    lines = text.splitlines()
    start = lines.index(heading)
    in_code = False
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(rf"#{{1,{level}}} ", line):
            return "\n".join(lines[start:index])
    return "\n".join(lines[start:])


def test_resource_page_sorts_attributes_into_required_optional_and_read_only() -> None:
    text = (REPO_ROOT / RESOURCE_PAGE).read_text()
    headings = re.findall(r"^#{2,3} [A-Z].*$", text, flags=re.MULTILINE)
    order = ["## Example Usage", "## Schema", "### Required", "### Optional", "### Read-Only", "## Import"]
    assert [h for h in headings if h in order] == order

    def names(heading: str) -> list[str]:
        return re.findall(r"^- `([a-z_]+)`", section(text, heading), flags=re.MULTILINE)

    assert names("### Required") == ["name", "org_name"]
    assert names("### Optional") == ["admin", "description", "expires", "reason", "role_id"]
    assert names("### Read-Only") == ["id", "token_id", "token_value"]


def test_import_section_gives_both_id_forms_an_import_block_and_the_token_value_caveat() -> None:
    imports = section((REPO_ROOT / RESOURCE_PAGE).read_text(), "## Import")
    assert "`ORG/TOKEN_ID`" in imports
    assert "`ORG/NAME/TOKEN_ID`" in imports
    assert "import {\n  to = pulumiservice_api_tokens_orgtoken.ci\n" in imports
    assert 'id = "acme/TOKEN_ID"' in imports
    assert "terraform import pulumiservice_api_tokens_orgtoken.ci acme/TOKEN_ID" in imports
    assert "`token_value` stays null" in imports


def test_examples_are_embedded_verbatim_without_their_leading_comment() -> None:
    text = (REPO_ROOT / RESOURCE_PAGE).read_text()
    source = (REPO_ROOT / "examples/short-lived-ci-token/main.tf").read_text()
    body = source[source.index("terraform {") :].rstrip("\n")
    assert f"```terraform\n{body}\n```" in text
    assert source.splitlines()[0] not in text  # the repository-facing header stays out


def test_index_documents_authentication_installation_and_threat_model() -> None:
    text = (REPO_ROOT / INDEX).read_text()
    for heading in ("## Authentication", "## Self-hosted Pulumi Cloud", "## Installation", "## Threat model"):
        assert heading + "\n" in text
    assert "PULUMI_ACCESS_TOKEN" in section(text, "## Authentication")
    assert "PULUMI_BACKEND_URL" in section(text, "## Self-hosted Pulumi Cloud")
    assert "terraform-provider-pulumiservice install" in section(text, "## Installation")
    assert "filesystem_mirror" in section(text, "## Installation")
    assert 'alias        = "staging"' in text  # the two-organizations example


# --- the generator's building blocks ----------------------------------------------------------


def test_type_labels(generator: ModuleType) -> None:
    assert generator.type_label(STRING) == "String"
    assert generator.type_label(List(NUMBER)) == "List of Number"
    assert generator.type_label(Map(List(STRING))) == "Map of List of String"
    assert generator.type_label(Object({"a": STRING})) == "`object({a=string})`"


def test_resource_doc_name(generator: ModuleType) -> None:
    assert generator.resource_doc_name("pulumiservice_api_tokens_orgtoken") == "api_tokens_orgtoken"
    with pytest.raises(generator.DocsError, match="does not start with"):
        generator.resource_doc_name("other_thing")
