"""Will every SLURM submission of a study fit a node? Checked before submitting.

SLURM keeps a job that no node of its partition can hold PENDING (reason
``PartitionConfig``, ``PartitionTimeLimit``, ...) and the executor plugin waits for it
without a word. This module asks Snakemake what it would submit and SLURM what its
nodes have, and names every submission that could never start, with the reason::

    python -m regscale.slurmcheck --configfile configs/paper.yaml      # or: make slurm-check
    python -m regscale.slurmcheck --queue    # a running study: jobs pending for good

The submissions come from a dry run of the real workflow under the SLURM profile
(``--profile profiles/slurm`` unless other snakemake arguments name one), with
Snakemake's own arithmetic: each job's threads, mem_mb, runtime and gpu after the
config, the profile's default-resources and set-resources, and for a group job (the
profile packs training jobs) the group's total as Snakemake computes it for
submission. Those are compared with ``scontrol show node`` and ``scontrol show
partition``: CPUs, memory and GPUs of one node, the partition's MaxTime,
MaxMemPerNode and MaxCPUsPerNode, and whether the partition exists. Local rules run in
the Snakemake process and are not checked. Exit status 1 when something cannot fit.

``--queue`` looks at the queue instead: every pending job of this user whose reason
means that it will never start as it is (:data:`NEVER_STARTS`), by the rule or group
that the executor wrote into its comment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
# Pending reasons that SLURM gives a job that cannot start on the cluster as
# configured (squeue --format=%r); it stays pending until cancelled.
NEVER_STARTS = {
    "PartitionConfig": "asks for more CPUs, memory or GPUs than any node of its partition has",
    "PartitionNodeLimit": "asks for more nodes than its partition allows",
    "PartitionTimeLimit": "asks for more time than its partition's MaxTime",
    "BadConstraints": "asks for a combination of resources or features that no node has",
    "PartitionDown": "its partition is down",
    "PartitionInactive": "its partition is inactive",
    "InvalidAccount": "its account is invalid",
    "InvalidQOS": "its QOS is invalid",
    "QOSMaxCpuPerJobLimit": "asks for more CPUs than its QOS allows one job",
    "QOSMaxMemoryPerJob": "asks for more memory than its QOS allows one job",
    "QOSMaxGRESPerJob": "asks for more GPUs than its QOS allows one job",
    "QOSMaxWallDurationPerJobLimit": "asks for more time than its QOS allows one job",
    "AssocMaxCpuPerJobLimit": "asks for more CPUs than its account allows one job",
    "AssocMaxMemPerJob": "asks for more memory than its account allows one job",
    "AssocMaxWallDurationPerJobLimit": "asks for more time than its account allows one job",
}


@dataclass(frozen=True)
class Submission:
    """What one sbatch call of the study asks for."""

    name: str  # the rule, or "group <name> (<n> <rule> jobs)"
    cpus: int
    mem_mb: int
    gpus: int
    runtime: int  # minutes (0: none given)
    partition: str | None  # None: the cluster's default partition
    attempt: int = 1  # the first, or the last retry (runtime and memory grow with it)
    attempts: int = 1  # 1 + the profile's retries

    def describe(self) -> str:
        where = f"partition {self.partition}" if self.partition else "the default partition"
        time = f", {self.runtime} min" if self.runtime else ""
        retry = f" (attempt {self.attempt} of {self.attempts}, a retry)" if self.attempt > 1 else ""
        return f"{self.cpus} CPUs, {self.mem_mb} MB, {self.gpus} GPUs{time} in {where}{retry}"


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    mem_mb: int
    gpus: int
    partitions: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    up: bool
    max_minutes: float | None  # None: unlimited
    max_mem_mb: int | None
    max_cpus: int | None


# -- what Snakemake would submit -------------------------------------------------------

# Run in a child Python: a dry run of the workflow through the SLURM profile, recording
# every job the scheduler hands to the (dry-run) executor, with Snakemake's resources.
_CAPTURE = r"""
import json, sys
from snakemake.executors import dryrun
out, argv = sys.argv[1], sys.argv[2:]
records = []
def resources_at(job, attempt):
    job.attempt = attempt  # runtime and memory may grow with it (retries)
    return {k: v for k, v in job.resources.items() if isinstance(v, (int, str))}
def run_job(self, job, _run=dryrun.Executor.run_job):
    last = job.restart_times + 1
    attempts = {attempt: resources_at(job, attempt) for attempt in sorted({1, last})}
    job.attempt = 1
    if job.is_group():
        rules = sorted({j.rule.name for j in job.jobs})
        record = {"group": job.groupid, "rules": rules, "jobs": len(job.jobs)}
    else:
        local = job.rule.norun or job.rule.name in getattr(self.workflow, "_localrules", set())
        record = {"rule": job.rule.name, "local": local}
    records.extend(record | {"attempt": attempt, "last": last, "resources": res} for attempt, res in attempts.items())
    return _run(self, job)
dryrun.Executor.run_job = run_job
from snakemake.cli import main
try:
    main(argv)
except SystemExit as exit:
    code = exit.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({"code": code, "jobs": records}, f)
"""


def snakemake_args(args: list[str]) -> list[str]:
    """The dry run: the given snakemake arguments, the SLURM profile unless one is named,
    and enough cores that no job's threads are capped by this machine's."""
    named = any(arg == "--profile" or arg.startswith("--profile=") for arg in args)
    return [*([] if named else ["--profile", str(PROFILE)]), *args, "--dry-run", "--quiet", "all", "--cores", "100000"]


def submissions(args: list[str], cwd: Path = REPO) -> list[Submission]:
    """Every distinct submission a run with these snakemake arguments would make."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "jobs.json"
        result = subprocess.run(
            [sys.executable, "-c", _CAPTURE, str(out), *snakemake_args(args)],
            capture_output=True, text=True, cwd=cwd,
        )  # fmt: skip
        if not out.exists() or json.loads(out.read_text())["code"] not in (0, None):
            raise RuntimeError(f"the dry run failed:\n{(result.stdout + result.stderr)[-3000:]}")
        records = json.loads(out.read_text())["jobs"]
    found = []
    for record in records:
        if record.get("local"):
            continue
        if "group" in record:
            name = f"group {record['group']} ({record['jobs']} {'/'.join(record['rules'])} jobs)"
        else:
            name = record["rule"]
        submission = _submission(name, record["resources"], record["attempt"], record["last"])
        if submission not in found:
            found.append(submission)
    return found


def _submission(name: str, resources: dict, attempt: int = 1, last: int = 1) -> Submission:
    def number(key):
        value = resources.get(key, 0)
        return int(value) if isinstance(value, int) or str(value).isdigit() else 0

    cpus = number("cpus_per_task") or number("_cores") or number("threads") or 1
    gpus = number("gpu")
    gres = str(resources.get("gres", ""))
    for part in gres.split(","):
        fields = part.strip().split(":")
        if fields[0] == "gpu" and fields[-1].isdigit():
            gpus = max(gpus, int(fields[-1]))
    mem_mb = number("mem_mb") or number("mem_mb_per_cpu") * cpus
    partition = resources.get("slurm_partition") or None
    return Submission(name, cpus, mem_mb, gpus, number("runtime"), partition, attempt, last)


# -- what the cluster has ----------------------------------------------------------------


def _fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split() if "=" in item)


def _limit(value: str | None) -> int | None:
    return None if value in (None, "UNLIMITED", "INFINITE", "0") else int(value)


def minutes(value: str) -> float | None:
    """A SLURM time limit ([days-]hours:minutes:seconds, minutes, ...) in minutes."""
    if value in ("UNLIMITED", "INFINITE", "NONE"):
        return None
    days, _, clock = value.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    if len(parts) == 1:
        hours, mins, secs = 0, parts[0], 0
    elif len(parts) == 2:
        hours, mins, secs = (parts[0], parts[1], 0) if days else (0, parts[0], parts[1])
    else:
        hours, mins, secs = parts
    return (int(days or 0) * 24 + hours) * 60 + mins + secs / 60


def gpu_count(gres: str) -> int:
    """GPUs in a node's Gres (gpu:2, gpu:a100:4(S:0-1), ...)."""
    total = 0
    for part in re.split(r",(?![^(]*\))", gres):
        fields = re.sub(r"\(.*\)", "", part).split(":")
        if fields[0] == "gpu" and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def cluster(env: dict | None = None) -> tuple[dict[str, Partition], list[Node]]:
    """The partitions and nodes that ``scontrol`` reports."""

    def scontrol(*args):
        result = subprocess.run(["scontrol", "show", *args, "--oneliner"], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"scontrol show {' '.join(args)} failed (is SLURM reachable from here?): {result.stderr.strip()}")
        return result.stdout

    partitions = {}
    for line in scontrol("partition").splitlines():
        fields = _fields(line)
        if "PartitionName" in fields:
            partitions[fields["PartitionName"]] = Partition(
                name=fields["PartitionName"],
                default=fields.get("Default") == "YES",
                up=fields.get("State", "UP") == "UP",
                max_minutes=minutes(fields.get("MaxTime", "UNLIMITED")),
                max_mem_mb=_limit(fields.get("MaxMemPerNode")),
                max_cpus=_limit(fields.get("MaxCPUsPerNode")),
            )
    nodes = []
    for line in scontrol("node").splitlines():
        fields = _fields(line)
        if "NodeName" in fields:
            memory = int(fields.get("RealMemory", 0)) - int(fields.get("MemSpecLimit", 0) or 0)
            nodes.append(
                Node(
                    name=fields["NodeName"],
                    cpus=int(fields.get("CPUEfctv", fields.get("CPUTot", 0))),
                    mem_mb=memory,
                    gpus=gpu_count(fields.get("Gres", "")),
                    partitions=tuple(fields.get("Partitions", "").split(",")),
                )
            )
    return partitions, nodes


# -- the check -----------------------------------------------------------------------------


def problem(submission: Submission, partitions: dict[str, Partition], nodes: list[Node]) -> str | None:
    """Why ``submission`` can never start on this cluster, or None when some node can hold it."""
    name = submission.partition or next((p.name for p in partitions.values() if p.default), None)
    if name is None:
        return "names no partition, and the cluster has no default partition"
    if name not in partitions:
        return f"partition {name} does not exist (there are: {', '.join(sorted(partitions))})"
    partition = partitions[name]
    if not partition.up:
        return f"partition {name} is not up"
    if partition.max_minutes is not None and submission.runtime > partition.max_minutes:
        return f"asks {submission.runtime} min; partition {name} allows at most {partition.max_minutes:g} (MaxTime)"
    if partition.max_mem_mb is not None and submission.mem_mb > partition.max_mem_mb:
        return f"asks {submission.mem_mb} MB; partition {name} allows {partition.max_mem_mb} MB per node (MaxMemPerNode)"
    if partition.max_cpus is not None and submission.cpus > partition.max_cpus:
        return f"asks {submission.cpus} CPUs; partition {name} allows {partition.max_cpus} per node (MaxCPUsPerNode)"
    members = [node for node in nodes if name in node.partitions]
    if not members:
        return f"partition {name} has no nodes"
    fits = [
        node
        for node in members
        if node.cpus >= submission.cpus and node.mem_mb >= submission.mem_mb and node.gpus >= submission.gpus
    ]
    if fits:
        return None
    short = []
    for attribute, unit in (("cpus", " CPUs"), ("mem_mb", " MB"), ("gpus", " GPUs")):
        best = max(members, key=lambda node: getattr(node, attribute))
        if getattr(best, attribute) < getattr(submission, attribute):
            short.append(
                f"asks {getattr(submission, attribute)}{unit}, the most a node of partition {name} "
                f"has is {getattr(best, attribute)}{unit} ({best.name})"
            )
    if not short:
        short.append(f"no single node of partition {name} has all of it at once")
    return "; ".join(short)


def check(args: list[str], env: dict | None = None, cwd: Path = REPO, checked: list | None = None) -> list[str]:
    """One line per submission that no node can ever run: its name, what it asks, why.
    ``checked``, when given, receives every distinct submission."""
    partitions, nodes = cluster(env)
    lines = []
    for submission in submissions(args, cwd=cwd):
        if checked is not None:
            checked.append(submission)
        reason = problem(submission, partitions, nodes)
        if reason:
            lines.append(f"{submission.name}: {submission.describe()}: {reason}")
    return lines


def stuck(env: dict | None = None, user: str | None = None) -> list[str]:
    """One line per pending job of ``user`` (default: this one) that will never start:
    job id, the rule or group from its comment, SLURM's reason and what it means."""
    user = user or os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    queue = subprocess.run(
        ["squeue", "--noheader", f"--user={user}", "--states=PENDING", "--format=%i|%k|%r"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    lines = []
    for row in queue.splitlines():
        jobid, comment, reason = row.strip().split("|", 2)
        if reason in NEVER_STARTS:
            what = re.sub(r"_wildcards_.*$", "", comment).removeprefix("rule_")
            what = "no comment" if what in ("", "(null)") else what
            lines.append(f"job {jobid} ({what}): pending with reason {reason}: {NEVER_STARTS[reason]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m regscale.slurmcheck",
        description="Name every SLURM submission of the study that no node can run, before submitting "
        "(other arguments go to the snakemake dry run, e.g. --configfile configs/paper.yaml), "
        "or with --queue the pending jobs that will never start.",
    )
    parser.add_argument("--queue", action="store_true", help="check the queue instead of the study")
    parser.add_argument("--user", help="with --queue: whose jobs (default: yours)")
    options, rest = parser.parse_known_args(argv)
    if options.queue:
        lines = stuck(user=options.user)
        for line in lines:
            print(line)
        if lines:
            print("Cancel them (scancel <job id>, or Ctrl-C the Snakemake run) and fix the resources.")
        else:
            print("No pending job that could never start.")
        return 1 if lines else 0
    checked = []
    try:
        lines = check(rest, cwd=Path.cwd(), checked=checked)
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as error:
        print(f"slurmcheck: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    if lines:
        print(
            f"{len(lines)} kind(s) of submission would stay PENDING forever. Lower the resources in the "
            "config's resources: section, choose another partition (profiles/slurm/README.md), or lower "
            "group-components (or, for a retry, retries) in the profile."
        )
        return 1
    if not checked:
        print("Nothing to submit: the study is complete (for these targets).")
        return 0
    for submission in checked:
        print(f"{submission.name}: {submission.describe()}: fits")
    print("Every submission fits a node of its partition.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
