"""What a study will cost before it runs: ``python -m regscale.plan --configfile configs/paper.yaml``.

Prints, for a config, the jobs of each compute rule and the SLURM submissions they make
under the packing of profiles/slurm, the device-hours they need at measured throughput
(resources/throughput.yaml: where each number came from is written next to it), and
the disk space of the shards, trained models and resume checkpoints.

The estimates are upper bounds in one respect: every run is counted to its last epoch
(``max_epochs``, or the length of a onecycle/cosine schedule), while the plateau
schedule stops early. They ignore evaluation passes (validation and test, forward only)
and start-up, and take a relaxation to need as many steps per sample as in the
benchmark, whatever the lattice size.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import archs, study, targets, throughput
from .config import load
from .epochs import epoch_plan
from .schedules import Schedule
from .shards import shard_count

REPO = Path(__file__).resolve().parents[2]
THROUGHPUT = throughput.FILE
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
IMAGE_BYTES_PER_SPIN = 2  # float16
TABLE_BYTES_PER_SAMPLE = 90  # a shard's CSV row (id, labels, diagnostics): ~80 bytes measured
META_BYTES_PER_SHARD = 1024
FLOAT32 = 4
# A resume checkpoint holds, per realization, the weights, the best weights so far and
# Adam's two moments (regscale.train): four float32 copies of the model.
CHECKPOINT_COPIES = 4


# -- the pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    job: study.Job
    n_m: int  # parameters of one realization
    seconds: float  # of the whole job at the measured throughput


def image_shape(config: dict) -> tuple[int, int, int]:
    lattice = config["physics"]["lattice"]
    return (2, lattice["rows"], lattice["cols"])


def shard_counts(config: dict) -> dict[str, int]:
    data = config["data"]
    return {split: shard_count(data[f"{split}_size"], data["shard_size"]) for split in ("pool", "test")}


def simulated_samples(config: dict) -> int:
    """Samples the shards hold: whole shards, so the pool rounds up."""
    return sum(shard_counts(config).values()) * config["data"]["shard_size"]


def atlas_samples(config: dict) -> int:
    atlas = config["data"]["atlas"]
    return len(atlas["theta"]) * len(atlas["D"]) + len(atlas["J"])


def job_counts(config: dict) -> dict[str, int]:
    """Jobs of the rules that compute; the rest (manifest, tables, fits, figures) are
    one cheap local job each."""
    return {"simulate_shard": sum(shard_counts(config).values()), "atlas_images": 1, "train": len(study.jobs(config))}


def submissions(counts: dict[str, int], profile: Path | None = PROFILE) -> dict[str, int]:
    """SLURM submissions per rule: a grouped rule packs group-components jobs into one."""
    if profile is None or not Path(profile).exists():
        return dict(counts)
    settings = yaml.safe_load(Path(profile).read_text()) or {}
    groups, components = settings.get("groups", {}), settings.get("group-components", {})
    return {rule: math.ceil(n / components.get(groups[rule], 1)) if rule in groups else n for rule, n in counts.items()}


def parameter_count(arch: str, size: dict, shape, n_outputs: int) -> int:
    """N_M of the model the trainer builds (on the meta device: nothing is allocated)."""
    import torch

    from .archs import build_model
    from .models import count_parameters

    with torch.device("meta"):
        return count_parameters(build_model(arch, size, shape, n_outputs))


def samples_per_run(config: dict, arch: str, schedule: str, n_d: int) -> int:
    """Training samples one run of ``arch`` under ``schedule`` at N_D processes at most
    (epochs x passes x n_train)."""
    schedule = Schedule.from_config(config["schedules"][schedule])
    return epoch_plan(n_d, config["train"]["validation_fraction"], config["train"]["archs"][arch], schedule).samples


def train_rates(rates: dict, arch: str) -> list[dict]:
    """The measured training rates of ``arch`` (a block of resources/throughput.yaml)."""
    try:
        return rates["train"][arch]
    except KeyError:
        raise ValueError(
            f"no training throughput measured for {arch!r} on {rates.get('name', 'this device')}: "
            f"run python -m regscale.bench train --record with a config that has a {arch} experiment"
        ) from None


def samples_per_second(rates: list[dict], n_m: int) -> float:
    """Training samples (realization-samples for an ensemble) per second for a model of
    n_m parameters: the measurement of the closest size, scaled down in proportion to
    the parameters for a larger model (compute-bound), kept for a smaller one."""
    closest = min(rates, key=lambda rate: abs(math.log(rate["n_m"] / n_m)))
    return closest["samples_per_s"] * min(1.0, closest["n_m"] / n_m)


def training(config: dict, rates: dict) -> list[Training]:
    shape = image_shape(config)
    n_outputs = len(targets.names()) if config["train"]["joint"] else 1
    n_m: dict[tuple[str, str], int] = {}
    planned = []
    for job in study.jobs(config):
        key = (job.arch, job.size)
        if key not in n_m:
            n_m[key] = parameter_count(job.arch, study.parse_size(job.size), shape, n_outputs)
        work = len(job.seeds) * samples_per_run(config, job.arch, job.schedule, job.n_d)
        planned.append(Training(job, n_m[key], work / samples_per_second(train_rates(rates, job.arch), n_m[key])))
    return planned


def seconds_per_sample(config: dict, rates: dict) -> float:
    """Simulating one sample of the config's lattice at the measured rate."""
    spins = math.prod(image_shape(config))
    return spins * rates["simulate"]["steps_per_sample"] / rates["simulate"]["spin_steps_per_s"]


def simulation_seconds(config: dict, rates: dict) -> float:
    return (simulated_samples(config) + atlas_samples(config)) * seconds_per_sample(config, rates)


def storage(config: dict, runs: list[Training]) -> dict[str, float]:
    """Bytes on disk: shards, final models (model.pt of every realization), and resume
    checkpoints, for the largest job and for all jobs interrupted at once."""
    shards = sum(shard_counts(config).values())
    samples = simulated_samples(config)
    checkpoint = [CHECKPOINT_COPIES * FLOAT32 * run.n_m * len(run.job.seeds) for run in runs]
    return {
        "shard_images": samples * math.prod(image_shape(config)) * IMAGE_BYTES_PER_SPIN,
        "shard_tables": samples * TABLE_BYTES_PER_SAMPLE + shards * META_BYTES_PER_SHARD,
        "models": sum(FLOAT32 * run.n_m * len(run.job.seeds) for run in runs),
        "checkpoint_largest_job": max(checkpoint, default=0),
        "checkpoints_all_jobs": sum(checkpoint),
    }


# -- the report ---------------------------------------------------------------------


def display(path) -> str:
    """A path relative to the repository where it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:.0f} B"


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def report(
    config: dict, configfile: str, measured: Path = THROUGHPUT, device: str | None = None, profile=PROFILE
) -> str:
    device, rates = throughput.load(measured, device)
    counts = job_counts(config)
    packed = submissions(counts, profile)
    runs = training(config, rates)
    sizes = storage(config, runs)
    # device-seconds: a job holding several GPUs uses each for its whole run
    per_job = {
        stage: max(config["resources"][stage]["gpu"], 1) if device == "gpu" else 1 for stage in ("simulate", "train")
    }
    unit = "GPU-hours" if device == "gpu" else f"hours on {rates['name']}"

    lines = [f"Plan for {configfile}", "", f"{'jobs per rule':<22}{'jobs':>8}{'submissions':>13}"]
    for rule, n in counts.items():
        lines.append(f"  {rule:<20}{n:>8,}{packed[rule]:>13,}")
    for arch in archs.ARCHITECTURES:
        n = sum(1 for run in runs if run.job.arch == arch)
        if n:
            lines.append(f"    {arch:<18}{n:>8,}")
    packing = f"with the groups of {display(Path(profile).parent)}" if profile else "one per job"
    lines += [
        "  plus one local job per cheap rule (shard manifest, atlas figure, tables, fits,",
        f"  figures, all); SLURM submissions {packing}",
        "",
        f"compute: {unit}, from {display(measured)}",
    ]
    simulation = simulation_seconds(config, rates) * per_job["simulate"]
    samples, spins = simulated_samples(config) + atlas_samples(config), math.prod(image_shape(config))
    lines.append(f"  {'simulation':<20}{simulation / 3600:>12,.1f}   {samples:,} samples of {spins:,} spins")
    total = simulation
    for arch in archs.ARCHITECTURES:
        seconds = sum(run.seconds for run in runs if run.job.arch == arch) * per_job["train"]
        realizations = sum(len(run.job.seeds) for run in runs if run.job.arch == arch)
        if realizations:
            lines.append(f"  {'training ' + arch:<20}{seconds / 3600:>12,.1f}   {realizations:,} realizations")
            total += seconds
    lines.append(f"  {'total':<20}{total / 3600:>12,.1f}")
    longest = max(runs, key=lambda run: run.seconds, default=None)
    if longest is not None:
        limit = config["resources"]["train"]["runtime"]
        warning = "  <-- too short" if longest.seconds > 60 * limit else ""
        lines.append(f"  longest training job {duration(longest.seconds)}: {longest.job.folder}")
        lines.append(f"  resources.train.runtime is {duration(60 * limit)}{warning}")
    lines += [
        "  (every run to its last epoch: early stopping only makes it shorter)",
        "",
        "storage",
        f"  {'shards':<20}{size(sizes['shard_images'] + sizes['shard_tables']):>12}"
        f"   images {size(sizes['shard_images'])}, tables {size(sizes['shard_tables'])};"
        f" {sum(shard_counts(config).values()):,} shards",
        f"  {'trained models':<20}{size(sizes['models']):>12}   model.pt, N_M float32 per realization",
        f"  {'resume checkpoints':<20}{size(sizes['checkpoint_largest_job']):>12}   for the largest job while it runs;"
        f" {size(sizes['checkpoints_all_jobs'])} if every job were interrupted at once",
        "  (a checkpoint: weights, best weights and Adam's two moments, 4 N_M float32 per realization)",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m regscale.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configfile", default=str(REPO / "config.yaml"), help="the study config (default config.yaml)"
    )
    parser.add_argument("--throughput", type=Path, default=THROUGHPUT, help="measured throughputs (YAML)")
    parser.add_argument("--device", choices=("gpu", "cpu"), help="whose measurements (default: gpu when measured)")
    parser.add_argument("--profile", type=Path, default=PROFILE, help="Snakemake profile whose packing to count")
    args = parser.parse_args(argv)
    try:
        text = report(load(args.configfile), args.configfile, args.throughput, args.device, args.profile)
    except ValueError as error:  # a bad config (ConfigError) or throughput file, named
        parser.error(str(error))
    print(text)


if __name__ == "__main__":
    main()
