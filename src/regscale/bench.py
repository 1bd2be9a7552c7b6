"""Benchmarks: ``python -m regscale.bench simulate|train [options]``.

Each prints progress to stderr and, as its last line on stdout, one JSON object.
``--record`` also writes the measurement into resources/throughput.yaml (or the file
given), in the block of the device it ran on, where regscale.plan reads it.

``simulate --against spirit`` relaxes the same samples, from the same initial state and
to the same torque tolerance, with our simulator and with Spirit's fastest minimiser
(regscale.crosscheck; Spirit is the optional ``crosscheck`` extra), both on one thread
(the PyPI Spirit is built without OpenMP) unless ``--threads`` says otherwise for ours.
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
from .crosscheck import MINIMISERS as SPIRIT_MINIMISERS

REPO = Path(__file__).resolve().parents[2]


def _physics(config_path: Path, sites: int, method: str | None = None):
    from .simulate import Physics

    config = load(config_path)  # validated, defaults filled: any of the study's configs
    physics = Physics.from_config(config["physics"], base=REPO)
    side = int(round(math.sqrt(sites / 2)))
    side += side % 2
    return with_method(dataclasses.replace(physics, rows=side, cols=side), method or physics.relax.method)


def with_method(physics, method: str):
    """``physics`` relaxed by the minimiser ``method``."""
    return dataclasses.replace(physics, relax=dataclasses.replace(physics.relax, method=method))


def copy_bandwidth(seconds: float = 1.0, megabytes: int = 256) -> float:
    """This machine's memory bandwidth in bytes/s, as torch copies a tensor much larger
    than the caches with the threads in use (read and write both counted): the
    ceiling for a relaxation step, which streams its state through memory."""
    import torch

    source = torch.ones(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    target.copy_(source)  # first touch of the pages outside the timing
    copies, start = 0, time.perf_counter()
    while copies < 3 or time.perf_counter() - start < seconds:
        target.copy_(source)
        copies += 1
    return 2 * source.nbytes * copies / (time.perf_counter() - start)


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
    result, _, _, _ = _time_simulate(args, physics)
    return result


def _time_simulate(args, physics):
    """Our simulator's timing; returns (the JSON fields, the parameters, (images, table), CPU seconds)."""
    import torch

    from . import spins
    from .simulate import sample_parameters, simulate
    from .train import device_name

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    # Warm-up: the first calls compile the step; later shards of a run reuse it. Five
    # samples at once, so that both graphs are compiled before the timing: the one for
    # any batch, and the one torch.compile specializes for a batch of 1 (the working
    # batch shrinks to 1 as samples converge).
    start = time.perf_counter()
    simulate(physics, sample_parameters(physics.ranges, 5, rng), 5, device, log=log)
    warmup = time.perf_counter() - start
    params = sample_parameters(physics.ranges, args.batch * args.repeats, rng)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, cpu_start = time.perf_counter(), time.process_time()
    images, table = simulate(physics, params, args.batch, device, log=log)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    sites_per_sample = 2 * physics.rows * physics.cols
    n = len(params)
    # Memory traffic: one step of one sample reads and writes its state once at least
    # (spins, field, force, the minimiser's memory, the interlayer map); as a rate, and
    # as a fraction of what a plain copy achieves here.
    step_bytes = spins.step_state_bytes(physics.relax, physics.rows, physics.cols, getattr(torch, physics.dtype))
    traffic = 2 * step_bytes * float(table.steps.sum()) / seconds
    bandwidth = copy_bandwidth() if device.type == "cpu" else None  # a GPU's is not measured here
    result = {
        "benchmark": "simulate",
        "device": device_name(device),
        "method": physics.relax.method,
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
        "step_state_bytes": step_bytes,
        "memory_traffic_GBps": traffic / 1e9,
        "copy_bandwidth_GBps": None if bandwidth is None else bandwidth / 1e9,
        "memory_traffic_fraction": None if bandwidth is None else traffic / bandwidth,
        "warmup_s": warmup,
    }
    return result, params, (images, table), cpu_seconds


def bench_simulate_methods(args, physics) -> dict:
    """``simulate --baseline METHOD``: the config's minimiser and METHOD on the same
    samples, one after the other in this process; the ratio is the speed-up."""
    ours = bench_simulate(args, physics)
    baseline = bench_simulate(args, with_method(physics, args.baseline))
    return {
        **ours,
        "baseline": {key: baseline[key] for key in ("method", "seconds_per_sample", "steps_mean", "memory_traffic_fraction")},
        "speedup_vs_baseline": baseline["seconds_per_sample"] / ours["seconds_per_sample"],
    }


def bench_against_spirit(args, physics) -> dict:
    """Our simulator against Spirit on the same samples (``simulate --against spirit``).

    Ours relaxes the samples as the study does (``simulate``: batches, the config's dtype
    and compile setting, timed after a compiling warm-up). Spirit relaxes each sample from
    the same initial state (``spins.initial_state``) to the same tolerance on the largest
    torque |n x H|; its time is the minimisation alone (writing and reading its input, a
    setup that grows as the square of the sites, is reported apart). With
    ``--spirit-solver fastest`` each of Spirit's minimisers relaxes the first sample and
    the fastest relaxes them all. Agreement: the relative energy difference of the two
    relaxed states and the fraction of sites whose m_z has the same sign.
    """
    import torch

    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    ours, params, (images, table), cpu_seconds = _time_simulate(args, physics)
    n_spins = 2 * physics.rows * physics.cols
    solver = None if args.spirit_solver == "fastest" else args.spirit_solver
    screening, runs = {}, []
    for k, row in params.iterrows():
        run, solver = _relax_with_spirit(physics, row, solver, screening, log)
        ours_energy = float(table["energy_meV_per_spin"].iloc[k]) * n_spins
        run["energy_rel_diff"] = abs(run.pop("energy") - ours_energy) / abs(ours_energy)
        run["mz_sign_agreement"] = float(np.mean(np.sign(run.pop("mz")) == np.sign(images[k].astype(np.float64))))
        runs.append(run)
        log(
            f"spirit {solver} sample {k}: {run['seconds']:.3f} s, {run['iterations']} iterations "
            f"(setup {run['setup']:.1f} s); energy differs from ours by {run['energy_rel_diff']:.2e} (relative)"
        )
    from importlib.metadata import version

    spirit_seconds = sum(r["seconds"] for r in runs) / len(runs)
    setup_seconds = sum(r["setup"] for r in runs) / len(runs)
    spirit_cpu = sum(r["cpu_seconds"] for r in runs) / len(runs)
    ours_cpu = cpu_seconds / len(params)
    return {
        **ours,
        "against": "spirit",
        "sites": n_spins,
        "threads": torch.get_num_threads(),
        "spirit_version": version("spirit"),
        "spirit_threads": 1,
        "spirit_solver": solver,
        "spirit_screening_s": screening,
        "spirit_seconds_per_sample": spirit_seconds,
        "spirit_iterations_mean": float(np.mean([r["iterations"] for r in runs])),
        "spirit_converged_fraction": float(np.mean([r["converged"] for r in runs])),
        "spirit_setup_seconds_per_sample": setup_seconds,
        "speedup_vs_spirit": spirit_seconds / ours["seconds_per_sample"],
        # Spirit's input for this model is one basis cell of every site, whose setup grows
        # as the square of the sites (its check for overlapping atoms): a cost of using it.
        "speedup_vs_spirit_with_setup": (spirit_seconds + setup_seconds) / ours["seconds_per_sample"],
        # The same ratio in CPU time of the process, less sensitive to other load on the machine.
        "cpu_seconds_per_sample": ours_cpu,
        "spirit_cpu_seconds_per_sample": spirit_cpu,
        "speedup_vs_spirit_cpu": spirit_cpu / ours_cpu,
        "energy_rel_diff_max": max(r["energy_rel_diff"] for r in runs),
        "mz_sign_agreement_min": min(r["mz_sign_agreement"] for r in runs),
    }


def _relax_with_spirit(physics, row, solver, screening: dict, log):
    """Relax one sample (a row of theta, J, D) with Spirit from our initial state.

    With ``solver`` None, first times every minimiser on it (into ``screening``) and takes
    the fastest. Returns (the run: seconds, CPU seconds, iterations, converged, setup
    seconds, energy, m_z (2, rows, cols)), and the solver used."""
    import torch

    from . import crosscheck, spins
    from .simulate import jperp_maps

    tol = physics.relax.tol_meV
    jperp = jperp_maps(physics, np.array([row["theta"]]))
    dtype = getattr(torch, physics.dtype)  # the initial state exactly as ours starts from it
    s0 = spins.initial_state(torch.as_tensor(jperp, dtype=dtype), physics.template_meV)[0].double().numpy()
    sample = crosscheck.Sample(J=float(row["J"]), D=float(row["D"]), K=physics.anisotropy_meV, jperp=jperp[0])
    with crosscheck.SpiritSample(sample) as spirit:
        if solver is None:
            for name in crosscheck.MINIMISERS:
                spirit.set_spins(s0)
                trial = spirit.relax_to(name, tol)
                screening[name] = round(trial["seconds"], 4) if trial["converged"] else None
                log(f"spirit {name}: {trial['seconds']:.3f} s, {trial['iterations']} iterations on sample 0")
            solver = min((s for s in screening if screening[s] is not None), key=screening.get)
        spirit.set_spins(s0)
        result = spirit.relax_to(solver, tol)
        run = {key: result[key] for key in ("seconds", "cpu_seconds", "iterations", "converged")}
        run["setup"] = spirit.write_seconds + spirit.setup_seconds
        run["energy"] = spirit.energy()
        run["mz"] = spirit.get_spins()[:, 2]
    return run, solver


def bench_train(args, config: dict) -> dict:
    from .bench_train import bench_train as run

    if args.denormals:
        import torch

        from .bench_train import denormal_comparison
        from .simulate import resolve_device

        torch.set_num_threads(args.threads)
        try:
            return denormal_comparison(config, resolve_device(args.device), rounds=args.repeats)
        except FileNotFoundError as error:
            raise SystemExit(f"error: {error}") from None
    return run(
        device=args.device,
        image_shape=tuple(args.image_shape) if args.image_shape else None,
        config=config,
        threads=args.threads,
    )


def _simulate_defaults(args) -> None:
    """Fill the simulate defaults that depend on --against; ValueError for what cannot run."""
    against = args.against is not None
    if args.sites is None:
        args.sites = 20000 if against else 23328
    if args.batch is None:
        args.batch = 4 if against else 8
    if against and args.threads is None:
        args.threads = 1  # as Spirit's wheel, built without OpenMP
    if (against or args.baseline) and args.record:
        raise ValueError("--record measures our simulator alone; leave out --against and --baseline")
    if against:
        from . import crosscheck

        if not crosscheck.available():
            raise ValueError(crosscheck.MISSING)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m regscale.bench", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    for command in (_simulate_parser(sub), _train_parser(sub)):
        command.add_argument(
            "--record",
            type=Path,
            nargs="?",
            const=throughput.FILE,
            metavar="FILE",
            help="write the measurement into FILE (default resources/throughput.yaml) for regscale.plan",
        )
    return parser


def _simulate_parser(sub) -> argparse.ArgumentParser:
    sim = sub.add_parser("simulate", help="relaxed samples per second of the spin simulator")
    sim.add_argument(
        "--sites",
        type=_at_least(8),
        default=None,
        help="spins per sample, both layers (default 2 x 108 x 108; 2 x 100 x 100 with --against)",
    )
    sim.add_argument(
        "--batch", type=_at_least(1), default=None, help="samples relaxed at once (default 8; 4 with --against)"
    )
    sim.add_argument("--repeats", type=_at_least(1), default=1, help="batches to time")
    sim.add_argument("--device", default="auto", help="cpu, cuda or auto")
    sim.add_argument("--config", type=Path, default=REPO / "config.yaml", help="physics taken from this config")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--method", choices=["lbfgs", "vp"], default=None, help="minimiser (default: the config's)")
    sim.add_argument(
        "--baseline", choices=["lbfgs", "vp"], default=None, help="also time this minimiser on the same samples"
    )
    sim.add_argument(
        "--against",
        choices=["spirit"],
        default=None,
        help="also relax the same samples with Spirit (pip install '.[crosscheck]') and compare",
    )
    sim.add_argument(
        "--spirit-solver",
        choices=["fastest", *SPIRIT_MINIMISERS],
        default="fastest",
        help="Spirit's minimiser with --against (default: the fastest on the first sample)",
    )
    sim.add_argument(
        "--threads", type=_at_least(1), default=None, help="torch threads (default: torch's; 1 with --against)"
    )
    return sim


def _train_parser(sub) -> argparse.ArgumentParser:
    train = sub.add_parser("train", help="training throughput and seed-batched ensemble speed-up")
    train.add_argument("--device", default="auto")
    train.add_argument("--image-shape", type=int, nargs=3, default=None, metavar=("C", "H", "W"))
    train.add_argument(
        "--config", type=Path, default=REPO / "config.yaml", help="image size and model sizes from this config"
    )
    train.add_argument(
        "--threads", type=_at_least(1), default=1, help="torch threads (the train rule's, 1 in config.yaml)"
    )
    train.add_argument(
        "--denormals",
        action="store_true",
        help="instead: the study's largest FCN job on its shards, subnormals flushed to zero and kept",
    )
    train.add_argument("--repeats", type=_at_least(1), default=1, help="--denormals: rounds (each keeps its best)")
    return train


def main(argv=None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    from .simulate import resolve_device

    # Every mistake in the arguments fails here, before a benchmark that may take minutes.
    try:
        device = resolve_device(args.device)
        if args.what == "simulate":
            _simulate_defaults(args)
            setting = _physics(args.config, args.sites, args.method)
            setting.check()
        else:
            setting = load(args.config)
            if args.denormals and args.record:
                raise ValueError("--record measures training throughput; leave out --denormals")
        if args.record:
            throughput.read(args.record)
    except ValueError as error:  # ConfigError included
        parser.error(str(error))
    args.device = str(device)  # "auto" resolved once, for the benchmark and the record
    if args.what == "train":
        run = bench_train
    else:
        run = bench_against_spirit if args.against else bench_simulate_methods if args.baseline else bench_simulate
    result = run(args, setting)
    print(json.dumps(result), flush=True)  # first, so that a failed record loses no measurement
    if args.record:
        kind = throughput.device_kind(device.type)
        command = "python -m regscale.bench " + " ".join(sys.argv[1:] if argv is None else argv)
        log = lambda line: print(line, file=sys.stderr)  # noqa: E731
        throughput.record(args.record, args.what, kind, result, command, log=log)


if __name__ == "__main__":
    main()
