# The README's commands. `make run` is the main job; `make test` is everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov lives in its own venv: its pinned dependencies would fight Pulumi's in one environment.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION ?= 3.3.30

.PHONY: run test lint typecheck unit schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

## run: validate the reference manifest for every environment and render staging and prod for Kubernetes into build/render/
run: $(STAMP)
	$(BIN)/koyalite validate koyalite.yaml --all-envs
	$(BIN)/koyalite render --env staging koyalite.yaml -o build/render/staging
	$(BIN)/koyalite render --env prod koyalite.yaml -o build/render/prod

## test: lint, type-check and run every test tier
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy provisioner components stacks bench

unit: $(STAMP) $(CHECKOV_STAMP)
	KOYALITE_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest

## schema: regenerate schema/koyalite.schema.json from the models
schema: $(STAMP)
	$(BIN)/koyalite schema -o schema/koyalite.schema.json

## bench: the benchmarks in bench/, written to bench/REPORT.md
bench: $(STAMP)
	$(BIN)/python bench/run.py --output bench/REPORT.md

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
