# Two commands for a fresh machine (Python 3.11+): `make console` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# `make test` runs the tests in this many processes (pytest-xdist): most tests wait on HTTP,
# PostgreSQL or child processes, so more workers than cores still help.
TEST_WORKERS ?= 4

.PHONY: console serve test test-fast lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

console: $(VENV)/.installed  ## chat with the bot in this terminal (SQLite, no credentials)
	$(BIN)/finops-bot console

serve: $(VENV)/.installed  ## run the HTTP server on PORT (default 3978)
	$(BIN)/finops-bot serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint  ## lint, then every test on SQLite and PostgreSQL
	$(BIN)/pytest -n $(TEST_WORKERS)

test-fast: $(VENV)/.installed  ## the inner loop: SQLite only, no real processes, browser or node
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not slow and not postgresql"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
