"""Rerun only what is stale: after a complete run of the tiny study, each kind of
config change reruns its own stage and what follows it, and nothing upstream."""

import shutil

import pytest

from conftest import planned_jobs, write_config
from regscale import guidance, joint

SIMULATION = {"simulate_shard", "shard_manifest", "atlas_images"}
ANALYSIS_TABLES = {"aggregate_runs", "cell_statistics"}


@pytest.fixture(scope="module")
def complete(complete_study):
    return complete_study[1]


@pytest.fixture(scope="module")
def code(complete_study):
    return complete_study[0]


def test_a_complete_run_has_nothing_left_to_do(complete, code):
    assert planned_jobs(complete, code=code) == {}
    assert (complete / "results/tables/exponents.csv").exists()
    # Two widths x three N_D are too few cells for a joint law: the table has its header.
    header = (complete / "results/tables/joint_law.csv").read_text().splitlines()[0]
    assert header.split(",") == joint.JOINT_COLUMNS
    header = (complete / "results/tables/guidance.csv").read_text().splitlines()[0]
    assert header.split(",") == guidance.GUIDANCE_COLUMNS
    assert (complete / "results/figures/fig1_architectures.png").exists()


def test_a_plot_setting_reruns_only_plots(complete, code, tmp_path):
    jobs = planned_jobs(complete, code=code, configfile=write_config(tmp_path / "c.yaml", **{"plots.dpi": 70}))
    assert jobs and all(rule.startswith("figure_") or rule == "atlas_figure" for rule in jobs), jobs


def test_a_fit_setting_reruns_fits_and_plots(complete, code, tmp_path):
    jobs = planned_jobs(complete, code=code, configfile=write_config(tmp_path / "c.yaml", **{"analysis.bootstrap": 60}))
    assert jobs.pop("fit_exponents") == 1 and jobs.pop("fit_joint_law") == 1 and jobs.pop("guidance") == 1
    assert jobs and all(rule.startswith("figure_") for rule in jobs), jobs
    assert not set(jobs) & (ANALYSIS_TABLES | SIMULATION)


def test_a_training_setting_reruns_training_and_what_follows(complete, code, tmp_path):
    lr_changed = write_config(
        tmp_path / "c.yaml", **{"train.archs.fcn": {"lr": 2.0e-3, "batch_size": 8, "max_epochs": 5}}
    )
    jobs = planned_jobs(complete, code=code, configfile=lr_changed)
    assert not set(jobs) & SIMULATION, jobs
    assert jobs["train"] == len(_fcn_jobs(complete)), jobs
    assert {"aggregate_runs", "cell_statistics", "fit_exponents"} <= set(jobs)


def test_an_interrupted_analysis_is_redone_after_a_rerun(complete, code, tmp_path):
    # A copy whose runs table was deleted: only the analysis is redone, never training.
    work = tmp_path / "work"
    shutil.copytree(complete, work, symlinks=True)
    (work / "results/tables/runs.csv").unlink()
    jobs = planned_jobs(work, code=code)
    assert "aggregate_runs" in jobs and "train" not in jobs and not set(jobs) & SIMULATION


def _fcn_jobs(workdir):
    return [path for path in (workdir / "results/runs/arch~fcn").rglob("seeds~*") if path.is_dir()]
