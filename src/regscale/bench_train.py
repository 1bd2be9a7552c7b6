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

Images are the config's lattice, 2 x rows x cols, on a CPU; on CUDA 2 x 100 x 100 with
bf16 autocast, as the trainer runs there. Timings use the threads torch has
(torch.get_num_threads(); the train rule sets them to its `threads`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import train
from .config import load
from .ensemble import SingleModel
from .jobspec import JobSpec
from .models import build_model
from .simulate import resolve_device
from .study import size_label

REPO = Path(__file__).resolve().parents[2]
MEMBERS = 16
WIDTHS = (4, 16, 64)
HEADLINE_WIDTH = 16
GPU_IMAGE = (2, 100, 100)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def synthetic_data(n: int, n_test: int, image_shape, device: torch.device, seed: int = 0) -> train.Data:
    """Random +-1 images with targets in their standardized range."""
    rng = np.random.default_rng(seed)

    def images(count):
        return torch.from_numpy(rng.choice([-1.0, 1.0], size=(count, *image_shape)).astype(np.float32)).to(device, train.data_dtype(device))

    def targets(count):
        return torch.from_numpy(rng.uniform(-1.7, 1.7, size=(count, 1)).astype(np.float32)).to(device)

    return train.Data(images(n), targets(n), images(n_test), targets(n_test), ("J",), np.zeros(1), np.ones(1))


def _spec(arch: str, size: dict, n_d: int, image_shape, epochs: int, batch_size: int, lr: float, seeds: int = 1) -> JobSpec:
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
    _sync(device)
    start = time.perf_counter()
    function()
    _sync(device)
    return time.perf_counter() - start


def ensemble_comparison(width: int, data: train.Data, device: torch.device, epochs: int, batch_size: int) -> dict:
    """Realization-samples per second: 16 FCNs as one ensemble, and one after another."""
    spec = _spec("fcn", {"width": width, "depth": 3}, len(data.x), data.x.shape[1:], epochs, batch_size, 1e-3, MEMBERS)
    n_train, _ = train.split_sizes(spec.n_d, spec.validation_fraction)
    work = MEMBERS * n_train * epochs
    quiet = lambda line: None  # noqa: E731
    seeds = list(spec.seeds)
    ensemble = _timed(lambda: train.train_group(spec, seeds, data, device, log=quiet), device)

    def single_models():
        for seed in seeds:
            torch.manual_seed(seed)
            net = build_model("fcn", spec.size, spec.image_shape, 1)
            train.train_group(spec, [seed], data, device, log=quiet, group=SingleModel(net, device))

    alone_ensemble = _timed(lambda: [train.train_group(spec, [seed], data, device, log=quiet) for seed in seeds], device)
    alone_single = _timed(single_models, device)
    alone = min(alone_ensemble, alone_single)
    result = {
        "width": width,
        "depth": 3,
        "members": MEMBERS,
        "epochs": epochs,
        "ensemble_s": round(ensemble, 3),
        "one_after_another_s": round(alone, 3),
        "one_after_another_as": "ensemble of one" if alone_ensemble <= alone_single else "nn.Sequential",
        "ensemble_samples_per_s": round(work / ensemble, 1),
        "one_after_another_samples_per_s": round(work / alone, 1),
        "speedup": round(alone / ensemble, 2),
    }
    _log(f"FCN width {width}: {MEMBERS} as one ensemble {ensemble:.2f} s, one after another {alone:.2f} s -> x{result['speedup']}")
    return result


def throughput(arch: str, size: dict, image_shape, device: torch.device, n: int, batch_size: int) -> dict:
    """Training samples per second of one model: the difference of a 1- and a 3-epoch run
    (so model building, cuDNN tuning and evaluation drop out)."""
    data = synthetic_data(n, 64, image_shape, device, seed=1)
    quiet = lambda line: None  # noqa: E731
    times = {}
    for epochs in (1, 3):
        spec = _spec(arch, size, n, image_shape, epochs, batch_size, 1e-3)
        times[epochs] = _timed(lambda: train.train_group(spec, [0], data, device, log=quiet), device)
    n_train, _ = train.split_sizes(n, 0.125)
    model = build_model(arch, size, image_shape, 1)
    rate = 2 * n_train / max(times[3] - times[1], 1e-9)
    _log(f"{arch} {size_label(arch, size)}: {rate:.1f} samples/s")
    return {
        "arch": arch,
        "size": size_label(arch, size),
        "n_m": sum(p.numel() for p in model.parameters()),
        "batch_size": batch_size,
        "samples_per_s": round(rate, 1),
    }


def largest_sizes(config: dict) -> dict[str, dict]:
    """Per architecture, the size with the most parameters among the config's experiments."""
    lattice = config["physics"]["lattice"]
    shape = (2, lattice["rows"], lattice["cols"])
    best: dict[str, tuple[int, dict]] = {}
    for experiment in config["experiments"].values():
        arch = experiment["arch"]
        for size in experiment["sizes"]:
            n_m = sum(p.numel() for p in build_model(arch, size, shape, 1).parameters())
            if arch not in best or n_m > best[arch][0]:
                best[arch] = (n_m, size)
    return {arch: size for arch, (_, size) in best.items()}


def bench_train(device: str = "auto", image_shape=None, config: Path | None = None) -> dict:
    config = load(config or REPO / "config.yaml")
    device = resolve_device(device)
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

    sizes = largest_sizes(config)
    sizes["resnet18"] = sizes.get("resnet18", {"width": 64})
    models = []
    n = {"fcn": 2048, "resnet18": 128, "vit": 256} if not on_gpu else {"fcn": 8192, "resnet18": 2048, "vit": 2048}
    for arch, size in sizes.items():
        models.append(throughput(arch, size, image_shape, device, n[arch], 32 if not on_gpu else 128))
    if sizes["resnet18"] != {"width": 64}:
        models.append(throughput("resnet18", {"width": 64}, image_shape, device, n["resnet18"], 32 if not on_gpu else 128))
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
