# The two commands a new user runs: `make demo` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := test,notebook,plot,lint
LINT_TREE := build/lint
PYTEST_ARGS ?=

.PHONY: demo test test-fast bench bench-quick lint clean venv

demo: $(STAMP)
	$(PY) -m tfest_adapters.demo

test: $(STAMP)
	$(VENV)/bin/pytest -ra $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(VENV)/bin/pytest -ra -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_all.py

bench-quick: $(STAMP)
	$(PY) bench/run_all.py --quick

# ruff (lint and format, pyproject.toml), then import-linter's layer contracts. import-linter
# reads a package from its folder, so it runs on a copy laid out as setup.cfg installs it
# (models/ and input_fns/ inside tfest_adapters/).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf $(LINT_TREE) && mkdir -p $(LINT_TREE)
	cp -r tfest_adapters $(LINT_TREE)/tfest_adapters
	cp -r models $(LINT_TREE)/tfest_adapters/models
	cp -r input_fns $(LINT_TREE)/tfest_adapters/input_fns
	cd $(LINT_TREE) && PYTHONPATH=$$PWD $(CURDIR)/$(VENV)/bin/lint-imports --no-cache \
	  $(CURDIR)/pyproject.toml

venv: $(STAMP)

# TensorFlow 2.15 ships wheels for CPython 3.9-3.11 only; pick the newest such interpreter.
$(VENV)/bin/python:
	@py=""; \
	for cand in python3.11 python3.10 python3.9 python3 python; do \
	  if command -v $$cand >/dev/null 2>&1 && \
	     $$cand -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 11) else 1)' 2>/dev/null; then \
	    py=$$cand; break; \
	  fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "error: no Python 3.9, 3.10 or 3.11 interpreter found on PATH." >&2; \
	  echo "tensorflow==2.15.1 and tensorflow-estimator==2.15.0 (the last releases that ship" >&2; \
	  echo "tf.estimator) have wheels for CPython 3.9-3.11 only. Install one of those, then rerun." >&2; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py ($$($$py --version 2>&1))"; \
	$$py -m venv $(VENV)

# Reinstalled whenever the package metadata changes.
$(STAMP): $(VENV)/bin/python setup.cfg pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info runs .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
