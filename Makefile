# make run: serve on an embedded PostgreSQL in ./.dealflow/pg.  make test: lint, type-check, test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BENCH_ARGS ?=

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# `exec` so that make waits for dealflow itself: on Ctrl-C it shuts down, then stops the embedded
# PostgreSQL, before the prompt comes back.
run: $(VENV)/.installed
	DEALFLOW_ENV=$${DEALFLOW_ENV:-dev} exec $(BIN)/dealflow serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python bench/http_overhead.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
