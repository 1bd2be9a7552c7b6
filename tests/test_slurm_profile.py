"""`snakemake --profile slurm`, typed in the repository as the README says, after the
one set-up step `make slurm-profile` (issue 13, point 4)."""

from __future__ import annotations

import os
import subprocess

from conftest import REPO, SNAKEMAKE, TINY


def run(command, config_home, **kwargs):
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, **kwargs)


def test_make_slurm_profile_makes_the_named_profile_work(tmp_path):
    config_home = tmp_path / "config"
    before = run([str(SNAKEMAKE), "--profile", "slurm", "-n"], config_home)
    assert before.returncode != 0 and "no profile.yaml (or config.yaml) found" in before.stderr

    made = run(["make", "--no-print-directory", "slurm-profile"], config_home)
    assert made.returncode == 0, made.stderr
    link = config_home / "snakemake" / "slurm"
    assert link.is_symlink() and link.resolve() == (REPO / "profiles" / "slurm").resolve()
    again = run(["make", "--no-print-directory", "slurm-profile"], config_home)
    assert again.returncode == 0 and "already links" in again.stdout

    work = tmp_path / "work"
    dry = run(
        [str(SNAKEMAKE), "--profile", "slurm", "-n", "--configfile", str(TINY), "--directory", str(work)], config_home
    )
    assert dry.returncode == 0, dry.stderr[-3000:]
    text = dry.stdout + dry.stderr
    # Both the named profile and the workflow profile (rerun triggers) apply.
    assert "Using profiles slurm and workflow specific profile" in text
    assert "simulate_shard" in text and "train" in text


def test_an_existing_profile_of_that_name_is_left_alone(tmp_path):
    config_home = tmp_path / "config"
    theirs = config_home / "snakemake" / "slurm"
    theirs.mkdir(parents=True)
    (theirs / "config.yaml").write_text("executor: slurm\n")
    made = run(["make", "--no-print-directory", "slurm-profile"], config_home)
    assert made.returncode != 0
    assert "exists and is not this repository's profile" in made.stderr
    assert (theirs / "config.yaml").read_text() == "executor: slurm\n" and not theirs.is_symlink()
