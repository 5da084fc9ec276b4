# deltahall — the targets people and CI call. `make help` lists them.
# Every target that needs Python sets up .venv itself first (idempotent, pinned by constraints.txt).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
DVC       := $(VENV)/bin/dvc
STAMP     := $(VENV)/.deltahall-installed
PYTEST_ARGS ?=
UI_PORT   ?= 5000
SERVER_PORT ?= 5001
# `make gate`: the newest finished run of GATE_EXPERIMENT must have GATE_METRIC's CI upper bound
# <= GATE_MAX (deltahall gate; exit 1 and one line otherwise)
OPTUNA_PORT ?= 8080
OPTUNA_STUDY ?= coin
GATE_EXPERIMENT ?= qa
GATE_METRIC ?= val/delta_hall_rate
GATE_MAX ?= 0.2
# Keep torch's thread pool at the machine's cores (2 on CI); avoids oversubscription.
export OMP_NUM_THREADS ?= 2
# dvc.yaml's stage commands call `deltahall`: put the venv's console scripts first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help setup data run test test-fast lint ui bench clean sweep dashboard browser postgres server gate optuna-ui

help: ## list every target with what it does
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# PyPI's matching torch/torchvision pair, by name (no source build, no URL): see requirements.txt
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -e .
	@$(PY) -c "import torch, torchvision; assert torch.__version__.startswith('2.14.1'), torch.__version__; assert torchvision.__version__.startswith('0.29.1'), torchvision.__version__; torchvision.ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)"
	$(PY) scripts/dvc_plots_template.py  # .dvc/plots/offline.html: `dvc plots show` with no CDN
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned dependencies (idempotent)

data: setup ## make data/ present (dvc pull; a fresh clone lays down the shipped copy); never deletes data/
	$(PY) -m deltahall.cli data

run: data ## run the default pipeline on CPU (dvc repro, independent stages side by side), tracked in sqlite:///mlflow.db
	$(PY) -m deltahall.cli repro

test: setup ## run the whole test suite (README's test command; CI runs this)
	$(PY) -m pytest -m "not gpu and not network" $(PYTEST_ARGS)

test-fast: setup ## the tests without the slow end-to-end ones
	$(PY) -m pytest -m "not slow and not gpu and not network" $(PYTEST_ARGS)

lint: setup ## ruff: lint and format check of src/ and tests/ (CI runs it)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

ui: setup ## MLflow UI on 127.0.0.1 (port 5000; UI_PORT=N to change) over the store in params.yaml
	@echo "open http://127.0.0.1:$(UI_PORT)/#/experiments?workflowType=machine_learning (Model-training view: MLflow 3.17 opens GenAI pages otherwise)"
	$(VENV)/bin/mlflow ui --backend-store-uri "$$($(PY) -m deltahall.cli tracking-uri)" --host 127.0.0.1 --port $(UI_PORT)

postgres: ## the team's PostgreSQL on 127.0.0.1:55432 (Debian's package; password in ~/.pgpass)
	bash scripts/postgres.sh start

server: setup ## MLflow tracking server on PostgreSQL, 127.0.0.1:5001 (SERVER_PORT=N), artifacts in mlartifacts/
	bash scripts/mlflow_server.sh $(SERVER_PORT)

sweep: data ## Optuna sweeps (coin, qa, t2i) of loss vs δ-rate + the analysis with CIs, on CPU (dvc repro)
	$(DVC) repro sweep_analysis

dashboard: setup ## dashboards/index.html (offline) from MLflow and the Optuna studies of `make sweep`
	$(PY) -m deltahall.cli dashboard --mlflow-ui http://127.0.0.1:$(UI_PORT)

browser: ## Debian chromium + chromedriver for the dashboard's browser test (root; idempotent)
	bash scripts/install_browser.sh

gate: setup ## CI gate on the last `make run`: exit 1 unless the newest qa run's δ-rate CI upper bound <= GATE_MAX (0.2)
	$(PY) -m deltahall.cli gate --experiment $(GATE_EXPERIMENT) --metric $(GATE_METRIC) --max $(GATE_MAX)

optuna-ui: setup ## optuna-dashboard on 127.0.0.1 (port 8080; OPTUNA_PORT=N) over the study of sweep.storage (OPTUNA_STUDY=coin)
	$(VENV)/bin/optuna-dashboard --host 127.0.0.1 --port $(OPTUNA_PORT) "$$($(PY) -m deltahall.cli sweep-storage --experiment $(OPTUNA_STUDY))"

bench: setup ## coin trainer vs a notebook-style yardstick, default-profile figures, detector scoring -> metrics/bench/coin.json
	$(PY) benchmarks/coin_throughput.py

clean: ## remove pipeline outputs and the local MLflow store (keeps .venv and data/)
	rm -rf outputs metrics plots mlflow.db mlruns
