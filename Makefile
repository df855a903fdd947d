# PinPay's everyday commands. `make help` lists them.
#
#   make demo                 the one-command demo on http://127.0.0.1:8000 (embedded SQLite)
#   make test                 ruff, ruff format --check, mypy, then the whole pytest suite on
#                             SQLite and PostgreSQL (found or started by scripts/test-postgres)
#   make test PYTEST_ARGS='-k ledger -x'
#
# The virtualenv is .venv; it is reused and only reinstalled when pyproject.toml is newer than
# its stamp (.venv/.installed for the runtime, .venv/.installed-dev with the dev tools).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --quiet
# bench/ is linted too once it exists (pyproject.toml already has its per-file ignores).
LINT_PATHS := src tests $(wildcard bench)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint fmt clean distclean bench soak pg-stop

help:
	@echo "make venv       .venv with the project and its dev tools (reused; reinstalled when pyproject.toml changes)"
	@echo "make demo       run 'pinpay demo' on http://127.0.0.1:8000 (DEMO_ARGS='--port 8001' to change)"
	@echo "make test       ruff check, ruff format --check, mypy, pytest (PYTEST_ARGS='...' passed to pytest)"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make fmt        ruff format, then ruff check --fix"
	@echo "make bench      bench/run.py: pgbench reference, PIN assignments, payments, issuance (BENCH_SECONDS=20)"
	@echo "make soak       the reliability tests round after round on PostgreSQL (SOAK_ROUNDS=10)"
	@echo "make pg-stop    stop the throwaway PostgreSQL in .pgtest/ (make clean also deletes it)"
	@echo "make clean      caches, build output and the throwaway PostgreSQL; distclean also .venv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The runtime install; a dev install (newer than pyproject.toml) already covers it.
$(STAMP): pyproject.toml | $(BIN)/python
	@if [ -f $(STAMP_DEV) ] && [ $(STAMP_DEV) -nt pyproject.toml ]; then \
		echo "$(VENV): reusing the dev install"; \
	else \
		echo "$(VENV): pip install -e ."; $(PIP_INSTALL) -e .; \
	fi
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	@echo "$(VENV): pip install -e '.[dev]'"
	@$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(STAMP)

venv: $(STAMP_DEV)

demo: $(STAMP)
	$(BIN)/pinpay demo $(DEMO_ARGS)

# Every check runs even when an earlier one fails, so that one run shows everything; the target
# fails if any did (pytest's exit 5, no test collected, included).
test: $(STAMP_DEV)
	@url="$$(scripts/test-postgres)" || exit 1; \
	if [ -n "$$url" ]; then \
		export PINPAY_TEST_DATABASE_URL="$$url"; \
		echo "PostgreSQL for the tests: $$url" | sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#'; \
	else \
		unset PINPAY_TEST_DATABASE_URL; \
		echo "No PostgreSQL found: the PostgreSQL half of the suite will be skipped."; \
	fi; \
	failed=""; \
	echo "== ruff check $(LINT_PATHS)"; \
	$(BIN)/ruff check $(LINT_PATHS) || failed="$$failed ruff-check"; \
	echo "== ruff format --check $(LINT_PATHS)"; \
	$(BIN)/ruff format --check $(LINT_PATHS) || failed="$$failed ruff-format"; \
	echo "== mypy"; \
	$(BIN)/mypy || failed="$$failed mypy"; \
	echo "== pytest $(PYTEST_ARGS)"; \
	$(BIN)/pytest $(PYTEST_ARGS) || failed="$$failed pytest(exit $$?)"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all checks passed"

lint: $(STAMP_DEV)
	@failed=""; \
	$(BIN)/ruff check $(LINT_PATHS) || failed="$$failed ruff-check"; \
	$(BIN)/ruff format --check $(LINT_PATHS) || failed="$$failed ruff-format"; \
	$(BIN)/mypy || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "make lint: FAILED:$$failed"; exit 1; fi

fmt: $(STAMP_DEV)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

# The reliability tests (kill -9, database restart, receiver down, many processes, the stateful
# life cycle, the OpenAPI stateful run) again and again on PostgreSQL: SOAK_ROUNDS (default 10)
# rounds; stops at the first failure. Hypothesis tests that do not fix their own example count
# run 500 with the soak profile (the OpenAPI stateful run: 200 scenarios instead of 30).
SOAK_ROUNDS ?= 10
soak: $(STAMP_DEV)
	@url="$$(scripts/test-postgres)" || exit 1; \
	for round in $$(seq 1 $(SOAK_ROUNDS)); do \
		echo "== soak round $$round/$(SOAK_ROUNDS)"; \
		PINPAY_TEST_DATABASE_URL="$$url" HYPOTHESIS_PROFILE=soak $(BIN)/pytest -q -p no:cacheprovider \
			tests/reliability tests/lifecycle tests/test_openapi.py -k "postgresql or not sqlite" \
			|| exit 1; \
	done

# BENCH_SECONDS (default 20) is each measured phase's length: `BENCH_SECONDS=60 make bench`.
# The bench extra (matplotlib, py-spy) is installed on top of dev, again when pyproject.toml changes.
bench: $(STAMP_DEV)
	@if [ ! -f $(VENV)/.installed-bench ] || [ pyproject.toml -nt $(VENV)/.installed-bench ]; then \
		echo "$(VENV): pip install -e '.[dev,bench]'"; \
		$(PIP_INSTALL) -e '.[dev,bench]' && touch $(VENV)/.installed-bench || exit 1; \
	fi
	BENCH_SECONDS="$(or $(BENCH_SECONDS),20)" $(BIN)/python bench/run.py

pg-stop:
	@scripts/test-postgres stop

# Leaves .venv and the demo's own state (pinpay.db, pinpay.keys) alone.
clean:
	@scripts/test-postgres clean
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info
	find src tests $(wildcard bench) -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
