# Quick start: `make train` sets up .venv with the core package, then trains with
# the default recipe; `make test` adds the test tools and the optional extras
# (Ray, TensorBoard), then runs the format, lint and type checks and the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c constraints.txt
CORE := $(VENV)/.binadd-core
FULL := $(VENV)/.binadd-full
CODE := $(wildcard src tests benchmarks)

.PHONY: setup train test lint clean

$(CORE): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PIP) -e .
	touch $@

$(FULL): $(CORE)
	$(PIP) -e ".[dev,ray,tb]"
	touch $@

setup: $(CORE)

train: $(CORE)
	$(VENV)/bin/binadd train $(ARGS)

lint: $(FULL)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache
