"""The parameter atlas: relaxed images over a grid of theta and D, and along J.

It shows at a glance that each label changes the images (the data are learnable)
and what a sample looks like at the corners of the parameter box.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def atlas_parameters(atlas: dict, ranges: dict) -> pd.DataFrame:
    """Rows of (panel, theta, J, D): the theta x D grid at the middle J, then the J
    sweep at the middle theta and D."""
    mid = {name: 0.5 * (low + high) for name, (low, high) in ranges.items()}
    grid = [("grid", t, mid["J"], d) for d in atlas["D"] for t in atlas["theta"]]
    sweep = [("J", mid["theta"], j, mid["D"]) for j in atlas["J"]]
    return pd.DataFrame(grid + sweep, columns=["panel", "theta", "J", "D"])


def plot_atlas(images: np.ndarray, params: pd.DataFrame, dpi: int = 150):
    """Top-layer m_z over the theta x D grid (upper block, one row per D) and both
    layers along J (lower block). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    grid = params[params.panel == "grid"]
    sweep = params[params.panel == "J"]
    thetas, ds = sorted(grid.theta.unique()), sorted(grid.D.unique())
    n_cols = max(len(thetas), len(sweep))
    n_rows = len(ds) + 2
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(1.5 * n_cols + 1.2, 1.5 * n_rows + 0.6), dpi=dpi, squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    # Rows are 1.5 d apart, columns a / 2: sqrt(3) taller than wide, drawn to scale.
    style = dict(cmap="RdBu_r", vmin=-1, vmax=1, origin="lower", interpolation="nearest", aspect=math.sqrt(3.0))
    for k, row in grid.iterrows():
        r, c = ds.index(row.D), thetas.index(row.theta)
        image = axes[r, c].imshow(images[k, 1], **style)
        if r == 0:
            axes[r, c].set_title(f"θ = {row.theta:g}°", fontsize=8)
        if c == 0:
            axes[r, c].set_ylabel(f"D = {row.D:g} meV\n(top layer)", fontsize=8)
    for c, (k, row) in enumerate(sweep.iterrows()):
        for r, (layer, name) in enumerate(((1, "top"), (0, "bottom"))):
            ax = axes[len(ds) + r, c]
            ax.imshow(images[k, layer], **style)
            if r == 0:
                ax.set_title(f"J = {row.J:g} meV", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{name} layer", fontsize=8)
    for c in range(len(sweep), n_cols):
        for r in (len(ds), len(ds) + 1):
            axes[r, c].set_visible(False)
    fig.suptitle(
        f"Parameter atlas, m_z (red +1, blue -1). Rows 1-{len(ds)}: θ x D at J = {grid.J.iloc[0]:g} meV; "
        f"last two rows: J sweep at θ = {sweep.theta.iloc[0]:g}°, D = {sweep.D.iloc[0]:g} meV",
        fontsize=8,
    )
    fig.colorbar(image, ax=axes, shrink=0.3, label="m_z")
    return fig
