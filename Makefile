# Two commands: `make fit` (main job) and `make test`. Both create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install fit test test-slow lint format bench clean

$(STAMP): pyproject.toml requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt -e ".[dev]"
	@touch $@

install: $(STAMP)  ## create .venv and install (skipped when up to date)

fit: $(STAMP)  ## meta-train MAML on MovieLens-100K (rating, then ranking) and print the test tables
	$(BIN)/python -m lightning_metarec fit --config configs/ml100k_maml.yaml
	$(BIN)/python -m lightning_metarec fit --config configs/ml100k_maml_ranking.yaml

test: $(STAMP)  ## the test suite without slow tests (about 3-4 min on 2 cores; CI allows 15)
	$(BIN)/python -m pytest

test-slow: $(STAMP)  ## only the slow tests (full-length training runs)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)  ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lightning_metarec

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## data-pipeline and meta-training throughput on ML-100K (CPU)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) lightning_logs wandb .pytest_cache .mypy_cache .ruff_cache *.egg-info
