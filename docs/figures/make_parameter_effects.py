"""Regenerate docs/figures/parameter_effects.png: relaxed top-layer m_z on the default
32 x 32 lattice over theta x (J, D), drawn at the sites' physical positions.

Uses the default config's physics (config.yaml) with the eager relaxation step (no C
compiler needed; torch.compile may change the last bits). About 5 s on one CPU core.
Run from the repository root:  python docs/figures/make_parameter_effects.py
"""

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch
import yaml

from regscale.lattice import sample_extent, site_positions
from regscale.simulate import Physics, relax_batch

REPO = Path(__file__).resolve().parents[2]
THETAS = (4.0, 6.0, 8.0)
JS = (1.5, 2.25, 3.0)
DS = (0.0, 0.2, 0.4)


def main():
    with open(REPO / "config.yaml") as handle:
        physics = Physics.from_config(yaml.safe_load(handle)["physics"], base=REPO)
    physics = dataclasses.replace(physics, compile=False)
    params = pd.DataFrame([(t, j, d) for t in THETAS for j in JS for d in DS], columns=["theta", "J", "D"])
    images, diagnostics = relax_batch(physics, params, torch.device("cpu"))
    x, y = site_positions(physics.rows, physics.cols, physics.lattice_constant)
    width, height = sample_extent(physics.rows, physics.cols, physics.lattice_constant)

    fig, axes = plt.subplots(len(THETAS), len(JS) * len(DS), figsize=(13, 8.2))
    for k, row in params.iterrows():
        ax = axes[k // (len(JS) * len(DS)), k % (len(JS) * len(DS))]
        dots = ax.scatter(x, y, c=images[k, 1], cmap="RdBu_r", vmin=-1, vmax=1, s=8, marker="h", linewidths=0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(JS) * len(DS):
            ax.set_title(f"J={row.J:g}, D={row.D:g}", fontsize=8)
        if k % (len(JS) * len(DS)) == 0:
            ax.set_ylabel(f"θ = {row.theta:g}°", fontsize=10)
    fig.suptitle(
        f"Relaxed top-layer $m_z$, {physics.rows} x {physics.cols} sites ({width:.0f} x {height:.0f} Å), "
        f"K = {physics.anisotropy_meV} meV; J, D in meV. All {int(diagnostics.converged.sum())}/{len(params)} converged.",
        fontsize=9,
    )
    fig.colorbar(dots, ax=axes, shrink=0.5, label="$m_z$ (top layer)")
    out = Path(__file__).with_name("parameter_effects.png")
    fig.savefig(out, dpi=90, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
