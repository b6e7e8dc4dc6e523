# Quick start: `make run` (the demo daemon) and `make test` (the whole suite).
# Each creates .venv when it is missing and installs what it needs first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/intracast.yaml

.PHONY: run test check schema clean

run: $(VENV)/.installed-run
	$(BIN)/intracast -c $(CONFIG) run

test: $(VENV)/.installed-test
	$(BIN)/pytest

check: $(VENV)/.installed-run
	$(BIN)/intracast -c $(CONFIG) check

# config/schema.json is what `intracast schema` prints; a test keeps them equal.
schema: $(VENV)/.installed-run
	$(BIN)/intracast schema > config/schema.json

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "intracast needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) var .pytest_cache
