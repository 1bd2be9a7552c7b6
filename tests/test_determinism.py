"""Determinism as users run it (issue 15, point 4): the tiny study, run twice from
nothing in two fresh folders, with no PYTHONHASHSEED set by the tests, gives the same
tables byte for byte: runs.csv, cells.csv and exponents.csv, and every other table."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, snakemake

TABLES = ("runs.csv", "cells.csv", "exponents.csv")


def first_difference(first: Path, second: Path) -> str:
    lines = zip(first.read_text().splitlines(), second.read_text().splitlines())
    for number, (a, b) in enumerate(lines, 1):
        if a != b:
            return f"line {number}:\n  {a}\n  {b}"
    return "the same lines, a different length"


@pytest.mark.slow
def test_the_tiny_study_run_twice_gives_the_same_tables(tiny_study, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    snakemake(again)
    first, second = tiny_study / "results/tables", again / "results/tables"
    names = sorted(path.name for path in first.glob("*.csv"))
    assert set(TABLES) <= set(names) and names == sorted(path.name for path in second.glob("*.csv"))
    differ = {
        name: first_difference(first / name, second / name)
        for name in names
        if (first / name).read_bytes() != (second / name).read_bytes()
    }
    assert not differ, "\n".join(f"{name} differs, {where}" for name, where in differ.items())


def test_no_test_forces_a_hash_seed():
    """Users do not set PYTHONHASHSEED, so no test does: each Snakemake job is a Python
    process with its own random string hashing, and the results must not depend on it."""
    here = Path(__file__).resolve()
    files = [*(REPO / "tests").rglob("*.py"), *(REPO / "tests").rglob("*.sh"), REPO / ".ci" / "run"]
    files += [REPO / "Makefile", REPO / "pyproject.toml"]
    forcing = [str(path.relative_to(REPO)) for path in files if path != here and "PYTHONHASHSEED" in path.read_text()]
    assert not forcing
