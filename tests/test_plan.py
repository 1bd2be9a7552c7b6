"""The planning command (python -m regscale.plan): job counts that match Snakemake's,
storage that matches the files the workflow writes, and the paper config's plan."""

import math
import re
import resource
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import REPO, TINY, snakemake
from regscale import archs, plan, study, throughput
from regscale.config import load

PAPER = REPO / "configs" / "paper.yaml"


def dry_run_counts(workdir, configfile, *args):
    text = (lambda r: r.stdout + r.stderr)(snakemake(workdir, "-n", *args, configfile=configfile))
    table = text.split("Job stats:")[-1].split("Reasons:")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


@pytest.mark.slow
def test_job_counts_are_snakemakes(tmp_path):
    counts = plan.job_counts(load(TINY))
    planned = dry_run_counts(tmp_path, TINY)
    assert {rule: planned[rule] for rule in counts} == counts


@pytest.mark.slow
def test_paper_dag_matches_the_plan_and_builds_within_a_minute(tmp_path):
    """Issue 5.2: `snakemake -n --configfile configs/paper.yaml` takes at most 60 s. CPU
    time is measured, so that load from other processes does not make it flaky."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    planned = dry_run_counts(tmp_path, PAPER, "--profile", str(REPO / "profiles" / "slurm"))
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - start
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"paper DAG: {planned['total']:,} jobs, dry run {wall:.1f} s wall, {cpu:.1f} s CPU")
    counts = plan.job_counts(load(PAPER))
    assert {rule: planned[rule] for rule in counts} == counts
    assert cpu < 60


def test_paper_jobs_and_submissions():
    config = load(PAPER)
    counts = plan.job_counts(config)
    assert counts == {"simulate_shard": 112 + 8, "atlas_images": 1, "train": len(study.jobs(config))}
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    per_submission = profile["group-components"][profile["groups"]["train"]]
    packed = plan.submissions(counts)
    assert packed["train"] == math.ceil(counts["train"] / per_submission) < counts["train"]
    assert packed["simulate_shard"] == counts["simulate_shard"]
    assert plan.submissions(counts, profile=None) == counts


def test_paper_storage():
    config = load(PAPER)
    runs = plan.training(config, throughput.load(throughput.FILE, "cpu")[1])
    sizes = plan.storage(config, runs)
    # 122,880 samples (112 + 8 shards of 1024) of 2 x 100 x 100 float16 spins
    assert sizes["shard_images"] == 122_880 * 2 * 100 * 100 * 2
    # FCN N_M from the closed form in regscale.models: (n_in + 1) w + (d - 1)(w + 1) w + (w + 1)
    w4 = next(run for run in runs if run.job.arch == "fcn" and run.job.size == "width~4/depth~3")
    assert w4.n_m == 20_001 * 4 + 2 * 5 * 4 + 5
    realizations = sum(len(run.job.seeds) for run in runs)
    assert sizes["models"] == sum(4 * run.n_m * len(run.job.seeds) for run in runs)
    assert sizes["checkpoints_all_jobs"] == 4 * sizes["models"]
    assert realizations == sum(len(job.seeds) for job in study.jobs(config))


def test_shard_storage_matches_the_written_shards(tiny_shards):
    config = load(TINY)
    sizes = plan.storage(config, [])
    images = sum(p.stat().st_size for p in tiny_shards.glob("resources/shards/*/*.npy"))
    tables = sum(
        p.stat().st_size for pattern in ("*.csv", "*.json") for p in tiny_shards.glob(f"resources/shards/*/{pattern}")
    )
    header = 128 * len(list(tiny_shards.glob("resources/shards/*/*.npy")))  # .npy header per file
    assert sizes["shard_images"] == images - header
    assert 0.5 < sizes["shard_tables"] / tables < 2


def test_training_time_scales_with_the_work():
    rates = {"train": {"fcn": [{"n_m": 1000, "samples_per_s": 100.0}]}}
    assert plan.samples_per_second(rates["train"]["fcn"], 1000) == 100.0
    assert plan.samples_per_second(rates["train"]["fcn"], 500) == 100.0  # smaller: no faster
    assert plan.samples_per_second(rates["train"]["fcn"], 4000) == 25.0  # larger: compute-bound
    config = load(PAPER)
    job = study.Job("fcn", "width~16/depth~3", "plateau", "J", 224, 0, 19)
    fcn = config["train"]["archs"]["fcn"]
    # plateau: at most max_epochs epochs, each of enough passes over the 196 training
    # samples to last min_epoch_steps optimizer steps
    passes = math.ceil(fcn["min_epoch_steps"] / math.ceil(196 / fcn["batch_size"]))
    assert plan.samples_per_run(config, job.arch, job.schedule, job.n_d) == fcn["max_epochs"] * passes * 196
    onecycle = study.Job("fcn", "width~16/depth~3", "onecycle", "J", 114_688, 0, 19)
    n_train = 114_688 - round(0.125 * 114_688)
    steps = min(max(math.ceil(0.5 * 114_688), 2000), 200_000)
    assert (
        plan.samples_per_run(config, onecycle.arch, onecycle.schedule, onecycle.n_d)
        == math.ceil(steps / math.ceil(n_train / 64)) * n_train
    )


def test_every_measurement_says_where_it_came_from():
    measured = yaml.safe_load(plan.THROUGHPUT.read_text())
    assert measured.get("cpu"), "the CPU measurements are the fallback and must be there"
    for device, block in measured.items():
        if not block:
            continue
        assert block["name"]
        assert {"spin_steps_per_s", "steps_per_sample", "source"} <= set(block["simulate"])
        assert block["train"]["source"]
        for arch in archs.ARCHITECTURES:
            entries = block["train"][arch]
            assert entries and all(e["n_m"] > 0 and e["samples_per_s"] > 0 for e in entries), (device, arch)


def test_the_command_prints_the_paper_plan():
    out = subprocess.run(
        [sys.executable, "-m", "regscale.plan", "--configfile", str(PAPER)], capture_output=True, text=True, check=True
    ).stdout
    config = load(PAPER)
    counts = plan.job_counts(config)
    packed = plan.submissions(counts)
    for rule in counts:
        assert re.search(rf"^  {rule}\s+{counts[rule]:,}\s+{packed[rule]:,}$", out, re.MULTILINE), out
    assert re.search(r"^  shards\s+4\.9 GB", out, re.MULTILINE), out
    hours = [float(x.replace(",", "")) for x in re.findall(r"^  total\s+([\d,.]+)$", out, re.MULTILINE)]
    assert hours and np.isfinite(hours[0]) and hours[0] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--configfile", "no/such.yaml"], "config file no/such.yaml does not exist"),
        (["--throughput", "no/such/folder/rates.yaml"], "folder no/such/folder does not exist"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message):
    result = subprocess.run([sys.executable, "-m", "regscale.plan", *args], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
