# Quick start: `make train` (sets up .venv, then trains with the default recipe)
# and `make test` (lint, format check, type check, test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.binadd-installed
EXTRAS ?= dev
CODE := $(wildcard src tests benchmarks)

.PHONY: setup train test lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

setup: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/binadd train $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache
