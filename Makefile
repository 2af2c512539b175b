# The two commands a newcomer pastes: `make demo` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Test processes of make test (pytest-xdist): one per core of the 2-core machine the suite is sized for; 0 runs
# every test in pytest's own process (debugging, pdb).
TEST_WORKERS ?= 2

.PHONY: install demo test test-long lint typecheck check bench docs docs-serve config-reference clean

# The npm packages (the DSFR the apps serve, axe-core for the accessibility tests) come from frontend's lock file.
$(STAMP): pyproject.toml frontend/package.json frontend/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,docs]'
	npm ci --prefix frontend --no-audit --no-fund
	touch $(STAMP)

# The ballot page's encryption module, bundled from frontend/ballot/ and the pinned npm packages (esbuild).
BALLOT_JS := frontend/dist/ballot.js
$(BALLOT_JS): $(STAMP) frontend/ballot/crypto.js frontend/ballot/page.js
	npm run build --prefix frontend --silent

install: $(STAMP) $(BALLOT_JS)

## Start the whole suite on the embedded default (SQLite, SQL-backed store, development outbox) with demo data.
demo: install
	$(BIN)/python -m idp.demo

## Run the whole test suite (SQLite, and PostgreSQL + Redis where they run; in CI they must run).
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## The tests kept out of make test for their length (marked long; docs/contributors/tests.md lists the long runs).
test-long: install
	$(BIN)/python -m pytest -m long $(PYTEST_ARGS)

## Style, and the architecture's import contracts (pyproject.toml [tool.importlinter], docs/contributors/layering.md).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python -m benchmarks

## The documentation site, built with warnings as errors into site/ (docs-serve: live on http://127.0.0.1:8000).
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve

## Regenerate docs/reference/configuration.md from each application's DEFAULTS.
config-reference: install
	$(BIN)/python tools/config_reference.py

clean:
	rm -rf $(VENV) instance site .pytest_cache .mypy_cache .ruff_cache
