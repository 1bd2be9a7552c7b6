"""The parameter atlas: relaxed images over a grid of theta and D, and along J.

It shows at a glance that each label changes the images (the data are learnable)
and what a sample looks like at the corners of the parameter box.
"""

from __future__ import annotations

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
    """Top-layer m_z over the theta x D grid (upper block) and both layers along J
    (lower block). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    grid = params[params.panel == "grid"]
    sweep = params[params.panel == "J"]
    thetas, ds = sorted(grid.theta.unique()), sorted(grid.D.unique())
    n_cols = max(len(thetas), len(sweep))
    n_rows = len(ds) + 2
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.75 * n_rows), dpi=dpi, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    style = dict(cmap="RdBu_r", vmin=-1, vmax=1, origin="lower", interpolation="nearest")
    for k, row in grid.iterrows():
        ax = axes[ds.index(row.D), thetas.index(row.theta)]
        image = ax.imshow(images[k, 1], **style)
        ax.set_title(f"θ={row.theta:.2f}°  D={row.D:.2f}", fontsize=7)
    for col, (k, row) in enumerate(sweep.iterrows()):
        for layer in (0, 1):
            ax = axes[len(ds) + layer, col]
            ax.imshow(images[k, 1 - layer], **style)
            name = "top" if layer == 0 else "bottom"
            ax.set_title(f"J={row.J:.2f} meV ({name})", fontsize=7)
    fig.suptitle(
        f"Parameter atlas: top-layer m_z over θ x D at J={grid.J.iloc[0]:.2f} meV; "
        f"both layers along J at θ={sweep.theta.iloc[0]:.2f}°, D={sweep.D.iloc[0]:.2f} meV",
        fontsize=8,
    )
    fig.colorbar(image, ax=axes, shrink=0.4, label="m_z")
    return fig
