"""Rerun only what is stale: every row of README.md's "What reruns when" table, as the
exact set of jobs `snakemake -n` plans after that change to the completed tiny study.

Each expected set is derived, not counted by hand: from the complete study's
`--forceall` job set (every job, as (rule, first output)), Snakemake's rule graph (the
rules downstream of a changed one), the shard files a split's size implies
(regscale.shards) and the job folders a config implies (regscale.study.jobs). The
code-change half of the rows (simulator code, training code, one architecture's
registry entry) is tested the same way in tests/test_code_versions.py.
"""

from __future__ import annotations

import copy
import os
import shutil

import pytest
import yaml

from conftest import TINY, jobs_of, planned_job_set, planned_jobs, write_config
from regscale import config as study_config
from regscale import guidance, joint, shards, study

pytestmark = pytest.mark.slow

SIMULATION = {"simulate_shard", "shard_manifest", "atlas_images"}


@pytest.fixture(scope="module")
def complete(complete_study):
    return complete_study[1]


@pytest.fixture(scope="module")
def code(complete_study):
    return complete_study[0]


def resolved(**changes):
    """The tiny config with ``changes`` (dotted keys), every default filled in."""
    config = yaml.safe_load(TINY.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[key] = copy.deepcopy(value)
    study_config.validate(config)
    return config


def shard_jobs(split, indices):
    return {("simulate_shard", str(shards.shard_files(split, index)["images"])) for index in indices}


def shard_count(config, split):
    return shards.shard_count(config["data"][f"{split}_size"], config["data"]["shard_size"])


def train_jobs(folders):
    return {("train", folder) for folder in folders}


def folders(config):
    return {job.folder for job in study.jobs(config)}


def planned_after(complete, code, tmp_path, **changes):
    return planned_job_set(complete, code=code, configfile=write_config(tmp_path / "c.yaml", **changes))


def test_a_complete_run_has_nothing_left_to_do(complete, code):
    assert planned_jobs(complete, code=code) == {}
    assert (complete / "results/tables/exponents.csv").exists()
    # Two widths x three N_D are too few cells for a joint law: the table has its header.
    header = (complete / "results/tables/joint_law.csv").read_text().splitlines()[0]
    assert header.split(",") == joint.JOINT_COLUMNS
    header = (complete / "results/tables/guidance.csv").read_text().splitlines()[0]
    assert header.split(",") == guidance.GUIDANCE_COLUMNS
    assert (complete / "results/figures/fig1_architectures.png").exists()


def test_the_job_set_is_what_the_config_implies(every_job):
    # The derivations below rest on this: the tiny study's jobs, from the config alone.
    config = resolved()
    assert jobs_of(every_job, {"train"}) == train_jobs(folders(config))
    assert jobs_of(every_job, {"simulate_shard"}) == shard_jobs("pool", range(shard_count(config, "pool"))) | shard_jobs(
        "test", range(shard_count(config, "test"))
    )


# -- row: physics.*, seed, data.shard_size (or the simulator code) -> every shard, the
# atlas, and all that follows. The simulator code: test_code_versions.py (spins.py).


@pytest.mark.parametrize(
    "changes",
    [{"physics.anisotropy_meV": 0.35}, {"physics.lattice": {"rows": 16, "cols": 20}}, {"seed": 8}, {"data.shard_size": 32}],
    ids=["physics", "lattice", "seed", "shard_size"],
)
def test_a_simulation_setting_reruns_every_shard_the_atlas_and_all_that_follows(
    complete, code, tmp_path, every_job, downstream, changes
):
    planned = planned_after(complete, code, tmp_path, **changes)
    config = resolved(**changes)
    # Every job of the study with the changed config: its shards (as many as the new
    # shard size makes), and everything downstream of the simulation.
    shards_now = shard_jobs("pool", range(shard_count(config, "pool"))) | shard_jobs(
        "test", range(shard_count(config, "test"))
    )
    rest = jobs_of(every_job, downstream({"simulate_shard", "atlas_images"}) - {"simulate_shard"})
    assert planned == shards_now | rest
    assert rest | jobs_of(every_job, {"simulate_shard"}) == every_job  # that is, everything


# -- row: data.pool_size up -> only the new shards (and the manifest)


def test_a_larger_pool_simulates_only_the_new_shards(complete, code, tmp_path):
    before, after = resolved(), resolved(**{"data.pool_size": 96})
    planned = planned_after(complete, code, tmp_path, **{"data.pool_size": 96})
    new = shard_jobs("pool", range(shard_count(before, "pool"), shard_count(after, "pool")))
    assert new and planned == new | {("shard_manifest", "resources/shards/manifest.csv")}
    # No training job: each reads the first ceil(N_D / shard_size) shards, and the
    # largest N_D of the tiny study needs none of the new ones.
    assert max(job.n_d for job in study.jobs(after)) <= before["data"]["pool_size"]


def test_a_larger_pool_under_realization_draws_also_reruns_every_training_job(
    complete, code, tmp_path, every_job, downstream
):
    # Under train.draws = realization each run draws from the whole pool, so a larger
    # pool changes every run's samples; switching the draws alone changes no shard.
    switched = planned_after(complete, code, tmp_path, **{"train.draws": "realization"})
    assert switched == jobs_of(every_job, downstream({"train"}))
    before, after = resolved(), resolved(**{"data.pool_size": 96})
    planned = planned_after(complete, code, tmp_path, **{"train.draws": "realization", "data.pool_size": 96})
    new = shard_jobs("pool", range(shard_count(before, "pool"), shard_count(after, "pool")))
    manifest = {("shard_manifest", "resources/shards/manifest.csv")}
    assert new and planned == new | manifest | jobs_of(every_job, downstream({"train"}))


# -- row: data.test_size -> the new test shards, every training job, the analysis


def test_a_larger_test_set_reruns_its_new_shards_every_training_job_and_the_analysis(
    complete, code, tmp_path, every_job, downstream
):
    before, after = resolved(), resolved(**{"data.test_size": 48})
    planned = planned_after(complete, code, tmp_path, **{"data.test_size": 48})
    new = shard_jobs("test", range(shard_count(before, "test"), shard_count(after, "test")))
    assert new
    manifest = {("shard_manifest", "resources/shards/manifest.csv")}
    assert planned == new | manifest | jobs_of(every_job, downstream({"train"}))


# -- row: data.batch_size, device, resources.*, train.checkpoint_* -> nothing


@pytest.mark.parametrize(
    "changes",
    [
        {"data.batch_size": 8},
        {"device": "auto"},
        {
            "resources.simulate": {"threads": 2, "mem_mb": 1500, "runtime": 20},
            "resources.train": {"threads": 2, "mem_mb": 3000, "runtime": 30, "gpu": 0},
            "resources.aggregate": {"threads": 2, "mem_mb": 500, "runtime": 7},
        },
        {"train.checkpoint_every": 3, "train.checkpoint_seconds": 5},
    ],
    ids=["batch_size", "device", "resources", "checkpoints"],
)
def test_speed_and_checkpoint_settings_rerun_nothing(complete, code, tmp_path, changes):
    assert planned_after(complete, code, tmp_path, **changes) == set()


# -- row: train.*, schedules.*, an experiment's sizes (or the training code) -> the
# affected training jobs and the analysis, never a shard. The training code:
# test_code_versions.py (study.py, jobspec.py, one architecture's registry entry).


def analysis_after_training(every_job, downstream):
    return jobs_of(every_job, downstream({"train"}) - {"train"})


def test_an_architecture_s_training_setting_reruns_its_jobs_and_the_analysis(
    complete, code, tmp_path, every_job, downstream
):
    changes = {"train.archs.fcn": {"lr": 2.0e-3, "batch_size": 8, "max_epochs": 5}}
    planned = planned_after(complete, code, tmp_path, **changes)
    fcn = {job.folder for job in study.jobs(resolved()) if job.arch == "fcn"}
    assert fcn and planned == train_jobs(fcn) | analysis_after_training(every_job, downstream)


def test_a_setting_of_every_training_job_reruns_them_all_and_the_analysis(
    complete, code, tmp_path, every_job, downstream
):
    planned = planned_after(complete, code, tmp_path, **{"train.validation_fraction": 0.25})
    assert planned == jobs_of(every_job, downstream({"train"}))


def test_a_schedule_setting_reruns_the_jobs_of_that_schedule_and_the_analysis(
    complete, code, tmp_path, every_job, downstream
):
    onecycle = {"kind": "onecycle", "steps_per_sample": 0.5, "min_steps": 12, "max_steps": 100}
    planned = planned_after(complete, code, tmp_path, **{"schedules.onecycle": onecycle})
    scheduled = {job.folder for job in study.jobs(resolved()) if job.schedule == "onecycle"}
    assert scheduled and planned == train_jobs(scheduled) | analysis_after_training(every_job, downstream)


def test_a_new_size_trains_only_its_jobs_and_reruns_the_analysis(complete, code, tmp_path, every_job, downstream):
    sizes = [{"width": 4, "depth": 3}, {"width": 8, "depth": 3}, {"width": 16, "depth": 3}]
    changes = {"experiments.fcn_width.sizes": sizes}
    planned = planned_after(complete, code, tmp_path, **changes)
    new = folders(resolved(**changes)) - folders(resolved())
    assert new and all("/width~8/" in folder for folder in new)
    assert planned == train_jobs(new) | analysis_after_training(every_job, downstream)


# -- row: train.seeds up -> the last, partial block whole, and the new blocks


def test_more_seeds_train_the_partial_block_again_and_the_new_blocks(complete, code, tmp_path, every_job, downstream):
    # train.seeds 2 -> 3 (seeds_per_job 2): blocks 0-1 stay, 2-2 is new. The ResNet-18
    # experiment's own seeds 1 -> 3: its partial block 0-0 becomes 0-1, 2-2 is new.
    changes = {"train.seeds": 3, "experiments.resnet18.seeds": 3}
    planned = planned_after(complete, code, tmp_path, **changes)
    before, after = folders(resolved()), folders(resolved(**changes))
    new = after - before
    assert {folder.rsplit("/", 1)[1] for folder in new} == {"seeds~0-1", "seeds~2-2"}
    assert {folder for folder in new if folder.endswith("seeds~0-1")} == {
        folder.replace("seeds~0-0", "seeds~0-1") for folder in before if "/arch~resnet18/" in folder
    }
    assert planned == train_jobs(new) | analysis_after_training(every_job, downstream)


# -- row: analysis.* -> the fits, the guidance, the figures (and the report)


@pytest.mark.parametrize(
    "changes",
    [{"analysis.bootstrap": 60}, {"analysis.confidence": 0.9}, {"analysis.fit_nd": [16, 64]}],
    ids=["bootstrap", "confidence", "fit_nd"],
)
def test_a_fit_setting_reruns_the_fits_the_guidance_and_their_figures(
    complete, code, tmp_path, every_job, downstream, changes
):
    planned = planned_after(complete, code, tmp_path, **changes)
    fits = downstream({"fit_exponents", "fit_joint_law"})  # not the test errors: they are every run's
    assert "guidance" in fits and "cell_statistics" not in fits
    assert planned == jobs_of(every_job, fits)


def test_the_geomean_subsets_rerun_the_cell_statistics_and_their_figures(
    complete, code, tmp_path, every_job, downstream
):
    planned = planned_after(complete, code, tmp_path, **{"analysis.geomean_subsets": 6})
    assert planned == jobs_of(every_job, downstream({"cell_statistics"}))


# -- row: resources/throughput.yaml -> the guidance alone


def test_a_new_throughput_record_reruns_the_guidance_alone(complete, code, every_job, downstream):
    throughput = code / "resources" / "throughput.yaml"
    text, stat = throughput.read_text(), throughput.stat()
    try:
        throughput.write_text(text + "\n# a new --record\n")
        planned = planned_job_set(complete, code=code)
    finally:
        # The study is shared: put back the file and its time (an input of the guidance).
        throughput.write_text(text)
        os.utime(throughput, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert downstream({"guidance"}) == {"guidance"}
    assert planned == jobs_of(every_job, {"guidance"})


# -- row: plots.* -> the figures


def test_a_plot_setting_reruns_every_figure_and_nothing_else(complete, code, tmp_path, every_job):
    planned = planned_after(complete, code, tmp_path, **{"plots.dpi": 70})
    figures = {job for job in every_job if job[1].startswith("results/figures/")}
    assert figures and planned == figures


# -- not a row: an interrupted analysis


def test_an_interrupted_analysis_is_redone_after_a_rerun(complete, code, tmp_path, every_job, downstream):
    # A copy whose runs table was deleted: only the analysis is redone, never training.
    work = tmp_path / "work"
    shutil.copytree(complete, work, symlinks=True)
    (work / "results/tables/runs.csv").unlink()
    assert planned_job_set(work, code=code) == jobs_of(every_job, downstream({"aggregate_runs"}))
