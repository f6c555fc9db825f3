# The README's two commands are `make demo` and `make test`. Each installs what it needs first:
# a virtual environment and the tools built from source live in a cache outside the repository,
# keyed by what they were built from, so a second run installs nothing.
SHELL := /bin/bash
CACHE_DIR ?= $(HOME)/.cache/database-operator
PYTHON ?= python3
VENV := $(CACHE_DIR)/venv
VPY := $(VENV)/bin/python
# Reinstall whenever pyproject.toml changes, or the venv serves another checkout (the project is
# installed editable): the stamp is named after both.
STAMP := $(VENV)/.installed-$(shell (cat pyproject.toml; echo $(CURDIR)) | sha256sum | cut -c1-12)
export CACHE_DIR

.PHONY: venv demo test test-unit test-integration test-e2e lint bench tools render serve clean-cache

venv: $(STAMP)

$(STAMP): pyproject.toml
	@mkdir -p $(CACHE_DIR)
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install --quiet --upgrade pip
	@$(VPY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

tools:
	@scripts/build-tools.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: venv tools lint
	$(VPY) -m pytest tests

demo: venv
	$(VPY) scripts/demo.py

bench: venv tools
	$(VPY) -m bench

render: venv
	$(VPY) -m hooks render samples/*.yaml

serve: venv
	$(VPY) -m hooks serve --host 127.0.0.1 --port 8080

clean-cache:
	rm -rf $(CACHE_DIR)
