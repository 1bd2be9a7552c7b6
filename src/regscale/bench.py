"""Benchmarks: ``python -m regscale.bench simulate|train [options]``.

Each prints progress to stderr and, as its last line on stdout, one JSON object.
``--record`` also writes the measurement into resources/throughput.yaml (or the file
given), in the block of the device it ran on, where regscale.plan reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import throughput
from .config import load

REPO = Path(__file__).resolve().parents[2]


def _physics(config_path: Path, sites: int):
    from .simulate import Physics

    config = load(config_path)  # validated, defaults filled: any of the study's configs
    physics = Physics.from_config(config["physics"], base=REPO)
    side = int(round(math.sqrt(sites / 2)))
    side += side % 2
    return dataclasses.replace(physics, rows=side, cols=side)


def _at_least(low: int):
    """An argparse type: an integer >= low."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {low}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message
    return parse


def bench_simulate(args, physics) -> dict:
    """``physics``: the config's, on the benchmark's lattice, already checked."""
    import torch

    from .simulate import sample_parameters, simulate
    from .train import device_name

    device = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    # Warm-up: the first calls compile the step; later shards of a run reuse it. Two
    # samples at once, so that both graphs are compiled before the timing: the dynamic
    # one for any batch, and the one torch.compile specializes for a batch of 1 (the
    # working batch shrinks to 1 as samples converge).
    start = time.perf_counter()
    simulate(physics, sample_parameters(physics.ranges, 2, rng), 2, device, log=log)
    warmup = time.perf_counter() - start
    params = sample_parameters(physics.ranges, args.batch * args.repeats, rng)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    _, table = simulate(physics, params, args.batch, device, log=log)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    sites_per_sample = 2 * physics.rows * physics.cols
    n = len(params)
    return {
        "benchmark": "simulate",
        "device": device_name(device),
        "dtype": physics.dtype,
        "compile": physics.compile,
        "lattice": [2, physics.rows, physics.cols],
        "sites_per_sample": sites_per_sample,
        "batch": args.batch,
        "samples": n,
        "tol_meV": physics.relax.tol_meV,
        "steps_mean": float(table.steps.mean()),
        "steps_max": int(table.steps.max()),
        "converged_fraction": float(table.converged.mean()),
        "seconds_per_sample": seconds / n,
        "samples_per_s": n / seconds,
        "site_steps_per_s": float(table.steps.sum()) * sites_per_sample / seconds,
        "warmup_s": warmup,
    }


def bench_train(args, config: dict) -> dict:
    from .bench_train import bench_train as run

    return run(
        device=args.device,
        image_shape=tuple(args.image_shape) if args.image_shape else None,
        config=config,
        threads=args.threads,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m regscale.bench", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    sim = sub.add_parser("simulate", help="relaxed samples per second of the spin simulator")
    sim.add_argument(
        "--sites", type=_at_least(8), default=23328, help="spins per sample, both layers (default 2 x 108 x 108)"
    )
    sim.add_argument("--batch", type=_at_least(1), default=8, help="samples relaxed at once")
    sim.add_argument("--repeats", type=_at_least(1), default=1, help="batches to time")
    sim.add_argument("--device", default="auto", help="cpu, cuda or auto")
    sim.add_argument("--config", type=Path, default=REPO / "config.yaml", help="physics taken from this config")
    sim.add_argument("--seed", type=int, default=0)
    train = sub.add_parser("train", help="training throughput and seed-batched ensemble speed-up")
    train.add_argument("--device", default="auto")
    train.add_argument("--image-shape", type=int, nargs=3, default=None, metavar=("C", "H", "W"))
    train.add_argument(
        "--config", type=Path, default=REPO / "config.yaml", help="image size and model sizes from this config"
    )
    train.add_argument(
        "--threads", type=_at_least(1), default=1, help="torch threads (the train rule's, 1 in config.yaml)"
    )
    for command in (sim, train):
        command.add_argument(
            "--record",
            type=Path,
            nargs="?",
            const=throughput.FILE,
            metavar="FILE",
            help="write the measurement into FILE (default resources/throughput.yaml) for regscale.plan",
        )
    args = parser.parse_args(argv)
    from .simulate import resolve_device

    # Every mistake in the arguments fails here, before a benchmark that may take minutes.
    try:
        device = resolve_device(args.device)
        if args.what == "simulate":
            setting = _physics(args.config, args.sites)
            setting.check()
        else:
            setting = load(args.config)
        if args.record:
            throughput.read(args.record)
    except ValueError as error:  # ConfigError included
        parser.error(str(error))
    args.device = str(device)  # "auto" resolved once, for the benchmark and the record
    result = (bench_simulate if args.what == "simulate" else bench_train)(args, setting)
    print(json.dumps(result), flush=True)  # first, so that a failed record loses no measurement
    if args.record:
        kind = throughput.device_kind(device.type)
        command = "python -m regscale.bench " + " ".join(sys.argv[1:] if argv is None else argv)
        log = lambda line: print(line, file=sys.stderr)  # noqa: E731
        throughput.record(args.record, args.what, kind, result, command, log=log)


if __name__ == "__main__":
    main()
