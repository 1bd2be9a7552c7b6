"""Fig. 2: the dataset (sample images of both layers with their labels) and the
regression model that maps them to (theta, J, D)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import WIDTH, style

LAYERS = {1: "top layer", 0: "bottom layer"}  # index in the (2, H, W) image


def pick_samples(table: pd.DataFrame, n: int) -> list[int]:
    """n samples spread over the twist angle: those nearest to evenly spaced
    quantiles of theta, so the moiré period visibly changes across the row."""
    order = table["theta"].to_numpy().argsort()
    return [int(order[k]) for k in np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int)]


def dataset(images: np.ndarray, table: pd.DataFrame, plots: dict, n_samples: int = 4) -> plt.Figure:
    """Top and bottom layers of ``n_samples`` test images (red +1, blue -1), titled
    with their (theta, J, D), beside a sketch of the regression model."""
    style(plots)
    if images.ndim != 4 or images.shape[1] != 2 or len(images) != len(table):
        raise ValueError(
            f"expected (n, 2, rows, cols) images with one table row each, got {images.shape}, {len(table)} rows"
        )
    picked = pick_samples(table, n_samples)
    fig = plt.figure(figsize=(WIDTH, 3.3), layout="constrained")
    grid = fig.add_gridspec(2, len(picked) + 1, width_ratios=[1] * len(picked) + [1.25])
    for col, k in enumerate(picked):
        row = table.iloc[k]
        for line, layer in enumerate(LAYERS):
            ax = fig.add_subplot(grid[line, col])
            shown = ax.imshow(
                images[k, layer].astype(np.float32), cmap="RdBu_r", vmin=-1, vmax=1, origin="lower", interpolation="nearest"
            )  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if line == 0:
                ax.set_title(f"θ={row.theta:.2f}°\nJ={row.J:.2f} meV\nD={row.D:.2f} meV", fontsize="x-small")
            if col == 0:
                ax.set_ylabel(LAYERS[layer], fontsize="x-small")
    bar = fig.colorbar(shown, ax=fig.axes, location="bottom", shrink=0.35, aspect=30, pad=0.02)
    bar.set_label(r"out-of-plane magnetization $m_z$", fontsize="x-small")
    bar.ax.tick_params(labelsize="xx-small")
    _model_sketch(fig.add_subplot(grid[:, -1]), images.shape)
    fig.text(0.0, 1.0, "(a)", fontsize="small", fontweight="bold", va="bottom")
    return fig


def _model_sketch(ax, shape) -> None:
    """(b): image -> regressor -> (theta, J, D), as boxes and arrows."""
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("(b)", loc="left", fontsize="small", fontweight="bold")
    boxes = [
        (0.84, f"images\n2 × {shape[2]} × {shape[3]}\n(both layers)", "#f2f2f2"),
        (0.50, "regressor\nFCN / ResNet-18 / ViT", "#dde8f5"),
        (0.16, "(θ, J, D)\nstandardized,\nMSE loss", "#f7e3d9"),
    ]
    for y, text, colour in boxes:
        ax.text(0.5, y, text, ha="center", va="center", fontsize="x-small",
                bbox=dict(boxstyle="round,pad=0.5", facecolor=colour, edgecolor="0.4"))  # fmt: skip
    for start, end in ((0.72, 0.61), (0.39, 0.28)):
        ax.annotate("", xy=(0.5, end), xytext=(0.5, start), arrowprops=dict(arrowstyle="-|>", color="0.3"))
