"""The train rule in real Snakemake runs of the tiny config (issue 3, point 4; the resume
of issue 5): outputs, staleness, and a job killed with SIGKILL that resumes from its
checkpoint."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from conftest import TINY, kill_when, snakemake, start_snakemake
from regscale import config as study_config
from regscale import jobspec, study

FCN = "results/runs/arch~fcn/width~4/depth~3/schedule~plateau/target~J/nd~64/seeds~0-1"
RESNET = "results/runs/arch~resnet18/width~8/schedule~plateau/target~J/nd~16/seeds~0-0"
VIT = "results/runs/arch~vit/patch~4/dim~16/depth~1/heads~2/schedule~plateau/target~J/nd~16/seeds~0-0"
LONG = "results/runs/arch~fcn/width~4/depth~3/schedule~constant/target~J/nd~64/seeds~0-1"


def write_config(path, changes):
    config = study_config.with_overrides(yaml.safe_load(TINY.read_text()), changes)
    path.write_text(yaml.safe_dump(config))
    return path


def copy_of(workdir, tmp_path, name):
    """A copy of a work directory, Snakemake's records included (shards stay up to date)."""
    target = tmp_path / name
    shutil.copytree(workdir, target, symlinks=True)
    return target


def planned_runs(result):
    """The outputs of the train jobs a dry run plans."""
    return set(re.findall(r"^\s+output: (results/runs/\S+)$", result.stdout + result.stderr, re.MULTILINE))


def test_a_job_reads_only_the_shards_its_n_d_needs():
    config = study_config.load(TINY)
    wildcards = SimpleNamespace(
        arch="fcn", size="width~4/depth~3", schedule="plateau", target="J", nd="20", first="0", last="1"
    )
    inputs = jobspec.rule_inputs(config, wildcards)
    assert inputs["pool_meta"] == ["resources/shards/pool/shard~00000.json", "resources/shards/pool/shard~00001.json"]
    assert len(inputs["test_images"]) == 2 and len(inputs["pool_images"]) == len(inputs["pool_table"]) == 2
    settings = json.loads(jobspec.rule_settings(config, wildcards))
    assert settings["ranges"] == {"J": [1.5, 3.0]} and settings["optimizer"]["lr"] == 1e-3
    assert (
        jobspec.rule_resume_folder(wildcards)
        == "results/resume/arch~fcn/width~4/depth~3/schedule~plateau/target~J/nd~20/seeds~0-1"
    )
    assert all(job.folder.startswith(study.RUNS) for job in study.jobs(config))


@pytest.fixture(scope="module")
def trained(tiny_shards, tmp_path_factory):
    """A copy of the tiny shards' work directory in which one job per architecture ran."""
    work = copy_of(tiny_shards, tmp_path_factory.mktemp("trained"), "work")
    snakemake(work, FCN, RESNET, VIT)
    return work


@pytest.mark.slow
def test_the_train_rule_writes_a_folder_per_run(trained):
    for folder, seeds in ((FCN, [0, 1]), (RESNET, [0]), (VIT, [0])):
        run_dir = trained / folder
        assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == [f"seed~{s}" for s in seeds]
        for seed in seeds:
            metrics = json.loads((run_dir / f"seed~{seed}" / "metrics.json").read_text())
            assert metrics["seed"] == seed and metrics["n_d"] == int(re.search(r"nd~(\d+)", folder)[1])
            assert {"history.csv", "model.pt"} <= {p.name for p in (run_dir / f"seed~{seed}").iterdir()}
        assert (
            "wrote 1 runs" in (trained / (folder.replace("results/runs", "results/logs/train") + ".log")).read_text()
            or len(seeds) > 1
        )
        assert (trained / (folder.replace("results/runs", "results/benchmarks/train") + ".tsv")).exists()
    assert not any(path.is_file() for path in (trained / jobspec.RESUME).rglob("*"))
    again = snakemake(trained, "-n", FCN, RESNET, VIT)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_a_training_setting_makes_only_its_runs_stale(trained, tmp_path):
    """Changing the FCN's learning rate re-runs the FCN job, not the others and no shard;
    the ResNet's, only the ResNet job; how often to checkpoint, nothing."""
    cases = [
        ({"train": {"archs": {"fcn": {"lr": 2.0e-3}}}}, {FCN}),
        ({"train": {"archs": {"resnet18": {"weight_decay": 1.0e-3}}}}, {RESNET}),
        ({"schedules": {"plateau": {"patience": 3}}}, {FCN, RESNET, VIT}),
        ({"train": {"checkpoint_every": 3}}, set()),
    ]
    for number, (change, stale) in enumerate(cases):
        configfile = write_config(tmp_path / f"changed{number}.yaml", change)
        result = snakemake(trained, "-n", FCN, RESNET, VIT, configfile=configfile)
        assert planned_runs(result) == stale, (change, result.stdout)
        assert "simulate_shard" not in result.stdout, change


LONG_RUN = {"train": {"checkpoint_every": 3, "checkpoint_seconds": 0}}
# (job, config changes that make it long enough to be killed after a checkpoint): the
# seed-batched FCN ensemble and the single-model path (ResNet-18, ViT), under each
# schedule whose state a checkpoint must carry (plateau: its patience counter and lowered
# rate; onecycle: its position in the cycle).
KILLED_JOBS = {
    "fcn-plateau": (FCN, {"train": {"archs": {"fcn": {"max_epochs": 300}}}, "schedules": {"plateau": {"early_stop": 1000}}}),
    "fcn-onecycle": (
        LONG.replace("schedule~constant", "schedule~onecycle"),
        {"schedules": {"onecycle": {"min_steps": 4000, "max_steps": 4000}}},
    ),
    "resnet18-plateau": (
        RESNET,
        {"train": {"archs": {"resnet18": {"max_epochs": 150}}}, "schedules": {"plateau": {"early_stop": 1000}}},
    ),
    "vit-onecycle": (
        VIT.replace("schedule~plateau", "schedule~onecycle"),
        {"experiments": {"vit": {"schedules": ["onecycle"]}}, "schedules": {"onecycle": {"min_steps": 600, "max_steps": 600}}},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", KILLED_JOBS)
def test_a_killed_training_job_resumes_from_its_checkpoint(tiny_shards, tmp_path, case):
    job, changes = KILLED_JOBS[case]
    configfile = write_config(tmp_path / "long.yaml", study_config.with_overrides(LONG_RUN, changes))
    resume = tmp_path / "killed" / jobspec.RESUME
    killed = copy_of(tiny_shards, tmp_path, "killed")
    process = start_snakemake(killed, job, configfile=configfile)
    kill_when(process, lambda: any(resume.rglob("state~*.pt")))
    assert not (killed / job / "seed~0" / "metrics.json").exists()

    snakemake(killed, "--unlock", configfile=configfile)
    snakemake(killed, "--rerun-incomplete", job, configfile=configfile)
    log = (killed / (job.replace("results/runs", "results/logs/train") + ".log")).read_text()
    epoch = int(re.search(r"resumed from the checkpoint of epoch (\d+)", log)[1])
    metrics = json.loads((killed / job / "seed~0" / "metrics.json").read_text())
    assert 0 < epoch < metrics["epochs"] and epoch % 3 == 0
    assert not any(resume.rglob("*.pt")), "the checkpoint outlived the job"

    clean = copy_of(tiny_shards, tmp_path, "clean")
    snakemake(clean, job, configfile=configfile)
    assert_same_runs(killed / job, clean / job)


def assert_same_runs(resumed_job: Path, uninterrupted_job: Path) -> None:
    """The same seeds in both job folders, each with the same metrics (wall time aside)
    and the same training history, bit for bit."""
    seeds = sorted(path.name for path in uninterrupted_job.glob("seed~*"))
    assert seeds and seeds == sorted(path.name for path in resumed_job.glob("seed~*"))
    for seed in seeds:
        resumed = json.loads((resumed_job / seed / "metrics.json").read_text())
        uninterrupted = json.loads((uninterrupted_job / seed / "metrics.json").read_text())
        resumed.pop("wall_s"), uninterrupted.pop("wall_s")
        assert resumed == uninterrupted
        pd.testing.assert_frame_equal(
            pd.read_csv(resumed_job / seed / "history.csv"), pd.read_csv(uninterrupted_job / seed / "history.csv")
        )


def test_a_corrupt_shard_stops_training_before_it_reads_anything(tiny_shards, tmp_path):
    work = copy_of(tiny_shards, tmp_path, "corrupt")
    images = work / "resources/shards/pool/shard~00000.npy"
    data = bytearray(images.read_bytes())
    data[-5] ^= 0x40  # one flipped bit in the last image: same size, wrong content
    images.write_bytes(bytes(data))
    result = snakemake(work, FCN, check=False)
    assert result.returncode != 0
    log = (work / "results/logs/train" / FCN.removeprefix("results/runs/")).with_suffix(".log").read_text()
    assert "shard~00000.npy is corrupt or truncated: SHA-256" in log
    assert not (work / FCN).exists() and not (work / "results/resume").exists()
