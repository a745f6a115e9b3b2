# The README's commands. `make run` is the main job; `make test` is everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov lives in its own venv: its pinned dependencies would fight Pulumi's in one environment.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION ?= 3.3.30
# An editable install writes no bytecode, and where PYTHONDONTWRITEBYTECODE is set every `koyalite` run would compile
# our modules again (about 65 ms of each command): compile them once, as a wheel install would (a no-op when current).
COMPILE = $(BIN)/python -m compileall -q provisioner components stacks

.PHONY: bench-events bench-deploy run up test lint typecheck unit schema bench clean host images e2e toolchain compose cluster cluster-build cluster-down

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools warns on every editable install that a folder named like a package may shadow it: true, and not news here
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[dev]'
	$(COMPILE)
	touch $(STAMP)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

## run: validate the reference manifest for every environment and render staging and prod for Kubernetes into build/render/
run: $(STAMP)
	@$(COMPILE)
	$(BIN)/koyalite validate koyalite.yaml --all-envs
	$(BIN)/koyalite render --env staging koyalite.yaml -o build/render/staging
	$(BIN)/koyalite render --env prod koyalite.yaml -o build/render/prod

## up: set up everything on a fresh (Debian) machine and deploy the reference manifest's dev environment to local Docker
up: $(STAMP) host
	bash scripts/up.sh

## toolchain: the pinned Pulumi CLI, Python language host and kubernetes provider, built from Go source (cached)
toolchain: $(STAMP)
	$(BIN)/python scripts/toolchain.py

## compose: Docker Compose v2+ (the `docker compose` plugin) from Go source (cached); prints its DOCKER_CONFIG
compose:
	$(PYTHON) scripts/compose.py

## cluster-build: the local cluster's binaries (Kubernetes, etcd, kwok, CoreDNS, pause) from Go source (cached)
cluster-build:
	$(PYTHON) scripts/cluster_build.py

## cluster: a local Kubernetes cluster, TIER=api (kwok nodes, the default) or TIER=node (a real kubelet; root);
## its kubeconfig is .koyalite/cluster/kubeconfig
TIER ?= api
cluster: cluster-build
	$(PYTHON) scripts/cluster.py up --tier $(TIER)

## cluster-down: stop the local cluster and remove what it added to the host (built binaries stay cached)
cluster-down:
	$(PYTHON) scripts/cluster.py down

## test: lint, type-check and run every test tier
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy provisioner components stacks bench

unit: $(STAMP) $(CHECKOV_STAMP)
	KOYALITE_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest

## host: Debian's docker.io and busybox-static, and a running dockerd (root; idempotent)
host:
	bash scripts/host.sh

## images: every local image (images/build.py; Go builds the first time, seconds when cached)
images: $(STAMP) host
	$(BIN)/python images/build.py

## e2e: the rendered dev stack on the local Docker daemon: probe, restart, probe again, down, volumes kept
e2e: $(STAMP) host compose
	KOYALITE_E2E=1 $(BIN)/pytest tests/test_images.py

## schema: regenerate schema/koyalite.schema.json from the models
schema: $(STAMP)
	$(BIN)/koyalite schema -o schema/koyalite.schema.json

## bench: the benchmarks in bench/, written to bench/REPORT.md
bench: $(STAMP)
	$(BIN)/python bench/run.py --output bench/REPORT.md

## bench-events: delivery through the event bus (worker, webhook receiver) against `nats bench`, into bench/REPORT-events.md
bench-events: $(STAMP) host images
	$(BIN)/python bench/events.py --output bench/REPORT-events.md

## bench-deploy: koyalite's deploys against docker compose, pulumi up and kubectl on environments of its own, into bench/REPORT-deploy.md
bench-deploy: $(STAMP) host compose
	$(BIN)/python bench/deploy.py --output bench/REPORT-deploy.md

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
