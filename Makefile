# The README's commands. `make run` is the main job; `make test` is everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: validate the reference manifest for every environment and print prod's effective configuration
run: $(STAMP)
	$(BIN)/koyalite validate koyalite.yaml --all-envs
	$(BIN)/koyalite config --env prod koyalite.yaml

## test: lint, type-check and run every test tier
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy provisioner

unit: $(STAMP)
	$(BIN)/pytest

## schema: regenerate schema/koyalite.schema.json from the models
schema: $(STAMP)
	$(BIN)/koyalite schema -o schema/koyalite.schema.json

## bench: the benchmarks in bench/, written to bench/REPORT.md
bench: $(STAMP)
	$(BIN)/python bench/run.py --output bench/REPORT.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
