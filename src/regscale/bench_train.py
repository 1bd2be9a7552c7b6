"""Training throughput, through the trainer itself (regscale.train.train_group) on
synthetic data: ``python -m regscale.bench train``.

- Seed-batched ensembles: 16 FCN realizations (depth 3, widths 4, 16 and 64) trained as
  one FCNEnsemble, against the same 16 trained one after another. The one-after-another
  baseline is the faster of the two ways the trainer can hold one FCN: an ensemble of
  one, as a 1-seed job does, or the plain nn.Sequential (SingleModel). Throughput counts
  realization-samples per second over whole training runs (model building, every epoch's
  validation and the final test included); ``ensemble_speedup`` is the ratio at the
  headline width.
- Samples per second of one model of each architecture at the sizes of the config's
  experiments (the largest of each), and of the standard ResNet-18 (width 64).
- ``--denormals``: one real job of the study, its largest FCN at its largest N_D,
  trained on the study's shards (under the current directory, as Snakemake finds them)
  with subnormal floats flushed to zero (as the trainer runs) and kept, in turns, after
  an untimed flushed run; ``speedup`` is the ratio, and ``same_weights`` says whether
  all three runs gave the same weights bit for bit. Random images never let a ReLU unit
  die, so only real data shows what flushing saves.

Images are the config's lattice, 2 x rows x cols, on a CPU; on CUDA 2 x 100 x 100 with
bf16 autocast, as the trainer runs there. Torch gets ``threads`` threads (default 1, as
the train rule of config.yaml runs).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from . import jobspec, study, train
from .archs import build_model
from .config import load
from .ensemble import SingleModel
from .jobspec import JobSpec
from .models import count_parameters
from .simulate import resolve_device
from .study import size_label

REPO = Path(__file__).resolve().parents[2]
MEMBERS = 16
WIDTHS = (4, 16, 64)
HEADLINE_WIDTH = 4  # the paper's narrowest FCN, which its statistics figure trains 100 times
GPU_IMAGE = (2, 100, 100)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def synthetic_data(n: int, n_test: int, image_shape, device: torch.device, seed: int = 0) -> train.Data:
    """Random +-1 images with targets in their standardized range."""
    rng = np.random.default_rng(seed)

    def images(count):
        return torch.from_numpy(rng.choice([-1.0, 1.0], size=(count, *image_shape)).astype(np.float32)).to(
            device, train.data_dtype(device)
        )

    def targets(count):
        return torch.from_numpy(rng.uniform(-1.7, 1.7, size=(count, 1)).astype(np.float32)).to(device)

    return train.Data(images(n), targets(n), images(n_test), targets(n_test), ("J",), np.zeros(1), np.ones(1))


def _spec(
    arch: str, size: dict, n_d: int, image_shape, epochs: int, batch_size: int, lr: float, seeds: int = 1
) -> JobSpec:
    return JobSpec(
        arch=arch,
        size=size,
        schedule="constant",
        schedule_settings={"kind": "constant", "early_stop": None},
        target="J",
        n_d=n_d,
        first_seed=0,
        last_seed=seeds - 1,
        optimizer={"optimizer": "adam", "lr": lr, "weight_decay": 0.0, "batch_size": batch_size, "max_epochs": epochs},
        validation_fraction=0.125,
        test_size=256,
        seed=0,
        ranges={"J": [0.0, 1.0]},
        image_shape=tuple(image_shape),
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(function, device) -> float:
    """Seconds: on a CPU the process's CPU time (with one thread, the wall time of an idle
    machine, minus the time other processes take the core); on CUDA the wall time."""
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    _sync(device)
    start = clock()
    function()
    _sync(device)
    return clock() - start


def ensemble_comparison(
    width: int, data: train.Data, device: torch.device, epochs: int, batch_size: int, rounds: int = 3
) -> dict:
    """Realization-samples per second: 16 FCNs as one ensemble, and one after another.
    The three ways are timed in turns, ``rounds`` times, and each keeps its best time, so
    that load from other processes does not favour one of them."""
    spec = _spec("fcn", {"width": width, "depth": 3}, len(data.x), data.x.shape[1:], epochs, batch_size, 1e-3, MEMBERS)
    n_train, _ = train.split_sizes(spec.n_d, spec.validation_fraction)
    work = MEMBERS * n_train * epochs
    quiet = lambda line: None  # noqa: E731
    seeds = list(spec.seeds)

    def ensemble():
        train.train_group(spec, seeds, data, device, log=quiet)

    def ensembles_of_one():
        for seed in seeds:
            train.train_group(spec, [seed], data, device, log=quiet)

    def single_models():
        for seed in seeds:
            torch.manual_seed(seed)
            net = build_model("fcn", spec.size, spec.image_shape, 1)
            train.train_group(spec, [seed], data, device, log=quiet, group=SingleModel(net, device))

    ways = {"ensemble": ensemble, "ensemble of one": ensembles_of_one, "nn.Sequential": single_models}
    best = {name: math.inf for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            best[name] = min(best[name], _timed(way, device))
    alone_as = min(("ensemble of one", "nn.Sequential"), key=best.get)
    together, alone = best["ensemble"], best[alone_as]
    result = {
        "width": width,
        "depth": 3,
        "members": MEMBERS,
        "n_m": count_parameters(build_model("fcn", spec.size, spec.image_shape, 1)),
        "n_d": spec.n_d,
        "epochs": epochs,
        "batch_size": batch_size,
        "ensemble_s": round(together, 3),
        "one_after_another_s": round(alone, 3),
        "one_after_another_as": alone_as,
        "ensemble_samples_per_s": round(work / together, 1),
        "one_after_another_samples_per_s": round(work / alone, 1),
        "speedup": round(alone / together, 2),
    }
    _log(
        f"FCN width {width}: {MEMBERS} as one ensemble {together:.2f} s, "
        f"one after another {alone:.2f} s ({alone_as}): x{result['speedup']}"
    )
    return result


def throughput(arch: str, size: dict, image_shape, device: torch.device, n: int, batch_size: int) -> dict:
    """Training samples per second of one model: the difference of a 1- and a 3-epoch run
    (so model building and evaluation drop out), after an untimed 1-epoch run that pays
    the one-time costs (cuDNN's autotuning of every convolution shape, kernel loading),
    which would otherwise fall on the 1-epoch run alone and shrink the difference."""
    data = synthetic_data(n, 64, image_shape, device, seed=1)
    quiet = lambda line: None  # noqa: E731
    specs = {epochs: _spec(arch, size, n, image_shape, epochs, batch_size, 1e-3) for epochs in (1, 3)}
    train.train_group(specs[1], [0], data, device, log=quiet)
    times = {
        epochs: _timed(lambda: train.train_group(spec, [0], data, device, log=quiet), device)
        for epochs, spec in specs.items()
    }
    if times[3] <= times[1]:
        raise RuntimeError(
            f"{arch} {size_label(arch, size)}: 3 epochs took {times[3]:.3f} s, no longer than 1 epoch "
            f"({times[1]:.3f} s); the machine is too busy or the run too short to time"
        )
    n_train, _ = train.split_sizes(n, 0.125)
    model = build_model(arch, size, image_shape, 1)
    rate = 2 * n_train / (times[3] - times[1])
    _log(f"{arch} {size_label(arch, size)}: {rate:.1f} samples/s")
    return {
        "arch": arch,
        "size": size_label(arch, size),
        "n_m": count_parameters(model),
        "batch_size": batch_size,
        "samples_per_s": round(rate, 1),
    }


def largest_fcn_job(config: dict) -> study.Job:
    """The study's FCN job with the most parameters, at its largest N_D (the first of
    equals, in the study's order)."""
    lattice = config["physics"]["lattice"]
    largest = largest_sizes(config, (2, lattice["rows"], lattice["cols"])).get("fcn")
    if largest is None:
        raise ValueError("the config trains no FCN; --denormals times an FCN job")
    label = size_label("fcn", largest)
    return max((job for job in study.jobs(config) if job.arch == "fcn" and job.size == label), key=lambda job: job.n_d)


def denormal_comparison(config: dict, device: torch.device, rounds: int = 1, study_dir: Path | None = None) -> dict:
    """Seconds of one real job with subnormals flushed to zero and kept (module docstring),
    on the shards under ``study_dir`` (default: the current directory, as Snakemake's)."""
    study_dir = Path.cwd() if study_dir is None else Path(study_dir)
    job = largest_fcn_job(config)
    spec = JobSpec.from_config(config, job)
    inputs = jobspec.rule_inputs(config, SimpleNamespace(nd=job.n_d))

    def shard_list(split):
        kinds = ("images", "table", "meta")
        files = zip(*(inputs[f"{split}_{kind}"] for kind in kinds))
        return [{kind: study_dir / path for kind, path in zip(kinds, paths)} for paths in files]

    pool, test = shard_list("pool"), shard_list("test")
    missing = [str(f["images"]) for f in pool + test if not f["images"].exists()]
    if missing:
        raise FileNotFoundError(
            f"--denormals trains on the study's shards; {missing[0]} is missing: run the study first (make study)"
        )
    data = train.load_data(pool, test, spec, device)
    _log(f"denormals: {job.folder}, {len(spec.seeds)} members, flushed and kept in turns, {rounds} round(s)")
    quiet = lambda line: None  # noqa: E731
    supported = torch.set_flush_denormal(True)  # False where the CPU cannot flush
    seconds, weights = {True: math.inf, False: math.inf}, {}

    def run(flush: bool) -> None:
        torch.set_flush_denormal(flush)
        weights[flush] = [r["state_dict"] for r in train.train_group(spec, list(spec.seeds), data, device, log=quiet)]

    try:
        run(True)  # untimed: pays the one-time costs, which would fall on the first timing
        first = weights[True]
        for _ in range(rounds):
            for flush in (True, False):
                seconds[flush] = min(seconds[flush], _timed(lambda: run(flush), device))
                _log(f"denormals {'flushed' if flush else 'kept'}: {seconds[flush]:.1f} s")
    finally:
        torch.set_flush_denormal(True)  # as train.configure_device leaves it
    same = all(
        torch.equal(a[name], b[name]) and torch.equal(a[name], c[name])
        for a, b, c in zip(weights[True], weights[False], first)
        for name in a
    )
    return {
        "benchmark": "train --denormals",
        "device": train.device_name(device),
        "threads": torch.get_num_threads(),
        "job": job.folder,
        "members": len(spec.seeds),
        "flushed_s": seconds[True],
        "kept_s": seconds[False],
        "speedup": seconds[False] / seconds[True],
        "same_weights": same,
        "flush_supported": supported,
    }


def largest_sizes(config: dict, shape) -> dict[str, dict]:
    """Per architecture, the size with the most parameters among the config's experiments,
    on images of ``shape`` (the benchmark's, which on a GPU is not the config's)."""
    best: dict[str, tuple[int, dict]] = {}
    for experiment in config["experiments"].values():
        arch = experiment["arch"]
        for size in experiment["sizes"]:
            n_m = count_parameters(build_model(arch, size, shape, 1))
            if arch not in best or n_m > best[arch][0]:
                best[arch] = (n_m, size)
    return {arch: size for arch, (_, size) in best.items()}


def bench_train(device: str = "auto", image_shape=None, config: dict | None = None, threads: int = 1) -> dict:
    """``config``: a validated study config (regscale.config.load); config.yaml by default."""
    config = config or load(REPO / "config.yaml")
    device = resolve_device(device)
    torch.set_num_threads(threads)
    train.configure_device(device)
    lattice = config["physics"]["lattice"]
    if image_shape is None:
        image_shape = GPU_IMAGE if device.type == "cuda" else (2, lattice["rows"], lattice["cols"])
    image_shape = tuple(image_shape)
    on_gpu = device.type == "cuda"
    _log(f"training benchmark on {train.device_name(device)}, images {image_shape}, {torch.get_num_threads()} threads")

    data = synthetic_data(1024, 256, image_shape, device)
    ensembles = [ensemble_comparison(width, data, device, epochs=5, batch_size=32) for width in WIDTHS]
    headline = next(e for e in ensembles if e["width"] == HEADLINE_WIDTH)

    sizes = largest_sizes(config, image_shape)
    sizes.setdefault("resnet18", {"width": 64})
    models = []
    if sizes["resnet18"] != {"width": 64}:
        sizes["resnet18 (standard)"] = {"width": 64}
    batch_size = 128 if on_gpu else 32
    for name, size in sizes.items():
        arch = name.split()[0]
        # Enough samples for a few seconds per model on this CPU.
        n = 4096 if on_gpu else {"fcn": 2048, "vit": 1024}.get(arch) or (256 if size["width"] >= 64 else 512)
        models.append(throughput(arch, size, image_shape, device, n, batch_size))
    return {
        "benchmark": "train",
        "device": train.device_name(device),
        "threads": torch.get_num_threads(),
        "image_shape": list(image_shape),
        "dtype": "bfloat16 autocast" if on_gpu else "float32",
        "ensemble_speedup": headline["speedup"],
        "ensemble_width": HEADLINE_WIDTH,
        "ensembles": ensembles,
        "models": models,
    }
