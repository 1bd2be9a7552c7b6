"""What one training job needs from the config, and the glue of the train rule.

The workflow imports it while it builds the DAG, so it imports no model library.

:class:`JobSpec` holds every setting that shapes the runs of one job (regscale.study.Job):
the architecture and size, the arch's optimizer settings, the schedule's settings with
its defaults filled, the target(s) and the uniform priors that standardize them, N_D,
the seeds, the validation fraction, the test-set size, the study seed and the image
shape. The train rule passes :meth:`JobSpec.settings` as a param, so changing any of
them re-runs exactly the affected jobs (Snakemake's params rerun trigger); settings of
other architectures, schedules or targets, and everything upstream, stay untouched.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import archs, targets
from .codeversion import code_version, entry_version
from .hashing import digest
from .schedules import Schedule
from .shards import shard_count, shard_files
from .study import RUNS, Job, parse_size

TARGETS = targets.names()
OPTIMIZER_KEYS = ("optimizer", "lr", "weight_decay", "batch_size", "max_epochs", "min_epoch_steps")  # train.archs.<arch>
RESUME = "results/resume"  # resumable checkpoints, outside the job's output directory


@cache  # per job of the DAG: compute once per architecture
def code_version_for(script: Path | str, arch: str) -> str:
    """The code version of ``script`` (and all it imports) for jobs of one architecture:
    of the architecture registry only its shared part and this architecture's entry
    count, so registering or changing one architecture leaves the jobs of the others
    alone (regscale.codeversion)."""
    shared = code_version(script, per_entry=archs.__name__)
    return digest([shared, entry_version(archs.__name__, arch)])


@cache  # the sources do not change under a running process; every run and seed asks
def code_digest(arch: str) -> str:
    """The code version of the training library (regscale.train and every module it
    imports) for ``arch``: recorded in each run's metrics and checkpoint, so that a run
    is resumed or reused only by the same training code."""
    return code_version_for(Path(__file__).with_name("train.py"), arch)


@dataclass(frozen=True)
class JobSpec:
    arch: str
    size: dict
    schedule: str
    schedule_settings: dict
    target: str
    n_d: int
    first_seed: int
    last_seed: int
    optimizer: dict  # train.archs.<arch>: the OPTIMIZER_KEYS
    validation_fraction: float
    test_size: int
    seed: int  # the study seed
    ranges: dict  # target -> [low, high], the uniform prior used to standardize it
    image_shape: tuple
    draws: str = "prefix"  # train.draws: which samples each realization sees (regscale.draws)
    pool: int | None = None  # under draws = realization, the pool's samples it draws from

    @classmethod
    def from_config(cls, config: dict, job: Job) -> "JobSpec":
        targets = TARGETS if job.target == "joint" else (job.target,)
        lattice = config["physics"]["lattice"]
        return cls(
            arch=job.arch,
            size=parse_size(job.size),
            schedule=job.schedule,
            schedule_settings=Schedule.from_config(config["schedules"][job.schedule]).settings(),
            target=job.target,
            n_d=job.n_d,
            first_seed=job.first_seed,
            last_seed=job.last_seed,
            optimizer={key: config["train"]["archs"][job.arch][key] for key in OPTIMIZER_KEYS},
            validation_fraction=config["train"]["validation_fraction"],
            test_size=config["data"]["test_size"],
            seed=config["seed"],
            ranges={name: list(config["physics"]["ranges"][name]) for name in targets},
            image_shape=(2, lattice["rows"], lattice["cols"]),
            draws=config["train"]["draws"],
            # Under prefix the pool's size does not touch a run: a larger pool leaves it alone.
            pool=pool_samples(config) if config["train"]["draws"] == "realization" else None,
        )

    @classmethod
    def from_settings(cls, settings: dict) -> "JobSpec":
        return cls(**{**settings, "image_shape": tuple(settings["image_shape"])})

    def settings(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        return digest(self.settings())

    @property
    def job(self) -> Job:
        return Job(self.arch, self.size_label, self.schedule, self.target, self.n_d, self.first_seed, self.last_seed)

    @property
    def size_label(self) -> str:
        from .study import size_label

        return size_label(self.arch, self.size)

    @property
    def targets(self) -> tuple[str, ...]:
        return TARGETS if self.target == "joint" else (self.target,)

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.last_seed + 1)


def check_training(config: dict) -> None:
    """ValueError naming the first experiment that cannot be trained: an architecture
    that is not registered, a size that does not fit the image, a bad schedule."""
    lattice = config["physics"]["lattice"]
    image_shape = (2, lattice["rows"], lattice["cols"])
    for name, settings in config["schedules"].items():
        try:
            Schedule.from_config(settings)
        except ValueError as error:
            raise ValueError(f"schedules.{name}: {error}") from None
    for name, experiment in config["experiments"].items():
        try:
            arch = archs.get(experiment["arch"])
        except ValueError as error:
            raise ValueError(f"experiments.{name}.arch: {error}") from None
        for size in experiment["sizes"]:
            try:
                arch.check_size(size, image_shape)
            except ValueError as error:
                raise ValueError(f"experiments.{name}.sizes: {error}") from None


# Glue of workflow/rules/train.smk (a rules file may not define functions).


def job_from_wildcards(wildcards) -> Job:
    return Job(
        wildcards.arch,
        wildcards.size,
        wildcards.schedule,
        wildcards.target,
        int(wildcards.nd),
        int(wildcards.first),
        int(wildcards.last),
    )


def pool_samples(config: dict) -> int:
    """The training pool's samples: data.pool_size rounded up to whole shards."""
    shard_size = config["data"]["shard_size"]
    return shard_count(config["data"]["pool_size"], shard_size) * shard_size


def rule_inputs(config: dict, wildcards) -> dict[str, list[str]]:
    """The shards a job reads: under train.draws = prefix the first ceil(N_D / shard_size)
    pool shards, so that a larger pool leaves small-N_D runs alone; under realization the
    whole pool. And the whole test set."""
    shard_size = config["data"]["shard_size"]
    drawn = config["train"]["draws"] == "realization"
    counts = {
        "pool": pool_samples(config) // shard_size if drawn else shard_count(int(wildcards.nd), shard_size),
        "test": shard_count(config["data"]["test_size"], shard_size),
    }
    return {
        f"{split}_{kind}": [str(shard_files(split, index)[kind]) for index in range(count)]
        for split, count in counts.items()
        for kind in ("images", "table", "meta")
    }


def rule_settings(config: dict, wildcards) -> str:
    return json.dumps(JobSpec.from_config(config, job_from_wildcards(wildcards)).settings(), sort_keys=True)


def resume_folder(job: Job) -> str:
    """Where a job keeps its checkpoint and finished seeds until it completes."""
    return f"{RESUME}/{job.folder.removeprefix(RUNS + '/')}"


def rule_resume_folder(wildcards) -> str:
    return resume_folder(job_from_wildcards(wildcards))
