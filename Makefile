# The two commands of the README: `make study` and `make test`. Each creates the
# virtual environment .venv on first use (Python 3.11, every package pinned by
# pyproject.toml and requirements.lock) and then does its job.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
SNAKEMAKE_ARGS ?=
PLAN_CONFIG ?= configs/paper.yaml

.PHONY: study test venv lint report plan clean-results

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint requirements.lock --editable '.[test]'
	touch $(STAMP)

# The default (laptop-scale) study, end to end: shards, training, analysis, and the
# Snakemake report results/report.html (every figure with its caption, the tables).
# A dry run (-n) makes nothing, so it gets no report.
DRY_RUN := $(filter -n --dry-run --dryrun,$(SNAKEMAKE_ARGS))
study: venv
	$(BIN)/snakemake --cores $(CORES) $(if $(DRY_RUN),,--report results/report.html --report-after-run) $(SNAKEMAKE_ARGS)

# The report alone, for outputs already made.
report: venv
	$(BIN)/snakemake --report results/report.html $(SNAKEMAKE_ARGS)

# What a study will cost before it runs: jobs per rule, device-hours from the measured
# throughput in resources/throughput.yaml, storage (make plan PLAN_CONFIG=config.yaml).
plan: venv
	$(BIN)/python -m regscale.plan --configfile $(PLAN_CONFIG)

# The whole test suite, lint and format checks of the workflow included.
test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow

clean-results:
	@echo "results/ holds trained runs; remove it by hand if you mean it: rm -rf results/*"
