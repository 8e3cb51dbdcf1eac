# Two commands on a fresh machine:  make run  |  make test
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.8
export PATH := $(BIN):$(PATH)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint audit venv clean ui score retrain bytecode

$(STAMP): requirements.lock pyproject.toml
	@python=$$(scripts/find-python) && echo "creating $(VENV) with $$python" && \
		rm -rf $(VENV) && $$python -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@# bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI images often do),
	@# every churn process would otherwise compile ~3,300 modules again (~10 s CPU each)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

venv: $(STAMP)

# churn's own bytecode, refreshed for the files that changed (DVC ignores __pycache__/)
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src > /dev/null

## make run: set up, then run the whole DVC pipeline on the bundled data
run: $(STAMP) bytecode
	$(BIN)/dvc repro
	$(BIN)/python benchmarks/simulator_truth.py   # the closed loop against the simulator's truth
	@echo
	@echo "Results, per pipeline <p> in pipelines/:"
	@echo "  labels and features:  data/interim/<p>/labels.parquet, features.parquet, feature_catalogue.json"
	@echo "  model:                models/<p>/ (xgboost booster.ubj + model.json with the calibrator)"
	@echo "  evaluation:           reports/<p>/metrics.json, backtest.json, segments.json, plots/"
	@echo "  registry:             reports/<p>/registry.json; MLflow store mlflow.db (make ui)"
	@echo "  at-risk list:         data/scored/<p>/scores.parquet (churn show <p>); CRM files data/exports/<p>/"
	@echo "  monitoring, report:   reports/<p>/drift.json, realised.json; open reports/<p>/report.html"
	@$(BIN)/churn summary

## make score: the weekly job: for every pipeline, ingest new files and score them with the
## registered champion, then export, monitor and report; nothing is retrained
score: $(STAMP) bytecode
	@for p in $$(cd pipelines && ls -d */ | tr -d /); do $(BIN)/churn run $$p --score-only || exit $$?; done

## make retrain: every stage whose inputs changed, training and the champion/challenger gate included
retrain: $(STAMP) bytecode
	$(BIN)/dvc repro
	@$(BIN)/churn summary

## make test: set up, then run the test suite
test: $(STAMP) bytecode
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## make docs: regenerate docs/settings.md from the typed settings (src/churn/settings.py)
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m churn.settings_reference > docs/settings.md.tmp
	mv docs/settings.md.tmp docs/settings.md

audit: $(STAMP)
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.lock

## make ui: the MLflow UI on http://127.0.0.1:5000 (bound to localhost only)
ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

clean:
	rm -rf $(VENV)
