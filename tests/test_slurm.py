"""The tiny study on a real single-node SLURM cluster, submitted through profiles/slurm.

The cluster (tests/slurm/cluster.py) runs munged, MariaDB, slurmdbd, slurmctld and
slurmd from a temporary folder; its node has two GPUs that are /dev/null and
/dev/zero, so GPU jobs are scheduled like on the real cluster and run on the CPU.
Skipped, with the reason, where that cannot be started (not root, packages missing);
CI installs the packages (.ci/run) and runs it.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TINY
from slurm.cluster import ACCOUNT, PARTITION, Cluster, unavailable

pytestmark = pytest.mark.slow
PROFILE = REPO / "profiles" / "slurm"
SACCT_FIELDS = ("JobIDRaw", "JobName", "State", "ExitCode", "Account", "Partition", "AllocTRES", "Comment")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with Cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


@pytest.fixture(scope="module")
def study(cluster, tmp_path_factory):
    """The tiny config with the paper's placement (simulation and training on a GPU),
    run to completion by `snakemake --profile profiles/slurm`."""
    work = tmp_path_factory.mktemp("study")
    config = yaml.safe_load(TINY.read_text())
    for stage in ("simulate", "train"):
        config["resources"][stage]["gpu"] = 1
    configfile = work / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    base = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(configfile)]
    planned = dry_run_counts(base, cluster.env)
    command = base + [
        "--profile", str(PROFILE),
        # A test cluster answers at once; the plugin's defaults wait 40 s before the
        # first status query and back off up to 3 minutes.
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "2",
    ]  # fmt: skip
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, env=cluster.env, cwd=work, timeout=900)
    seconds = time.monotonic() - start
    log = run.stdout + run.stderr
    if run.returncode != 0:
        pytest.fail(f"snakemake --profile profiles/slurm failed ({run.returncode}):\n{log[-6000:]}\n{cluster.logs()}")
    print(f"tiny study on SLURM: {seconds:.0f} s")
    return {"work": work, "base": base, "log": log, "planned": planned, "seconds": seconds, "cluster": cluster}


def dry_run_counts(base: list[str], env: dict) -> dict[str, int]:
    """Jobs per rule that a dry run plans, from Snakemake's job stats table."""
    out = subprocess.run(base + ["-n", "--quiet", "rules"], capture_output=True, text=True, env=env, check=True)
    counts = {}
    for line in (out.stdout + out.stderr).split("Job stats:")[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def test_every_output_of_the_study_is_complete(study):
    summary = subprocess.run(
        study["base"] + ["--summary"], capture_output=True, text=True, env=study["cluster"].env, check=True
    ).stdout
    files = pd.read_csv(io.StringIO(summary), sep="\t")
    assert len(files) > 0
    not_ok = files[(files["status"] != "ok") | (files["plan"] != "no update")]
    assert not_ok.empty, f"outputs not complete after the run:\n{not_ok.to_string()}"
    work = study["work"]
    for path in ("resources/shards/manifest.csv", "results/figures/atlas.png"):
        assert (work / path).stat().st_size > 0
    assert len(pd.read_csv(work / "resources/shards/manifest.csv")) == sum(1 for _ in work.glob("resources/shards/*/*.npy"))


def test_every_submitted_job_completed_in_accounting(study):
    log, cluster = study["log"], study["cluster"]
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", log))
    jobs = [job for job in cluster.sacct(*SACCT_FIELDS) if job["JobName"] == run_id]
    assert {job["JobIDRaw"] for job in jobs} == submitted
    assert all(job["State"] == "COMPLETED" and job["ExitCode"] == "0:0" for job in jobs), jobs
    assert all(job["Account"] == ACCOUNT and job["Partition"] == PARTITION for job in jobs), jobs
    # Every simulation job asked for its GPU through the `gpu` resource.
    simulations = [job for job in jobs if job["Comment"].startswith("rule_simulate_shard")]
    assert simulations and all("gres/gpu=1" in job["AllocTRES"] for job in simulations), simulations


def test_cheap_rules_ran_locally_and_the_rest_on_the_cluster(study):
    """Each rule with a job in the plan was either submitted or is a local rule."""
    jobs = [job for job in study["cluster"].sacct(*SACCT_FIELDS)]
    submitted_rules = {re.sub(r"_wildcards_.*$", "", job["Comment"]).removeprefix("rule_") for job in jobs}
    local = {"all", "shard_manifest", "atlas_figure"}
    planned = set(study["planned"])
    assert local <= planned
    assert not submitted_rules & local
    # training jobs are submitted as group jobs named after the group
    assert planned - local <= submitted_rules | {"train"}


def test_training_jobs_share_submissions(study):
    planned = study["planned"].get("train", 0)
    if planned == 0:
        pytest.skip("the workflow has no train rule yet")
    groups = [job for job in study["cluster"].sacct(*SACCT_FIELDS) if job["Comment"].startswith("rule_train")]
    assert 0 < len(groups) < planned
