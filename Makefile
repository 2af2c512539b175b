# The two commands a newcomer pastes: `make demo` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck check bench clean

# The npm packages (the DSFR the apps serve, axe-core for the accessibility tests) come from frontend's lock file.
$(STAMP): pyproject.toml frontend/package.json frontend/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	npm ci --prefix frontend --no-audit --no-fund
	touch $(STAMP)

install: $(STAMP)

## Start the whole suite on the embedded default (SQLite, SQL-backed store, development outbox) with demo data.
demo: install
	$(BIN)/python -m idp.demo

## Run the whole test suite (SQLite, and PostgreSQL + Redis where they run; in CI they must run).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
