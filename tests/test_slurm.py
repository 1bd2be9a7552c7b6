"""The tiny study on a real single-node SLURM cluster, submitted through profiles/slurm.

The cluster (tests/slurm/cluster.py) runs munged, MariaDB, slurmdbd, slurmctld and
slurmd from a temporary folder; its node has two GPUs that are /dev/null and
/dev/zero, so GPU jobs are scheduled like on the real cluster and run on the CPU.
Skipped, with the reason, where that cannot be started (not root, packages missing),
except under CI=true, where it fails instead: CI installs the packages (.ci/run) and
runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TINY
from regscale import slurmcheck
from slurm.cluster import ACCOUNT, PARTITION, Cluster, unavailable

pytestmark = pytest.mark.slow
PROFILE = REPO / "profiles" / "slurm"
SACCT_FIELDS = "JobIDRaw JobName State ExitCode Account Partition AllocTRES Timelimit ReqMem Comment".split()
PACK = 16  # training jobs per submission in the test (the profile packs 4)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = unavailable()
    if reason and os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        # CI installs SLURM (.ci/run): there a missing cluster is a failure, not a skip.
        pytest.fail(f"CI={os.environ['CI']}, so a failure, not a skip: {reason}")
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
    config["device"] = "auto"  # as on the cluster: CUDA where a job sees one, else the CPU
    configfile = work / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    base = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(configfile)]
    planned = dry_run_counts(base, cluster.env)
    # The site settings a user fills into the profile (its README), given here on the
    # command line: there they replace the profile's default-resources, so the rest of
    # that block is passed along unchanged.
    defaults = yaml.safe_load((PROFILE / "config.yaml").read_text())["default-resources"]
    defaults |= {"slurm_account": ACCOUNT, "slurm_partition": PARTITION}
    command = base + [
        "--profile", str(PROFILE),
        "--default-resources", *(f"{key}={value}" for key, value in defaults.items()),
        # A test cluster answers at once; the plugin's defaults wait 40 s before the
        # first status query and back off up to 3 minutes.
        "--slurm-init-seconds-before-status-checks", "2",
        "--seconds-between-status-checks", "2",
        # The profile packs four training jobs per submission; the test node has two
        # GPUs, so two submissions take all 32 training jobs of the tiny study.
        "--group-components", f"train={PACK}",
    ]  # fmt: skip
    start = time.monotonic()
    with open(work / "snakemake.log", "w") as out:
        run = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=cluster.env, cwd=work)
        try:
            crashed = crash_first_running(cluster, "simulate_shard", start + 300)
            requeued = requeue_first_running(cluster, "train", start + 600)
            returncode = run.wait(timeout=900)
        finally:
            if run.poll() is None:
                run.kill()
    seconds = time.monotonic() - start
    log = (work / "snakemake.log").read_text()
    if returncode != 0:
        pytest.fail(f"snakemake --profile profiles/slurm failed ({returncode}):\n{log[-6000:]}\n{cluster.logs()}")
    print(f"tiny study on SLURM: {seconds:.0f} s")
    return {
        "work": work, "base": base, "log": log, "planned": planned, "cluster": cluster,
        "crashed": crashed, "requeued": requeued,
    }  # fmt: skip


def running_job(cluster: Cluster, rule: str, deadline: float) -> tuple[str, str]:
    """(job id, comment) of the first running submission of ``rule`` (or of its group)."""
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "--noheader", "--states=RUNNING", "--format=%i|%k"],
            env=cluster.env, capture_output=True, text=True,
        ).stdout  # fmt: skip
        for line in queue.splitlines():
            jobid, comment = line.strip().split("|", 1)
            if comment.startswith(f"rule_{rule}"):
                return jobid, comment
        time.sleep(0.5)
    raise AssertionError(f"no {rule} job ran within the time allowed")


def requeue_first_running(cluster: Cluster, rule: str, deadline: float) -> str:
    """Requeue the first running submission of ``rule`` part-way, as SLURM does to a
    preempted job or one on a failed node: its processes are killed and the same batch
    script runs again later. Returns its job id."""
    jobid, _ = running_job(cluster, rule, deadline)
    time.sleep(3)  # let it get some way into its work
    requeue(cluster, jobid, deadline)
    return jobid


def requeue(cluster: Cluster, jobid: str, deadline: float) -> None:
    """``scontrol requeue`` the job, then release SLURM's hold on it early, as a site
    administrator may: a requeued job gets a begin time about two minutes ahead."""
    scontrol = lambda *args: subprocess.run(["scontrol", *args], env=cluster.env, check=True, capture_output=True)  # noqa: E731
    scontrol("requeue", jobid)
    # The requeue completes only once the job's processes are gone, and sets the hold
    # then: a begin time moved before that is overwritten (it cost each requeue 2 min).
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["squeue", "--noheader", "--jobs", jobid, "--format=%T"], env=cluster.env, capture_output=True, text=True
        ).stdout.strip()
        if state == "PENDING":
            # slurmd revokes the old run's credential to the second: a run started within
            # it is killed ("Job credential revoked", exit 1; seen once on the AMD VM).
            time.sleep(2)
            with contextlib.suppress(subprocess.CalledProcessError):
                scontrol("update", f"JobId={jobid}", "StartTime=now")
                return
        time.sleep(0.2)
    raise AssertionError(f"requeued job {jobid} could not be released")


def crash_first_running(cluster: Cluster, rule: str, deadline: float) -> str:
    """Kill the work of the first running job of ``rule`` (its job step, as when the
    program crashes or a node kills it), so that the job fails; return its comment."""
    while time.monotonic() < deadline:
        jobid, comment = running_job(cluster, rule, deadline)
        pids = subprocess.run(["scontrol", "listpids", jobid], env=cluster.env, capture_output=True, text=True).stdout
        step = [int(row.split()[0]) for row in pids.splitlines()[1:] if row.split()[2:3] == ["0"]]
        for pid in step:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if step:
            return comment
        time.sleep(0.5)
    raise AssertionError(f"no {rule} job step ran within the time allowed")


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
    assert len(pd.read_csv(work / "resources/shards/manifest.csv")) == sum(
        1 for _ in work.glob("resources/shards/*/*.npy")
    )


def test_every_submitted_job_completed_in_accounting(study):
    log, cluster = study["log"], study["cluster"]
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", log))
    jobs = [job for job in cluster.sacct(*SACCT_FIELDS) if job["JobName"] == run_id]
    assert {job["JobIDRaw"] for job in jobs} == submitted
    failed = [job for job in jobs if job["State"] != "COMPLETED" or job["ExitCode"] != "0:0"]
    assert [job["Comment"] for job in failed] == [study["crashed"]], failed
    assert all(job["Account"] == ACCOUNT and job["Partition"] == PARTITION for job in jobs), jobs
    # Every simulation job asked for its GPU through the `gpu` resource.
    simulations = [job for job in jobs if job["Comment"].startswith("rule_simulate_shard")]
    assert simulations and all("gres/gpu=1" in job["AllocTRES"] for job in simulations), simulations


def test_a_requeued_training_submission_runs_again_to_completion(study):
    runs = [job for job in study["cluster"].sacct(*SACCT_FIELDS, duplicates=True) if job["JobIDRaw"] == study["requeued"]]
    assert [job["State"] for job in runs] == ["REQUEUED", "COMPLETED"], runs
    assert runs[0]["Comment"] == "rule_train_train"


def test_jobs_given_a_gpu_fall_back_to_the_cpu_without_cuda(study):
    # Every job got --gpus=1 (the node's "GPUs" are /dev/null and /dev/zero), config
    # device auto: with no CUDA device visible each one simulated and trained on the CPU.
    work = study["work"]
    metas = [json.loads(path.read_text()) for path in work.glob("resources/shards/*/*.json")]
    metrics = [json.loads(path.read_text()) for path in work.glob("results/runs/**/metrics.json")]
    assert metas and {meta["device"] for meta in metas} == {"cpu"}
    assert len(metrics) >= study["planned"]["train"]
    assert all(m["device"].startswith("cpu") and not m["diverged"] for m in metrics)


def test_a_crashed_job_is_retried_with_more_time_and_memory(study):
    """Runtime and memory come from the config (tiny: 10 min, 1000 MB for simulation)
    and double on the first retry."""
    attempts = [job for job in study["cluster"].sacct(*SACCT_FIELDS) if job["Comment"] == study["crashed"]]
    assert [job["State"] for job in attempts] == ["FAILED", "COMPLETED"], attempts
    assert [job["Timelimit"] for job in attempts] == ["00:10:00", "00:20:00"]
    assert [job["ReqMem"] for job in attempts] == ["1000M", "2000M"]


def submitted_rules(cluster) -> list[str]:
    """The rule of each submission, from the comment the executor gives it:
    rule_<rule>_wildcards_<values>, or rule_<group>_<rule> for a group job."""
    groups = {
        f"{group}_{rule}": rule
        for rule, group in yaml.safe_load((PROFILE / "config.yaml").read_text())["groups"].items()
    }
    names = [
        re.sub(r"_wildcards_.*$", "", job["Comment"]).removeprefix("rule_") for job in cluster.sacct(*SACCT_FIELDS)
    ]
    return [groups.get(name, name) for name in names]


def test_cheap_rules_ran_locally_and_the_rest_on_the_cluster(study):
    local = set(re.findall(r"^localrule (\w+):", study["log"], re.MULTILINE))
    submitted = set(submitted_rules(study["cluster"]))
    assert {"all", "shard_manifest", "atlas_figure"} <= local
    assert {"simulate_shard", "atlas_images"} <= submitted
    assert not submitted & local
    assert set(study["planned"]) == submitted | local


def test_training_jobs_share_submissions(study):
    planned = study["planned"]["train"]
    assert submitted_rules(study["cluster"]).count("train") == -(-planned // PACK)
    trainings = [job for job in study["cluster"].sacct(*SACCT_FIELDS) if job["Comment"] == "rule_train_train"]
    assert trainings and all("gres/gpu=1" in job["AllocTRES"] for job in trainings), trainings


# -- CPU-only training: packed to fit, and what cannot fit named (issue 15, point 8) -------


def cpu_only_config(cluster: Cluster, folder: Path) -> tuple[Path, dict]:
    """The tiny config as a new user runs it without a GPU: everything on the CPU. Each
    training job takes ``cpus // 4 + 1`` threads, so that one fits the node and the
    four that the profile packs into a submission would not, side by side."""
    config = yaml.safe_load(TINY.read_text())
    config["device"] = "cpu"
    for stage in ("simulate", "train"):
        config["resources"][stage]["gpu"] = 0
    config["resources"]["train"]["threads"] = cluster.cpus // 4 + 1
    folder.mkdir(parents=True, exist_ok=True)
    configfile = folder / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return configfile, config


def one_submission_of_training(config: dict) -> list[str]:
    """As many training jobs of the smallest N_D as the profile packs into one submission."""
    from regscale import config as study_config
    from regscale import study as study_jobs

    resolved = yaml.safe_load(yaml.safe_dump(config))
    study_config.validate(resolved)
    smallest = min(job.n_d for job in study_jobs.jobs(resolved))
    folders = sorted(job.folder for job in study_jobs.jobs(resolved) if job.n_d == smallest)
    return folders[: profile_settings()["group-components"]["train"]]


def profile_settings() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def profile_arguments(work: Path, configfile: Path, *extra: str) -> list[str]:
    """Snakemake's arguments for a run through the profile on the test cluster (as in
    the `study` fixture), without the executable."""
    defaults = profile_settings()["default-resources"] | {"slurm_account": ACCOUNT, "slurm_partition": PARTITION}
    return [
        "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(configfile),
        "--profile", str(PROFILE),
        "--default-resources", *(f"{key}={value}" for key, value in defaults.items()),
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def cpu_study(cluster, tmp_path_factory):
    """One submission's worth of CPU-only training (and its shards), checked with
    regscale.slurmcheck and then run through the profile as it is."""
    work = tmp_path_factory.mktemp("cpu_study")
    configfile, config = cpu_only_config(cluster, work)
    targets = one_submission_of_training(config)
    arguments = profile_arguments(work, configfile, *targets)
    start = time.monotonic()
    problems = slurmcheck.check(arguments, env=cluster.env)
    checked = time.monotonic() - start
    run = subprocess.run(
        [str(SNAKEMAKE), *arguments], capture_output=True, text=True, env=cluster.env, cwd=work, timeout=900
    )
    log = run.stdout + run.stderr
    if run.returncode != 0:
        pytest.fail(f"CPU-only training through profiles/slurm failed ({run.returncode}):\n{log[-6000:]}\n{cluster.logs()}")
    print(f"slurmcheck: {checked:.0f} s; CPU-only training on SLURM: {time.monotonic() - start - checked:.0f} s")
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    jobs = [job for job in cluster.sacct(*SACCT_FIELDS) if job["JobName"] == run_id]
    return {"work": work, "config": config, "configfile": configfile, "targets": targets, "problems": problems, "jobs": jobs}


def test_the_check_passes_the_profile_with_cpu_only_training(cpu_study):
    assert cpu_study["problems"] == []


def test_cpu_only_training_jobs_are_packed_to_fit_a_node(cpu_study, cluster):
    """The packed submission asks for what one training job needs, not for the sum of
    four: its jobs run one after another, and its time limit is the sum of theirs."""
    train = cpu_study["config"]["resources"]["train"]
    packed = [job for job in cpu_study["jobs"] if job["Comment"] == "rule_train_train"]
    assert len(packed) == 1 and packed[0]["State"] == "COMPLETED", cpu_study["jobs"]
    assert f"cpu={train['threads']}," in packed[0]["AllocTRES"] and "gres/gpu" not in packed[0]["AllocTRES"]
    assert packed[0]["ReqMem"] == f"{train['mem_mb']}M"
    minutes = len(cpu_study["targets"]) * train["runtime"]
    assert packed[0]["Timelimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00"
    assert 4 * train["threads"] > cluster.cpus  # side by side, they would not have fitted
    for folder in cpu_study["targets"]:
        metrics = [json.loads(path.read_text()) for path in (cpu_study["work"] / folder).rglob("metrics.json")]
        assert metrics and all(m["device"].startswith("cpu") for m in metrics), folder


def test_the_check_names_every_submission_that_no_node_can_hold(cluster, tmp_path):
    configfile, config = cpu_only_config(cluster, tmp_path)
    threads = config["resources"]["train"]["threads"]
    targets = one_submission_of_training(config)
    work = tmp_path / "work"
    # The packing as it was: four CPU-only jobs side by side, asking for their sum.
    side_by_side = slurmcheck.check(
        profile_arguments(work, configfile, *targets, "--set-resources", "train:train_slot=0"), env=cluster.env
    )
    train = config["resources"]["train"]
    attempts = profile_settings()["retries"] + 1
    packed = f"group train ({len(targets)} train jobs)"
    assert side_by_side == [
        f"{packed}: {len(targets) * threads} CPUs, {len(targets) * train['mem_mb'] * attempt} MB, 0 GPUs, "
        f"{train['runtime'] * attempt} min in partition {PARTITION}{retry}: asks {len(targets) * threads} CPUs, "
        f"the most a node of partition {PARTITION} has is {cluster.cpus} CPUs ({cluster.node})"
        for attempt, retry in ((1, ""), (attempts, f" (attempt {attempts} of {attempts}, a retry)"))
    ]
    # Simulation asking for more memory than the node has: each rule named, with why,
    # for its first attempt and its last retry.
    config["resources"]["simulate"]["mem_mb"] = cluster.memory_mb + 1
    configfile.write_text(yaml.safe_dump(config))
    too_big = slurmcheck.check(profile_arguments(work, configfile), env=cluster.env)
    assert sorted(line.split(":")[0] for line in too_big) == 2 * ["atlas_images"] + 2 * ["simulate_shard"], too_big
    for line in too_big:
        attempt = attempts if "a retry" in line else 1
        assert f"asks {(cluster.memory_mb + 1) * attempt} MB, the most a node of partition {PARTITION} has" in line
    # A partition that does not exist.
    nowhere = slurmcheck.check(profile_arguments(work, configfile, "--set-resources", "train:slurm_partition=nowhere"), env=cluster.env)
    assert any(line.startswith("group train") and "partition nowhere does not exist" in line for line in nowhere), nowhere


def test_a_submission_that_can_never_start_is_reported_within_minutes(cpu_study, cluster, tmp_path):
    """Run anyway, with the packing as it was: SLURM holds the submission PENDING
    (PartitionConfig) for good; `python -m regscale.slurmcheck --queue` names it."""
    work = tmp_path / "work"
    shutil.copytree(cpu_study["work"], work, symlinks=True)
    arguments = profile_arguments(
        work, cpu_study["configfile"], "--set-resources", "train:train_slot=0", "--forcerun", "train", "--", *cpu_study["targets"]
    )
    start = time.monotonic()
    with open(tmp_path / "snakemake.log", "w") as out:
        run = subprocess.Popen([str(SNAKEMAKE), *arguments], stdout=out, stderr=subprocess.STDOUT, env=cluster.env, cwd=work)
    reported = []
    try:
        while not reported and time.monotonic() - start < 180 and run.poll() is None:
            time.sleep(2)
            reported = slurmcheck.stuck(env=cluster.env)
        seconds = time.monotonic() - start
    finally:
        run.send_signal(signal.SIGINT)  # Ctrl-C: Snakemake cancels its SLURM jobs
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
        for line in reported:
            subprocess.run(["scancel", line.split()[1]], env=cluster.env, capture_output=True)
    assert len(reported) == 1, (tmp_path / "snakemake.log").read_text()[-3000:]
    assert re.fullmatch(r"job \d+ \(train_train\): pending with reason PartitionConfig: .*", reported[0]), reported
    print(f"reported after {seconds:.0f} s: {reported[0]}")


def test_the_check_reads_slurm_s_limits_and_names_each_shortfall():
    # No cluster needed: the parsing of scontrol's values, and each reason in words.
    assert [slurmcheck.minutes(v) for v in ("1-00:00:00", "30", "02:00:00", "10:30", "UNLIMITED")] == [
        1440, 30, 120, 10.5, None,
    ]  # fmt: skip
    assert [slurmcheck.gpu_count(g) for g in ("gpu:2", "gpu:a100:4(S:0-1),gpu:v100:2", "(null)")] == [2, 6, 0]
    part = slurmcheck.Partition("p", default=True, up=True, max_minutes=60, max_mem_mb=8000, max_cpus=None)
    nodes = [slurmcheck.Node("cpu1", 32, 64000, 0, ("p",)), slurmcheck.Node("gpu1", 8, 16000, 4, ("p",))]
    ask = lambda **kw: slurmcheck.Submission(**({"name": "r", "cpus": 1, "mem_mb": 1000, "gpus": 0, "runtime": 10, "partition": None} | kw))  # noqa: E731
    assert slurmcheck.problem(ask(), {"p": part}, nodes) is None
    assert slurmcheck.problem(ask(cpus=16, gpus=1), {"p": part}, nodes) == "no single node of partition p has all of it at once"
    assert "allows at most 60 (MaxTime)" in slurmcheck.problem(ask(runtime=61), {"p": part}, nodes)
    assert "(MaxMemPerNode)" in slurmcheck.problem(ask(mem_mb=9000), {"p": part}, nodes)
    assert slurmcheck.problem(ask(gpus=5), {"p": part}, nodes) == "asks 5 GPUs, the most a node of partition p has is 4 GPUs (gpu1)"
    assert slurmcheck.problem(ask(partition="q"), {"p": part}, nodes) == "partition q does not exist (there are: p)"
    down = {"p": slurmcheck.Partition("p", True, False, None, None, None)}
    assert slurmcheck.problem(ask(), down, nodes) == "partition p is not up"
    assert ask(attempt=3, attempts=3).describe() == "1 CPUs, 1000 MB, 0 GPUs, 10 min in the default partition (attempt 3 of 3, a retry)"


def test_a_requeued_training_job_resumes_from_its_checkpoint_bit_for_bit(cluster, tiny_shards, tmp_path):
    """A long training job, requeued by SLURM after it wrote a checkpoint (as on
    preemption or a node failure), runs again from that checkpoint (its log says so)
    and ends with the metrics and history of an uninterrupted run."""
    from test_train_workflow import LONG, LONG_RUN, assert_same_runs, copy_of, write_config

    from conftest import snakemake
    from regscale import config as study_config
    from regscale import jobspec

    job = LONG  # the FCN ensemble, constant schedule
    # Long enough (about 20 s) that the requeue lands well before the job's end.
    changes = {"train": {"archs": {"fcn": {"max_epochs": 600}}}}
    configfile = write_config(tmp_path / "long.yaml", study_config.with_overrides(LONG_RUN, changes))
    work = copy_of(tiny_shards, tmp_path, "requeued")
    command = [str(SNAKEMAKE), *profile_arguments(work, configfile, job)]
    with open(tmp_path / "snakemake.log", "w") as out:
        run = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=cluster.env, cwd=work)
        try:
            deadline = time.monotonic() + 300
            while not any((work / jobspec.RESUME).rglob("state~*.pt")):
                assert run.poll() is None and time.monotonic() < deadline, "no checkpoint before the job ended"
                time.sleep(0.2)
            # At once, not after requeue_first_running's pause: the job must still be
            # training when it is requeued.
            jobid, _ = running_job(cluster, "train", deadline)
            requeue(cluster, jobid, deadline)
            returncode = run.wait(timeout=600)
        finally:
            if run.poll() is None:
                run.kill()
    assert returncode == 0, (tmp_path / "snakemake.log").read_text()[-4000:] + cluster.logs()
    states = [row["State"] for row in cluster.sacct(*SACCT_FIELDS, duplicates=True) if row["JobIDRaw"] == jobid]
    assert states == ["REQUEUED", "COMPLETED"], states
    log = (work / (job.replace("results/runs", "results/logs/train") + ".log")).read_text()
    epoch = int(re.search(r"resumed from the checkpoint of epoch (\d+)", log)[1])
    assert epoch > 0 and epoch % 3 == 0

    clean = copy_of(tiny_shards, tmp_path, "uninterrupted")
    snakemake(clean, job, configfile=configfile)
    assert_same_runs(work / job, clean / job)
