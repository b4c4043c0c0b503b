# The README's two commands: `make run` and `make test`. Each creates .venv and
# installs into it when needed, so they work on a fresh machine with only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

# Every optional part (the `all` extra) and the dev tools (the PEP 735 group `dev`, which
# needs pip >= 25.1: hence the upgrade first).
$(STAMP): pyproject.toml
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all]' --group dev
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/slotwise demo
	$(BIN)/slotwise serve

# tests/js: ical.js cross-checks invites, axe-core checks the web page's accessibility,
# TypeScript type-checks its modules;
# installed from the lock file (again whenever it changes).
JS_STAMP := tests/js/node_modules/.installed

$(JS_STAMP): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund
	touch $(JS_STAMP)

# The suite runs on one pytest-xdist worker per core (at most 4): most of its time is spent
# waiting on live servers, browsers and databases. `--dist load`, not loadfile/loadscope:
# schemathesis' per-operation fuzz items (tests/service/test_fuzz_api.py) only all run
# when items are handed out one by one (under loadfile it silently fuzzes one operation).
test: $(STAMP) $(JS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n auto --maxprocesses 4 --dist load

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.ingest

clean:
	rm -rf $(VENV) build *.egg-info
