# Two commands on a fresh machine:  make run  |  make test
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.8
export PATH := $(BIN):$(PATH)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint audit venv clean

$(STAMP): requirements.lock pyproject.toml
	@python=$$(scripts/find-python) && echo "creating $(VENV) with $$python" && \
		rm -rf $(VENV) && $$python -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

venv: $(STAMP)

## make run: set up, then run the whole DVC pipeline on the bundled data
run: $(STAMP)
	$(BIN)/dvc repro
	@echo
	@echo "Results:"
	@for p in pipelines/*/; do p=$$(basename $$p); \
		echo "  $$p: data/interim/$$p/labels.parquet, data/interim/$$p/features.parquet," \
		     "data/interim/$$p/feature_catalogue.json"; done

## make test: set up, then run the test suite
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

audit: $(STAMP)
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.lock

clean:
	rm -rf $(VENV)
