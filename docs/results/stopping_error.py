"""How much of an image is where the minimiser stopped, in units of a label change?
(docs/physics.md §6 and docs/results.md, "The forecast of the two largest N_D".) An
exploration, not part of the pipeline.

The first ``--samples`` labels of pool shard 0 of ``--config`` are relaxed by each
minimiser and tolerance below, and by L-BFGS to 1e-5 meV, the reference minimum. Per
setting it prints

- ``seconds``: wall time of the batch on this machine (one thread, compiled step; the
  first setting also pays the compilation);
- ``mean |dm_z|``: the mean absolute difference from the reference image;
- ``qualitative``: the fraction of images with some site off by more than 0.5 in m_z
  (a wall moved or a domain appeared or vanished);
- per target, the **label equivalent** of the rest: the image difference projected on
  the image's derivative with respect to that label (central differences of +-1 % of
  the prior's range, at the reference tolerance), in units of the prior's standard
  deviation, so its mean square reads directly against the study's normalised test
  MSE. An image that a network must map to its label carries this much ambiguity, or
  at least an irregularity of this size, unless the net learns where the minimiser
  stopped.

The same for the float16 rounding of the stored images.

    .venv/bin/python docs/results/stopping_error.py [--config configs/wide.yaml] [--samples 256]
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from regscale import config as config_module, shards, simulate  # noqa: E402
from regscale.physics import Physics  # noqa: E402

QUALITATIVE = 0.5  # m_z difference at one site that means a wall or a domain changed


def relaxed(physics: Physics, relax, params):
    start = time.perf_counter()
    images, table = simulate.relax_batch(dataclasses.replace(physics, relax=relax), params, torch.device("cpu"))
    return images.astype(np.float64), table, time.perf_counter() - start


def label_derivatives(physics, reference, params, rel_step=0.01):
    """d image / d label, per prior standard deviation of the label, by central differences."""
    derivatives = {}
    for name, (low, high) in physics.ranges.items():
        step = rel_step * (high - low)
        up, down = params.copy(), params.copy()
        up[name] += step
        down[name] -= step
        image_up = relaxed(physics, reference, up)[0]
        image_down = relaxed(physics, reference, down)[0]
        derivatives[name] = (image_up - image_down) / (2 * step / ((high - low) / np.sqrt(12)))
    return derivatives


def label_equivalent(difference, derivative):
    """Per image, the label shift (prior sd units) whose first-order image change best matches."""
    d, g = difference.reshape(len(difference), -1), derivative.reshape(len(derivative), -1)
    return (g * d).sum(1) / (g * g).sum(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/wide.yaml"))
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = config_module.load(args.config)
    physics = Physics.from_config(config["physics"], base=ROOT)
    shard = shards.shard_parameters(physics.ranges, config["seed"], "pool", 0, config["data"]["shard_size"])
    if args.samples > len(shard):
        raise SystemExit(f"--samples {args.samples}: pool shard 0 holds {len(shard)} labels")
    params = shard.iloc[: args.samples].drop(columns="sample").reset_index(drop=True)

    base = dataclasses.replace(physics.relax, max_steps=40000)
    lbfgs = dataclasses.replace(base, method="lbfgs")
    settings = {
        "vp 1e-2": dataclasses.replace(base, method="vp", tol_meV=1e-2),
        "lbfgs 1e-2": dataclasses.replace(lbfgs, tol_meV=1e-2),
        "lbfgs 1e-3": dataclasses.replace(lbfgs, tol_meV=1e-3),
        "lbfgs 1e-4": dataclasses.replace(lbfgs, tol_meV=1e-4),
    }
    reference_relax = dataclasses.replace(lbfgs, tol_meV=1e-5)
    reference, table, _ = relaxed(physics, reference_relax, params)
    if not table.converged.all():
        raise SystemExit(f"{int((~table.converged).sum())} reference relaxations did not converge")
    derivatives = label_derivatives(physics, reference_relax, params)

    names = list(derivatives)
    print(f"{args.samples} labels of {args.config}, reference: lbfgs to 1e-5 meV")
    print("| setting | seconds | median steps | mean abs dm_z | qualitative | "
          + " | ".join(f"rms {n} equivalent (MSE)" for n in names) + " |")
    print("| --- " * (5 + len(names)) + "|")
    for label, relax in settings.items():
        images, table, seconds = relaxed(physics, relax, params)
        difference = images - reference
        qualitative = np.abs(difference).reshape(len(params), -1).max(1) > QUALITATIVE
        cells = []
        for name in names:
            shift = label_equivalent(difference[~qualitative], derivatives[name][~qualitative])
            rms = np.sqrt(np.mean(shift**2))
            cells.append(f"{rms:.1e} ({rms**2:.1e})")
        print(f"| {label} | {seconds:.1f} | {table.steps.median():.0f} | {np.abs(difference).mean():.1e} | "
              f"{qualitative.mean():.2f} | " + " | ".join(cells) + " |")
    rounding = reference.astype(np.float16).astype(np.float64) - reference
    cells = []
    for name in names:
        rms = np.sqrt(np.mean(label_equivalent(rounding, derivatives[name]) ** 2))
        cells.append(f"{rms:.1e} ({rms**2:.1e})")
    print(f"| float16 rounding of the reference | | | {np.abs(rounding).mean():.1e} | 0 | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
