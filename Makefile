# make run: serve on an embedded PostgreSQL in ./.dealflow/pg.  make test: lint, type-check, test.
# Both install from constraints.txt, the versions last tested together; `make upgrade` refreshes it.
PYTHON ?= python3
# Every process compiles what it imports unless .pyc files can be written: with PYTHONDONTWRITEBYTECODE
# set (some machines set it for everything), a `dealflow serve` took 3.2 s of CPU to start instead of
# 1.4 s, and each pytest worker 10 s instead of 3 s to collect. The files go to __pycache__ (ignored).
export PYTHONDONTWRITEBYTECODE :=
VENV := .venv
BIN := $(VENV)/bin
# uv installs (~3 s for everything `make run` needs, against ~20 s for pip, most of it pip reading
# index pages); it is itself installed, pinned, when the virtualenv is made (below).
PIP := $(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt
BENCH_ARGS ?=
# Tests run in parallel, one database template per worker; PYTEST_WORKERS=0 runs them in one process.
# Three workers per two cores: a test spends part of its time waiting (on sockets, PostgreSQL,
# subprocesses), and idle workers steal queued tests from busy ones. On two cores pytest took 2 min
# 30 s with three, 2 min 45 s with four, 3 min 50 s with two and fixed shares.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(2, 3 * (os.cpu_count() or 1) // 2))')

.PHONY: run test test-fast lint schema bench upgrade clean

# The virtualenv without pip (ensurepip took ~7 s): the system's pip puts uv into it; without a pip
# that can (`--python` needs pip 22.3), the virtualenv gets its own pip first.
$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install -q -c constraints.txt uv 2>/dev/null \
	  || { $(BIN)/python -m ensurepip > /dev/null && $(BIN)/python -m pip install -q -c constraints.txt uv; }

# The runtime dependencies only: what `make run` needs.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

# With the test extras: pytest, ruff, mypy, playwright, aiosmtpd.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(VENV)/.installed-run

# `exec` so that make waits for dealflow itself: on Ctrl-C it shuts down, then stops the embedded
# PostgreSQL, before the prompt comes back.
run: $(VENV)/.installed-run
	DEALFLOW_ENV=$${DEALFLOW_ENV:-dev} exec $(BIN)/dealflow serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The tests' node tools (tests/js, ~7 s of `npm ci`) install in the background as the tests start;
# the tests that use them wait for it. mypy (~17 s of CPU from a cold cache) runs beside pytest, whose
# workers spend part of their time waiting on sockets and PostgreSQL; its output is shown only when it
# fails, after pytest's.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tests.npm > /dev/null 2>&1 &
	$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & mypy=$$!; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS); tests=$$?; \
	if ! wait $$mypy; then cat $(VENV)/mypy.log; exit 1; fi; exit $$tests

# The tests without a server or subprocess: domain rules and SQL, in seconds.
test-fast: $(VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal tests/unit tests/db $(PYTEST_ARGS)

# schema.graphql, the published SDL, regenerated from the code (a test keeps the two equal).
schema: $(VENV)/.installed-run
	$(BIN)/python -m schema.sdl > schema.graphql

# Every benchmark (or `make bench BENCHES=load BENCH_ARGS='--duration 10'`), then the PNGs of all
# results in bench/results/. BENCH_ARGS go to each script run.
BENCHES ?= http_overhead board approvals lifecycle import load fanout outbox
bench: $(VENV)/.installed
	$(PIP) -e '.[test,bench]'
	set -e; for name in $(BENCHES); do $(BIN)/python bench/$$name.py $(BENCH_ARGS); done
	$(BIN)/python bench/plots.py

# The newest releases pyproject.toml allows, installed into a fresh virtualenv, pinned into
# constraints.txt. Run `make test` afterwards before committing the new file.
upgrade:
	rm -rf .venv-upgrade
	$(PYTHON) -m venv .venv-upgrade
	.venv-upgrade/bin/python -m pip install -q --upgrade pip
	.venv-upgrade/bin/python -m pip install -q -e '.[test,bench]' uv
	{ echo "# Versions tested together; \`make upgrade\` regenerates this file (pip freeze of a fresh venv)."; \
	  .venv-upgrade/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-upgrade
	rm -f $(VENV)/.installed $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
