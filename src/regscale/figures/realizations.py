"""Fig. 3: the loss over many realizations of one cell, and how the geometric mean
settles as realizations are added."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..stats import cell_statistics, experiment, select
from .common import TARGET_LABELS, WIDTH, by_size, size_text, style, tidy_log_ticks

FIRST = 20  # the paper's panels (a), (b): the first 20 of 100 realizations
MAX_HISTOGRAMS = 4
MARKERS = ["s", "p", "h", "o", "^", "v", "D", "X"]
MARKS = {  # statistic, its spread, colour, legend
    "mean": ("mean", "sem", "black", "arithmetic mean ± s.e."),
    "geomean": ("geomean", None, "tab:blue", "geometric mean ± s.e."),
    "median": ("median", "mad", "tab:red", "median ± MAD"),
}


def histogram_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells whose distributions are drawn: all of them up to four, else the
    diagonal (i-th smallest model with the i-th smallest N_D), as in the paper."""
    if len(cells) <= MAX_HISTOGRAMS:
        return cells
    sizes, n_ds = by_size(cells), sorted(cells["n_d"].unique())
    pairs = list(zip(sizes, n_ds))[:MAX_HISTOGRAMS]
    keep = [(cells["size_label"] == size) & (cells["n_d"] == n_d) for size, n_d in pairs]
    return cells[np.logical_or.reduce(keep)]


def _edges(losses: pd.Series) -> np.ndarray:
    """Bins over the cell's whole range: linear, as in the paper, unless the losses
    span more than a decade."""
    low, high = losses.min(), losses.max()
    if high > 10 * low:
        return np.geomspace(low / 1.05, high * 1.05, 16)
    pad = 0.05 * (high - low) or 0.05 * high
    return np.linspace(max(low - pad, 0), high + pad, 16)


def _histogram(ax, losses: np.ndarray, row: pd.Series, edges: np.ndarray) -> None:
    sns.histplot(x=losses, bins=edges, ax=ax, color="0.78", edgecolor="white", linewidth=0.5)
    label = "test MSE"
    if edges[-1] > 10 * edges[0] > 0:
        ax.set_xscale("log")
    else:
        # Short tick labels: the power of ten goes into the axis label.
        power = int(np.floor(np.log10(edges[-1])))
        power = power if power < -1 or power > 2 else 0
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 10**power:.3g}"))
        label += f" ($10^{{{power}}}$)" if power else ""
    for column, spread, colour, _ in MARKS.values():
        value = row[column]
        low, high = (
            (row["geomean_lo"], row["geomean_hi"]) if spread is None else (value - row[spread], value + row[spread])
        )
        if np.isfinite(low) and np.isfinite(high):
            ax.axvspan(max(low, edges[0]), high, color=colour, alpha=0.15, linewidth=0)
        ax.axvline(value, color=colour, linewidth=1.2)
    ax.set_xlabel(label)
    ax.set_ylabel(r"$N_{\mathrm{bin}}$")


def statistics(runs, subsets, experiments, train, plots) -> plt.Figure:
    """Distributions of the test loss over the realizations of the statistics cells
    (first 20 and all, when there are more than 20), with the three averages marked,
    and the subset-averaged geometric mean against the number of realizations."""
    style(plots)
    spec = experiment(experiments, train, "statistics")
    chosen = select(runs, spec)
    chosen = chosen[~chosen["excluded"].astype(bool)]
    if chosen.empty:
        raise ValueError("Fig. 3: no usable runs of the experiment `statistics` in runs.csv")
    all_cells = cell_statistics(chosen).sort_values(["target", "n_m", "n_d"])
    shown = histogram_cells(all_cells)
    n_r = int(all_cells["n_r"].max())
    rows = [(f"first {FIRST}", chosen[chosen["seed"] < FIRST]), ("all", chosen)] if n_r > FIRST else [("all", chosen)]
    cols = len(shown)
    fig = plt.figure(figsize=(WIDTH, 2.0 * len(rows) + 2.8), layout="constrained")
    grid = fig.add_gridspec(len(rows) + 1, cols, height_ratios=[1] * len(rows) + [1.4])
    axes = []
    for i, (_, frame) in enumerate(rows):
        row_stats = cell_statistics(frame).set_index(["size_label", "target", "n_d"])
        for j, cell in enumerate(shown.itertuples()):
            ax = fig.add_subplot(grid[i, j])
            axes.append(ax)
            mask = (
                (frame["size_label"] == cell.size_label) & (frame["target"] == cell.target) & (frame["n_d"] == cell.n_d)
            )
            everything = chosen[(chosen["size_label"] == cell.size_label) & (chosen["target"] == cell.target)]
            everything = everything[everything["n_d"] == cell.n_d]["test_mse"]
            edges = _edges(everything)
            stats_row = row_stats.loc[(cell.size_label, cell.target, cell.n_d)]
            _histogram(ax, frame[mask]["test_mse"].to_numpy(), stats_row, edges)
            target = TARGET_LABELS.get(cell.target, f"${cell.target}$")
            letter = "abcdefghijklmnop"[len(axes) - 1]
            ax.set_title(
                f"({letter}) {target}, {size_text('fcn', cell.size_label, 'width')}, $N_D$={cell.n_d}\n"
                f"$N_r$={int(stats_row.n_r)}",
                fontsize="x-small",
                loc="left",
            )
            if j:
                ax.set_ylabel("")
    handles = [
        Patch(facecolor=colour, alpha=0.4, edgecolor=colour, label=label) for _, _, colour, label in MARKS.values()
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize="x-small")
    last = _convergence(fig.add_subplot(grid[len(rows), :]), subsets, spec)
    last.set_title(
        f"({'abcdefghijklmnop'[len(axes)]}) geometric mean vs number of realizations", loc="left", fontsize="small"
    )
    return fig


def _convergence(ax, subsets: pd.DataFrame, spec: dict):
    """Fig. 3e: subset-averaged geometric mean vs the number of realizations n, with
    the standard deviation over subsets as error bars."""
    frame = select(subsets, spec).sort_values("n")
    sizes, n_ds = by_size(frame), sorted(frame["n_d"].unique())
    colours = dict(zip(sizes, sns.color_palette("Set1", len(sizes))))
    markers = dict(zip(n_ds, MARKERS))
    for (size, target, n_d), curve in frame.groupby(["size_label", "target", "n_d"], sort=False):
        n_r = int(curve["n_r"].iloc[0])
        if n_r > 25:  # thin the markers; the line shows every n
            curve_points = curve[curve["n"].isin(np.unique(np.linspace(1, n_r, 25).round()))]
        else:
            curve_points = curve
        ax.plot(curve["n"], curve["geomean_mean"], color=colours[size], linewidth=0.6, alpha=0.6)
        ax.errorbar(
            curve_points["n"], curve_points["geomean_mean"], yerr=np.nan_to_num(curve_points["geomean_sd"]),
            color=colours[size], marker=markers[n_d], markersize=4, linestyle="none", capsize=1.2, elinewidth=0.7,
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel(r"number of realizations $n$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("geometric mean of\ntest MSE over subsets")
    handles = [
        Line2D([], [], color=colours[s], marker="s", linestyle="none", label=size_text("fcn", s, "width"))
        for s in sizes
    ]
    handles += [Line2D([], [], color="0.3", marker=markers[n], linestyle="none", label=f"$N_D$={n}") for n in n_ds]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="x-small")
    tidy_log_ticks(ax)
    return ax
