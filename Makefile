# derlink — every target sets itself up from nothing: a virtualenv, Python deps, Debian packages.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.derlink-installed
DEMO_HOME ?= derlink-demo

.PHONY: help setup system-deps demo test lint bench clean

help:
	@echo "make demo   - set up, then run the derlink demo on embedded defaults"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make lint   - ruff and mypy (strict) on src/"
	@echo "make bench  - run the benchmarks in benchmarks/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: setup system-deps
	rm -rf $(DEMO_HOME)
	$(BIN)/derlink --home $(DEMO_HOME) demo

test: setup system-deps
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

bench: setup system-deps
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
