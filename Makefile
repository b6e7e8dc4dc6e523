# Quick start: `make run` (the demo daemon) and `make test` (the whole suite).
# Each creates .venv when it is missing and installs what it needs first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/intracast.yaml

.PHONY: run test check schema clean chromium

run: $(VENV)/.installed-run
	$(BIN)/intracast -c $(CONFIG) run

test: $(VENV)/.installed-test chromium
	$(BIN)/pytest

# The player tests drive Debian's chromium (Playwright's own browser download
# cannot be used here); installed once, with root or through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  chromium fonts-dejavu-core >/dev/null; }

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
