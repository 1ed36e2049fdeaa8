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
MODEL_VERSION ?=
PORT ?= 8080
REQUEST_LOG ?= build/request-log
WAIT ?=
DRY_RUN ?=
VERTEX_REGION ?= us-central1
IMAGE_TAG ?=
export TF_CPP_MIN_LOG_LEVEL ?= 2

# A variable given to make (PIPELINE, SOURCE, SET, ...) reaches a command only as
# single-quoted shell words of its raw text ($(value ...)): neither make nor the
# shell ever evaluates it, so `SOURCE='$$(touch x)'` is a path, not a command.
quote = '$(subst ','"'"',$(1))'
raw-word = $(call quote,$(value $(1)))
# One quoted word per whitespace-separated item (SET, ARGS).
raw-words = $(foreach w,$(value $(1)),$(call quote,$(w)))
# --set KEY=VALUE for each item of SET.
sets = $(foreach w,$(value SET),--set $(call quote,$(w)))
# Every variable set on make's command line keeps its raw text: make would otherwise run
# a $(shell ...) in it as it expands it (to use it, or to export it to the commands).
$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),\
  $(eval override $(v) := $(subst #,\#,$(subst $$,$$$$,$(value $(v)))))))

# Settings for Vertex AI (see env.example) may live in .env: KEY=value lines, no quotes.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif

.PHONY: help venv run emulate emulator train serve monitor predict rollback registry-check pretrained compile submit deploy image infra test lint format bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP) ## Create or refresh .venv from requirements.lock

run: $(STAMP) ## Run PIPELINE (vision|timeseries|text) on the kfp local runner, offline; SOURCE=your data, SET='k=v ...'
	$(PY) -m pipelines run $(call raw-word,PIPELINE) $(if $(value SOURCE),--source $(call raw-word,SOURCE)) $(sets)

emulate: $(STAMP) ## Run PIPELINE's compiled Vertex AI YAML on the local Vertex AI emulator, offline; SOURCE=, SET= as for run
	$(PY) -m pipelines emulate $(call raw-word,PIPELINE) $(if $(value SOURCE),--source $(call raw-word,SOURCE)) $(sets)

emulator: $(STAMP) ## Start the local Vertex AI emulator alone; prints the settings for make submit / deploy
	$(PY) -m pipelines emulator

train: $(STAMP) ## Train PIPELINE's model on the demo data as WORKERS local processes (multi-worker); ARGS='--epochs=3'
	$(PY) -m pipelines train $(call raw-word,PIPELINE) --workers $(call raw-word,WORKERS) -- $(call raw-words,ARGS)

serve: $(STAMP) ## Serve the champions of build/registry on 127.0.0.1:PORT (MODEL=vision: the /predict route's model); requests logged to REQUEST_LOG
	$(PY) -m serving --port $(call raw-word,PORT) $(if $(value MODEL),--model $(call raw-word,MODEL)) --request-log $(call raw-word,REQUEST_LOG)

monitor: $(STAMP) ## Skew and drift of MODEL's served traffic (REQUEST_LOG) against its training data; report in build/monitoring/
	$(PY) -m pipelines monitor $(call raw-word,MODEL) --request-log $(call raw-word,REQUEST_LOG)

predict: $(STAMP) ## Batch-predict SOURCE (default: PIPELINE's demo data) with its champion or MODEL_VERSION; output in build/predictions/
	$(PY) -m pipelines predict $(call raw-word,PIPELINE) $(if $(value SOURCE),--source $(call raw-word,SOURCE)) $(if $(value MODEL_VERSION),--model-version $(call raw-word,MODEL_VERSION))

rollback: $(STAMP) ## Make PIPELINE's previous champion the champion again (a running make serve follows)
	$(PY) -m pipelines rollback $(call raw-word,PIPELINE)

registry-check: $(STAMP) ## Check build/registry (REGISTRY=dir): versions, aliases, histories; REPAIR=1 resets broken champions from the history
	$(PY) -m serving.registry.registry_check $(if $(value REGISTRY),--registry $(call raw-word,REGISTRY)) $(if $(value REPAIR),--repair)

pretrained: $(STAMP) ## Pretrain the offline base network (build/pretrained/; make run does it once)
	$(PY) -c "from pathlib import Path; from pipelines.vision.demo import pretrained_base; print(pretrained_base(Path('build')))"

compile: $(STAMP) ## Compile every pipeline to build/pipelines/<name>.yaml for Vertex AI
	$(PY) -m pipelines compile

submit: compile ## Run PIPELINE on Vertex AI Pipelines; SET='source_uri=gs://b/p k=v', WAIT=1, DRY_RUN=1
	$(PY) -m pipelines submit $(call raw-word,PIPELINE) $(sets) $(if $(value WAIT),--wait) $(if $(value DRY_RUN),--dry-run)

deploy: compile ## Upload PIPELINE to Artifact Registry and schedule it (SCHEDULE_CRON); SET as for submit
	$(PY) -m pipelines deploy $(call raw-word,PIPELINE) $(sets)

image: ## Build and push the pipeline image with Cloud Build (gcloud), tagged with the commit and latest
	@test -n $(call raw-word,GOOGLE_CLOUD_PROJECT) || { echo "Set GOOGLE_CLOUD_PROJECT (see env.example)"; exit 1; }
	tag=$(call raw-word,IMAGE_TAG); gcloud builds submit --project $(call raw-word,GOOGLE_CLOUD_PROJECT) \
		--config infra/cloudbuild.yaml \
		--substitutions=_REGION=$(call raw-word,VERTEX_REGION),_TAG="$${tag:-$$(git rev-parse --short HEAD 2>/dev/null || echo dev)}" .

infra: ## Create the Google Cloud resources of infra/terraform (terraform apply) in GOOGLE_CLOUD_PROJECT
	@test -n $(call raw-word,GOOGLE_CLOUD_PROJECT) || { echo "Set GOOGLE_CLOUD_PROJECT (see env.example)"; exit 1; }
	terraform -chdir=infra/terraform init
	terraform -chdir=infra/terraform apply -var project_id=$(call raw-word,GOOGLE_CLOUD_PROJECT) \
		-var region=$(call raw-word,VERTEX_REGION)

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
