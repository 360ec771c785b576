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

# Every benchmark (or `make bench BENCHES=load BENCH_ARGS='--duration 10'`), then the PNGs of all
# results in bench/results/. BENCH_ARGS go to each script run.
BENCHES ?= http_overhead board approvals lifecycle import load
bench: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	set -e; for name in $(BENCHES); do $(BIN)/python bench/$$name.py $(BENCH_ARGS); done
	$(BIN)/python bench/plots.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
