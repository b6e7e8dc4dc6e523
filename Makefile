# Quick start: `make run` (the demo daemon) and `make test` (the whole suite).
# Each creates .venv when it is missing and installs what it needs first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/intracast.yaml

.PHONY: run test check schema clean debian-packages postgres cluster

run: $(VENV)/.installed-run
	$(BIN)/intracast -c $(CONFIG) run

# After the suite, the tests marked `clock` run again at 23:40, 00:30 and 12:00 in Amsterdam and on both
# DST switch nights (tools/clock_sweep.py, under Debian's faketime): CI runs at whatever hour a session ends.
test: $(VENV)/.installed-test debian-packages
	$(BIN)/pytest
	$(BIN)/python tools/clock_sweep.py

# The player tests drive Debian's chromium (Playwright's own browser download
# cannot be used here) and the store tests run on a PostgreSQL server of their
# own (tests/postgres.py) as well as SQLite; installed once, with root or sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := chromium fonts-dejavu-core postgresql faketime
debian-packages:
	@command -v chromium >/dev/null && command -v faketime >/dev/null && \
	  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  $(DEBIAN_PACKAGES) >/dev/null; }

# Several daemons on one PostgreSQL (README, "Running several instances"): `make postgres`
# starts a local server for development in var/postgres (Debian's package), `make cluster`
# runs two daemons on it, on ports 8080 and 8081, until Ctrl+C.
PG_FOLDER := var/postgres
postgres: $(VENV)/.installed-run debian-packages
	$(BIN)/python -m tests.postgres start $(PG_FOLDER)

cluster: $(VENV)/.installed-run debian-packages
	@url=$$($(BIN)/python -m tests.postgres start $(PG_FOLDER)); \
	trap 'kill 0' INT TERM; \
	INTRACAST_STORAGE_URL=$$url $(BIN)/intracast -c $(CONFIG) run --listen 127.0.0.1:8081 >/dev/null & \
	INTRACAST_STORAGE_URL=$$url $(BIN)/intracast -c $(CONFIG) run --listen 127.0.0.1:8080; \
	wait

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
