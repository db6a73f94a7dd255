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

# Harden a copy of the examples against the index pip would use (your pip configuration).
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	cp examples/requirements.txt examples/requirements-base.txt $(DEMO)/
	$(BIN)/hardenreq harden --no-resolve --pip-conf $(DEMO)/pip.conf $(DEMO)/requirements.txt
	@echo; echo "--- $(DEMO)/requirements.txt (first 30 lines) ---"; head -n 30 $(DEMO)/requirements.txt
	@echo; echo "--- $(DEMO)/pip.conf ---"; cat $(DEMO)/pip.conf
	@echo; echo "Install it in hash-checking mode: PIP_CONFIG_FILE=$(DEMO)/pip.conf pip install -r $(DEMO)/requirements.txt"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py harden-no-resolve --hardenreq-cmd $(BIN)/hardenreq

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache *.egg-info
