# Every target installs what it needs: .venv is (re)built when missing or when
# pyproject.toml / requirements.lock change.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIPELINE ?= vision
WORKERS ?= 2
ARGS ?=
SOURCE ?=
SET ?=
MODEL ?=
PORT ?= 8080
WAIT ?=
DRY_RUN ?=
VERTEX_REGION ?= us-central1
IMAGE_TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
export TF_CPP_MIN_LOG_LEVEL ?= 2

# Settings for Vertex AI (see env.example) may live in .env: KEY=value lines, no quotes.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif

.PHONY: help venv run emulate emulator train serve rollback pretrained compile submit deploy image infra test lint format bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create or refresh .venv from requirements.lock

run: $(STAMP) ## Run PIPELINE (vision|timeseries|text) on the kfp local runner, offline; SOURCE=your data, SET='k=v ...'
	$(PY) -m pipelines run $(PIPELINE) $(if $(SOURCE),--source "$(SOURCE)") $(foreach s,$(SET),--set '$(s)')

emulate: $(STAMP) ## Run PIPELINE's compiled Vertex AI YAML on the local Vertex AI emulator, offline; SOURCE=, SET= as for run
	$(PY) -m pipelines emulate $(PIPELINE) $(if $(SOURCE),--source "$(SOURCE)") $(foreach s,$(SET),--set '$(s)')

emulator: $(STAMP) ## Start the local Vertex AI emulator alone; prints the settings for make submit / deploy
	$(PY) -m pipelines emulator

train: $(STAMP) ## Train PIPELINE's model on the demo data as WORKERS local processes (multi-worker); ARGS='--epochs=3'
	$(PY) -m pipelines train $(PIPELINE) --workers $(WORKERS) -- $(ARGS)

serve: $(STAMP) ## Serve the champions of build/registry on 127.0.0.1:PORT (MODEL=vision: the /predict route's model)
	$(PY) -m serving --port $(PORT) $(if $(MODEL),--model $(MODEL))

rollback: $(STAMP) ## Make PIPELINE's previous champion the champion again (a running make serve follows)
	$(PY) -m pipelines rollback $(PIPELINE)

pretrained: $(STAMP) ## Pretrain the offline base network (build/pretrained/; make run does it once)
	$(PY) -c "from pathlib import Path; from pipelines.vision.demo import pretrained_base; print(pretrained_base(Path('build')))"

compile: $(STAMP) ## Compile every pipeline to build/pipelines/<name>.yaml for Vertex AI
	$(PY) -m pipelines compile

submit: compile ## Run PIPELINE on Vertex AI Pipelines; SET='source_uri=gs://b/p k=v', WAIT=1, DRY_RUN=1
	$(PY) -m pipelines submit $(PIPELINE) $(foreach s,$(SET),--set '$(s)') $(if $(WAIT),--wait) $(if $(DRY_RUN),--dry-run)

deploy: compile ## Upload PIPELINE to Artifact Registry and schedule it (SCHEDULE_CRON); SET as for submit
	$(PY) -m pipelines deploy $(PIPELINE) $(foreach s,$(SET),--set '$(s)')

image: ## Build and push the pipeline image with Cloud Build (gcloud), tagged with the commit and latest
	@test -n "$(GOOGLE_CLOUD_PROJECT)" || { echo "Set GOOGLE_CLOUD_PROJECT (see env.example)"; exit 1; }
	gcloud builds submit --project $(GOOGLE_CLOUD_PROJECT) --config infra/cloudbuild.yaml \
		--substitutions=_REGION=$(VERTEX_REGION),_TAG=$(IMAGE_TAG) .

infra: ## Create the Google Cloud resources of infra/terraform (terraform apply) in GOOGLE_CLOUD_PROJECT
	@test -n "$(GOOGLE_CLOUD_PROJECT)" || { echo "Set GOOGLE_CLOUD_PROJECT (see env.example)"; exit 1; }
	terraform -chdir=infra/terraform init
	terraform -chdir=infra/terraform apply -var project_id=$(GOOGLE_CLOUD_PROJECT) -var region=$(VERTEX_REGION)

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest

lint: $(STAMP) ## Check formatting and lint with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## Run the benchmarks and write BENCHMARKS.md
	$(PY) -m tests.bench

clean: ## Remove build outputs (keeps .venv)
	rm -rf build
