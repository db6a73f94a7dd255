# hardenreq development tasks. `make test` and `make demo` set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTS ?=
PYTEST_ARGS := $(if $(TESTS),-k "$(TESTS)",)
DEMO := build/demo

.PHONY: dev test test-network lint fmt golden demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-network: $(STAMP)
	$(BIN)/python -m pytest -m network $(PYTEST_ARGS)

golden: $(STAMP)
	$(BIN)/python -m pytest --update-golden $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check hardenreq tests benchmarks
	$(BIN)/ruff check hardenreq tests benchmarks
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r hardenreq

fmt: $(STAMP)
	$(BIN)/ruff format hardenreq tests benchmarks
	$(BIN)/ruff check --fix hardenreq tests benchmarks

# Harden a copy of the examples against the index pip would use (your pip configuration):
# resolve requirements.in into a hashed lock, and hash the hand-pinned requirements.txt.
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	cp examples/requirements.in examples/requirements.txt examples/requirements-base.txt $(DEMO)/
	$(BIN)/hardenreq harden --pip-conf $(DEMO)/pip.conf $(DEMO)/requirements.in -o $(DEMO)/requirements.lock
	$(BIN)/hardenreq harden --no-resolve --no-pip-conf $(DEMO)/requirements.txt
	@echo; echo "--- $(DEMO)/requirements.lock (first 25 lines; $$(grep -c '^[A-Za-z].*==' $(DEMO)/requirements.lock) pins) ---"
	@head -n 25 $(DEMO)/requirements.lock
	@echo; echo "--- $(DEMO)/requirements.txt (first 15 lines) ---"; head -n 15 $(DEMO)/requirements.txt
	@echo; echo "--- $(DEMO)/pip.conf ---"; cat $(DEMO)/pip.conf
	@echo; echo "Install in hash-checking mode: PIP_CONFIG_FILE=$(DEMO)/pip.conf pip install -r $(DEMO)/requirements.lock"

# The figures of issue 15 (README "Speed"), each the median of interleaved rounds. The
# advisory check is left out (--no-advisories): it asks another service than the index.
BENCH = $(BIN)/python benchmarks/bench.py --hardenreq-cmd $(BIN)/hardenreq --ours-arg=--no-advisories
bench: $(STAMP)
	$(BENCH) verify --set 55 --peer uv --target 0.7
	$(BENCH) verify --set 274 --peer hashin --limit-target 3.5 --rss-target 100
	$(BENCH) harden-no-resolve --set 55 --peer hashin --target 0.3

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache *.egg-info
