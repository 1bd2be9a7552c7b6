"""Shared fixtures: the repository, the tiny config, and real Snakemake runs of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(workdir: Path, *args: str, configfile: Path = TINY, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real workflow on ``configfile`` in ``workdir`` (outputs land there)."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(configfile), "--cores", "2", *args]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory) -> Path:
    """A work directory holding the tiny config's shards, simulated by the real rules."""
    workdir = tmp_path_factory.mktemp("tiny_shards")
    snakemake(workdir, "resources/shards/manifest.csv")
    return workdir
