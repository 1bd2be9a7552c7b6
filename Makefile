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

.PHONY: study test venv lint report plan clean-results slurm-profile seed-coverage

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint requirements.lock --editable '.[test,crosscheck]'
	touch $(STAMP)

# The default (laptop-scale) study, end to end: shards, training, analysis, and the
# Snakemake report results/report.html (every figure with its caption, the tables).
# A dry run (-n) makes nothing, so it gets no report.
# `make study CONFIG=configs/wide.yaml` runs another study in its own folder,
# results/wide/ (its results/ and resources/shards/ inside), beside the default's.
DRY_RUN := $(filter -n --dry-run --dryrun,$(SNAKEMAKE_ARGS))
CONFIG ?=
STUDY_DIR := $(if $(CONFIG),results/$(basename $(notdir $(CONFIG))),.)
STUDY_FLAGS := $(if $(CONFIG),--snakefile $(CURDIR)/Snakefile --directory $(STUDY_DIR) --configfile $(abspath $(CONFIG)))
study: venv
	$(BIN)/snakemake $(STUDY_FLAGS) --cores $(CORES) $(if $(DRY_RUN),,--report results/report.html --report-after-run) $(SNAKEMAKE_ARGS)

# Do the intervals hold when the study is rerun with another seed? The default study
# again with each of COVERAGE_SEEDS as its top-level seed (in results/coverage/seed<N>/),
# then every exponent of each run checked against the others' intervals
# (python -m regscale.coverage; the default study itself must have run first).
COVERAGE_SEEDS ?= 2026 2027
seed-coverage: venv
	@test -f results/tables/exponents.csv || { echo "error: run the default study first (make study)"; exit 1; }
	for seed in $(COVERAGE_SEEDS); do \
		$(BIN)/snakemake --snakefile $(CURDIR)/Snakefile --directory results/coverage/seed$$seed \
			--configfile $(CURDIR)/config.yaml --config seed=$$seed --cores $(CORES) $(SNAKEMAKE_ARGS) || exit 1; \
	done
	$(BIN)/python -m regscale.coverage . $(foreach seed,$(COVERAGE_SEEDS),results/coverage/seed$(seed)) \
		--output results/coverage/comparisons.csv

# The report alone, for outputs already made.
report: venv
	$(BIN)/snakemake $(STUDY_FLAGS) --report results/report.html $(SNAKEMAKE_ARGS)

# What a study will cost before it runs: jobs per rule, device-hours from the measured
# throughput in resources/throughput.yaml, storage (make plan PLAN_CONFIG=config.yaml).
plan: venv
	$(BIN)/python -m regscale.plan --configfile $(PLAN_CONFIG)

# `snakemake --profile slurm` looks the name up in Snakemake's user profile folder
# (~/.config/snakemake, or $XDG_CONFIG_HOME/snakemake): link it to profiles/slurm, once.
# An existing profile of that name is left alone, with an error saying so; a site-wide
# one (/etc/xdg/snakemake/slurm), which the link would hide, is named in a note.
slurm-profile: venv
	@folder=$$($(BIN)/python -c "from snakemake.common import get_appdirs; print(get_appdirs().user_config_dir)"); \
	link="$$folder/slurm"; here="$(CURDIR)/profiles/slurm"; \
	if [ -L "$$link" ] && [ "$$(readlink -f "$$link")" = "$$(readlink -f "$$here")" ]; then \
		echo "$$link already links to $$here"; \
	elif [ -e "$$link" ] || [ -L "$$link" ]; then \
		echo "error: $$link exists and is not this repository's profile; move it away, or run snakemake --profile $$here" >&2; exit 1; \
	else \
		mkdir -p "$$folder" && ln -s "$$here" "$$link" && echo "linked $$link -> $$here; run: snakemake --profile slurm"; \
		site=$$($(BIN)/python -c "from snakemake.common import get_appdirs; print(get_appdirs().site_config_dir)")/slurm; \
		if [ -e "$$site" ]; then echo "note: the site-wide profile $$site is now hidden behind it for you; this one asks for what the config's resources say" >&2; fi; \
	fi

# The whole test suite, lint and format checks of the workflow included.
test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow

clean-results:
	@echo "results/ holds trained runs; remove it by hand if you mean it: rm -rf results/*"

# The GPU check (README "The GPU check"). The lent GPU machine reaches no package
# registry and has its own python3 (3.12, torch 2.11) without snakemake or jsonschema.
# Here, where PyPI is reachable: `make gpu-wheels` puts the cp312 wheels of snakemake,
# jsonschema and every package they need into gpu-wheels/ (git-ignored; carry it).
# There: `make gpu-check` (python -m regscale.gpucheck) makes results/gpu-venv on top of
# that python3 and its torch, installs the wheels offline, runs the CUDA tests, a tiny
# study with device: cuda and `bench simulate` / `bench train --record`, and writes
# results/gpu-check.json with how long each part took.
GPU_PYTHON ?= python3
GPU_WHEELS := gpu-wheels
GPU_PLATFORMS := $(foreach tag,manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_12 manylinux2010 manylinux_2_5 manylinux1,--platform $(tag)_x86_64)

.PHONY: gpu-wheels gpu-check

gpu-wheels: venv
	rm -rf $(GPU_WHEELS)
	@# connection_pool is published as a source archive only: build its (pure-Python) wheel here.
	$(BIN)/pip wheel --quiet --no-deps --constraint requirements.lock --wheel-dir $(GPU_WHEELS) connection_pool
	$(BIN)/pip download --quiet --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
		$(GPU_PLATFORMS) --constraint requirements.lock --find-links $(GPU_WHEELS) --dest $(GPU_WHEELS) \
		snakemake jsonschema pip
	@du -sh $(GPU_WHEELS)

gpu-check:
	PYTHONPATH=src $(GPU_PYTHON) -m regscale.gpucheck --wheels $(GPU_WHEELS) --out results/gpu-check.json

# Before a study on SLURM: every submission it would make (training packed as the
# profile packs it) against the nodes and limits of its partition; names each one that
# could never start, and why (regscale.slurmcheck). `make slurm-study` checks, then
# runs the study through profiles/slurm. SLURM_CONFIG=F for another config.
SLURM_CONFIG ?= configs/paper.yaml

.PHONY: slurm-check slurm-study

slurm-check: venv
	$(BIN)/python -m regscale.slurmcheck --configfile $(SLURM_CONFIG) $(SNAKEMAKE_ARGS)

slurm-study: slurm-check
	$(BIN)/snakemake --profile profiles/slurm --configfile $(SLURM_CONFIG) $(SNAKEMAKE_ARGS)
