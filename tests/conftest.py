"""Shared fixtures: the repository, the tiny config, and real Snakemake runs of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real workflow on ``configfile`` in ``workdir`` (outputs land there)."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(configfile), "--cores", "2", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def planned_jobs(workdir: Path, *targets: str, configfile: Path = TINY) -> dict[str, int]:
    """Jobs a dry run would execute, by rule name (empty when nothing is to be done)."""
    result = snakemake(workdir, "-n", *targets, configfile=configfile)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    counts = {}
    for line in text.split("Job stats:")[1].split("Reasons:")[0].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job", "jobid:"):
            counts[parts[0]] = int(parts[1])
    # The target rule `all` only collects outputs; it is listed whenever anything else runs.
    counts.pop("all", None)
    return counts


def write_config(path: Path, base: Path = TINY, **changes) -> Path:
    """A copy of ``base`` with changes given as dotted keys: {"physics.seed": 3}."""
    config = yaml.safe_load(base.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[key] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory) -> Path:
    """A work directory holding the tiny config's shards, simulated by the real rules."""
    workdir = tmp_path_factory.mktemp("tiny_shards")
    snakemake(workdir, "resources/shards/manifest.csv")
    return workdir


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> Path:
    """A work directory in which the whole tiny study ran to completion (`snakemake` with
    no target: shards, training, tables, figures). Shared: read it, or copy it to change it."""
    workdir = tmp_path_factory.mktemp("tiny_study")
    snakemake(workdir)
    return workdir
