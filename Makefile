# Two commands for a fresh machine (Python 3.11+): `make console` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: console serve test lint clean

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
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
