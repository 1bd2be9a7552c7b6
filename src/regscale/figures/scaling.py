"""The scaling figures: loss against N_D and N_M, and the exponents against N_M.

Each takes the tables of the analysis (cells.csv, exponents.csv, trend.csv), the
config's experiments and train sections (which runs belong to which figure) and its
plots section, and returns a matplotlib figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import archs
from ..joint import predict
from ..stats import experiment, select
from ..study import parse_size
from .common import (
    INTERVAL_COLUMNS,
    TARGET_LABELS,
    WIDTH,
    by_size,
    draw_series,
    exponent_label,
    fit_row,
    interval_text,
    legend_below,
    loglog,
    panel_letters,
    size_text,
    style,
    targets_in,
)

LOSS = "test MSE (geometric mean)"
ALPHA_D, ALPHA_M = r"$\alpha_D$", r"$\alpha_M$"


def other_architectures(experiments: dict) -> list:
    """The registered architectures besides the FCN sweep that have an experiment of
    their name (ResNet-18 and ViT in the shipped configs), each drawn in its style."""
    return [arch for arch in archs.ARCHITECTURES.values() if not arch.ensemble and arch.name in experiments]


def _series(frame: pd.DataFrame, arch: str, size: str, schedule: str, target: str) -> pd.DataFrame:
    return frame[
        (frame["arch"] == arch)
        & (frame["size_label"] == size)
        & (frame["schedule"] == schedule)
        & (frame["target"] == target)
    ]


def _data_fit(exponents, arch, size, schedule, target):
    return fit_row(exponents, axis="data", arch=arch, size=size, schedule=schedule, target=target)


def _legend_label(name: str, fit, symbol: str, interval: str) -> str:
    text = exponent_label(fit, symbol, interval)
    return f"{name}: {text}" if text else f"{name} (no fit)"


def _panels(n: int, height: float = 2.6, rows: int = 1):
    cols = int(np.ceil(n / rows))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, height * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def _cells_of(cells, experiments, train, name, schedules=None):
    if name not in experiments:
        return None, cells.iloc[:0]
    spec = experiment(experiments, train, name)
    return spec, select(cells, spec, schedules)


def architectures(cells, exponents, experiments, train, plots) -> plt.Figure:
    """Fig. 1: loss vs N_D per target for the smallest and largest FCN of the width
    sweep, ResNet-18 and ViT, with their fitted power laws."""
    style(plots)
    schedule = train["schedule"]
    _, fcn = _cells_of(cells, experiments, train, "fcn_width", [schedule])
    series = []  # (name, arch, size, colour, marker)
    sizes = by_size(fcn)
    for size, colour in zip(sizes[:1] + sizes[-1:] if len(sizes) > 1 else sizes, ("tab:red", "goldenrod")):
        series.append((size_text("fcn", size), "fcn", size, colour, "s"))
    chosen = [fcn]
    for arch in other_architectures(experiments):
        name, colour, marker = arch.name, arch.colour, arch.marker
        spec, frame = _cells_of(cells, experiments, train, name, [schedule])
        chosen.append(frame)
        sizes = by_size(frame)
        for size in sizes:
            series.append((size_text(name, size, None if len(sizes) == 1 else "size"), name, size, colour, marker))
    targets = targets_in(pd.concat(chosen))
    if not targets:
        raise ValueError("Fig. 1: no cells of the experiments fcn_width, resnet18 or vit in cells.csv")
    fig, axes = _panels(len(targets))
    for ax, target in zip(axes, targets):
        for name, arch, size, colour, marker in series:
            points = _series(cells, arch, size, schedule, target)
            if points.empty:
                continue
            fit = _data_fit(exponents, arch, size, schedule, target)
            draw_series(ax, points, "n_d", fit, _legend_label(name, fit, ALPHA_D, plots["interval"]), colour, marker)
        loglog(ax, r"training-set size $N_D$", LOSS if ax is axes[0] else None)
        ax.set_title(TARGET_LABELS[target])
        legend_below(ax)
    panel_letters(axes)
    return fig


def sweeps(cells, exponents, experiments, train, plots) -> plt.Figure:
    """Fig. 4: loss vs N_D for the FCN width sweep, one panel per target, and for the
    depth sweep (each of its targets), with alpha_D of every size in the legend."""
    style(plots)
    schedule = train["schedule"]
    panels = []  # (frame, vary, target)
    for name, vary in (("fcn_width", "width"), ("fcn_depth", "depth")):
        _, frame = _cells_of(cells, experiments, train, name, [schedule])
        panels += [(frame, vary, target) for target in targets_in(frame)]
    if not panels:
        raise ValueError("Fig. 4: no cells of the experiments fcn_width or fcn_depth in cells.csv")
    rows = 1 if len(panels) <= 3 else int(np.ceil(len(panels) / 2))
    fig, axes = _panels(len(panels), height=2.9 if rows == 1 else 3.2, rows=rows)
    for ax, (frame, vary, target) in zip(axes, panels):
        frame = frame[frame["target"] == target]
        sizes = by_size(frame)
        colours = sns.color_palette("flare" if vary == "width" else "crest", len(sizes))
        for size, colour in zip(sizes, colours):
            fit = _data_fit(exponents, "fcn", size, schedule, target)
            label = _legend_label(size_text("fcn", size, vary), fit, ALPHA_D, plots["interval"])
            draw_series(ax, frame[frame["size_label"] == size], "n_d", fit, label, colour, "s")
        loglog(ax, r"training-set size $N_D$", LOSS)
        fixed = frame["depth" if vary == "width" else "width"].dropna().unique()
        fixed_text = f", $n_{'l' if vary == 'width' else 'n'}$={int(fixed[0])}" if len(fixed) == 1 else ""
        ax.set_title(f"{TARGET_LABELS[target]}: {vary} sweep{fixed_text}", fontsize="small")
        legend_below(ax, ncol=1 if rows == 1 else 2, columnspacing=1.0, handletextpad=0.3)
    panel_letters(axes)
    return fig


def exponents_vs_size(exponents, trend, experiments, train, plots) -> plt.Figure:
    """Fig. 5: alpha_D against N_M for the FCN width sweep with the logarithmic trend
    (largest N_M left out, drawn open), ResNet-18 and ViT marked."""
    style(plots)
    schedule, interval = train["schedule"], plots["interval"]
    lo, hi = INTERVAL_COLUMNS[interval]
    spec = experiment(experiments, train, "fcn_width")
    data = exponents[(exponents["axis"] == "data") & (exponents["schedule"] == schedule)]
    fcn = data[(data["arch"] == "fcn") & data["size"].isin(spec["sizes"])]
    targets = targets_in(fcn)
    if not targets:
        raise ValueError("Fig. 5: no data-scaling exponents of the width sweep (fcn_width) in exponents.csv")
    fig, axes = _panels(len(targets), height=2.7)
    for ax, target in zip(axes, targets):
        points = fcn[fcn["target"] == target].sort_values("n_m")
        line = trend[(trend["experiment"] == "fcn_width") & (trend["schedule"] == schedule)]
        line = line[line["target"] == target]
        left_out = points["n_m"] == line["left_out_n_m"].iloc[0] if len(line) else np.zeros(len(points), bool)
        depths = sorted({parse_size(size)["depth"] for size in points["size"]})
        name = "FCN" + (f" $n_l$={depths[0]}" if len(depths) == 1 else "")
        for mask, fill, label in ((~left_out, True, name), (left_out, False, f"{name}, left out of the fit")):
            chosen = points[np.asarray(mask)]
            if chosen.empty:
                continue
            yerr = np.vstack([chosen["alpha"] - chosen[lo], chosen[hi] - chosen["alpha"]])
            ax.errorbar(
                chosen["n_m"], chosen["alpha"], yerr=yerr, color="tab:red", marker="s", markersize=4, linestyle="none",
                capsize=1.5, elinewidth=0.8, markerfacecolor="tab:red" if fill else "white", label=label,
            )  # fmt: skip
        if len(line):
            row = line.iloc[0]
            grid = np.geomspace(points["n_m"].min(), points["n_m"].max(), 50)
            a_lo, a_hi = ("a_lo", "a_hi") if interval == "regression" else ("a_boot_lo", "a_boot_hi")
            b_lo, b_hi = ("b_lo", "b_hi") if interval == "regression" else ("b_boot_lo", "b_boot_hi")
            label = (
                f"$a_D$ = {interval_text(row['a'], row[a_lo], row[a_hi])}\n"
                f"$b_D$ = {interval_text(row['b'], row[b_lo], row[b_hi])}"
            )
            ax.plot(grid, row["a"] * np.log10(grid / 1e6) + row["b"], "k--", linewidth=1.0, label=label)
        for arch in other_architectures(experiments):
            name, colour, marker = arch.name, arch.colour, arch.marker
            other = experiment(experiments, train, name)
            chosen = data[(data["arch"] == name) & data["size"].isin(other["sizes"]) & (data["target"] == target)]
            if chosen.empty:
                continue
            yerr = np.vstack([chosen["alpha"] - chosen[lo], chosen[hi] - chosen["alpha"]])
            ax.errorbar(
                chosen["n_m"], chosen["alpha"], yerr=yerr, color=colour, marker=marker, markersize=5,
                linestyle="none", capsize=1.5, elinewidth=0.8, label=size_text(name, chosen["size"].iloc[0]),
            )  # fmt: skip
        ax.set_xscale("log")
        ax.margins(x=0.08)  # the largest model (often ResNet-18) sat on the frame
        ax.set_xlabel(r"model size $N_M$ (parameters)")
        if ax is axes[0]:  # one label for the row: repeated, it ran into the panel to its left
            ax.set_ylabel(ALPHA_D)
        ax.set_title(TARGET_LABELS[target])
        legend_below(ax)
    panel_letters(axes)
    return fig


def _width_sweep_panels(cells, experiments, train, plots, figure: str):
    """(schedule, cells, targets, figure, axes) of a figure of the width sweep under the
    default schedule: one panel per target."""
    style(plots)
    schedule = train["schedule"]
    _, frame = _cells_of(cells, experiments, train, "fcn_width", [schedule])
    targets = targets_in(frame)
    if not targets:
        raise ValueError(f"{figure}: no cells of the width sweep (fcn_width) in cells.csv")
    fig, axes = _panels(len(targets), height=3.4)
    return schedule, frame, targets, fig, axes


def model_size(cells, exponents, experiments, train, plots) -> plt.Figure:
    """Fig. 6: loss vs N_M at fixed N_D for the width sweep, alpha_M in the legend."""
    schedule, frame, targets, fig, axes = _width_sweep_panels(cells, experiments, train, plots, "Fig. 6")
    n_ds = sorted(frame["n_d"].unique())
    colours = sns.color_palette("crest", len(n_ds))
    for ax, target in zip(axes, targets):
        for n_d, colour in zip(n_ds, colours):
            points = frame[(frame["target"] == target) & (frame["n_d"] == n_d)]
            fit = fit_row(
                exponents, axis="model", experiment="fcn_width", schedule=schedule, target=target, n_d=n_d
            )  # fmt: skip
            label = _legend_label(f"$N_D$={n_d}", fit, ALPHA_M, plots["interval"])
            draw_series(ax, points, "n_m", fit, label, colour, "o")
        loglog(ax, r"model size $N_M$ (parameters)", LOSS if ax is axes[0] else None)
        ax.set_title(TARGET_LABELS[target])
        legend_below(ax)
    panel_letters(axes)
    return fig


def schedules(cells, exponents, histories, experiments, train, plots, history_note: str = "") -> plt.Figure:
    """Fig. 7: loss vs N_D per learning-rate schedule (one panel per target), and the
    learning rate and validation loss against the epoch for one run per schedule.

    ``histories``: {schedule: history.csv frame (epoch, train_loss, val_loss, lr)};
    ``history_note`` names the run they come from (target, N_D, seed)."""
    style(plots)
    spec, frame = _cells_of(cells, experiments, train, "schedules")
    if spec is None or frame.empty:
        raise ValueError("Fig. 7: no cells of the experiment `schedules` in cells.csv")
    targets = targets_in(frame)
    names = spec["schedules"]
    colours = dict(zip(names, sns.color_palette("colorblind", len(names))))
    n_history = 2 if histories else 0
    fig, axes = _panels(len(targets) + n_history, height=2.7)
    for ax, target in zip(axes, targets):
        for name in names:
            for size in by_size(frame):
                points = _series(frame, spec["arch"], size, name, target)
                if points.empty:
                    continue
                fit = _data_fit(exponents, spec["arch"], size, name, target)
                label = _legend_label(name, fit, ALPHA_D, plots["interval"])
                draw_series(ax, points, "n_d", fit, label, colours[name], "o")
        loglog(ax, r"training-set size $N_D$", LOSS if ax is axes[0] else None)
        ax.set_title(f"{TARGET_LABELS[target]}: {size_text(spec['arch'], by_size(frame)[0])}")
        legend_below(ax, title="schedule")
    if histories:
        lr_ax, loss_ax = axes[len(targets) :]
        for name, history in histories.items():
            lr_ax.plot(history["epoch"], history["lr"], color=colours.get(name), label=name)
            loss_ax.plot(history["epoch"], history["val_loss"], color=colours.get(name), label=name)
        lr_ax.set_yscale("log")
        lr_ax.set(xlabel="epoch", ylabel="learning rate", title=f"learning rate {history_note}".strip())
        loss_ax.set_yscale("log")
        loss_ax.set(xlabel="epoch", ylabel="validation loss", title=f"validation loss {history_note}".strip())
    panel_letters(axes)
    return fig


def joint_law(cells, laws, experiments, train, plots) -> plt.Figure:
    """The joint law L(N_D, N_M) of the width sweep against its cells: loss vs N_D per
    width with the law's curve at that width's N_M; its exponents (bootstrap intervals)
    and the error of its held-out check in each panel's title."""
    schedule, frame, targets, fig, axes = _width_sweep_panels(cells, experiments, train, plots, "Fig. 8")
    sizes = by_size(frame)
    colours = sns.color_palette("crest", len(sizes))
    for ax, target in zip(axes, targets):
        law = fit_row(laws, experiment="fcn_width", schedule=schedule, target=target)
        for size, colour in zip(sizes, colours):
            points = _series(frame, "fcn", size, schedule, target)
            draw_series(ax, points, "n_d", None, size_text("fcn", size, "width"), colour, "o")
            if law is not None and not points.empty:
                grid = np.geomspace(law["n_d_min"], law["n_d_max"], 50)
                ax.plot(grid, predict(law, points["n_m"].iloc[0], grid), color=colour, linewidth=1.0)
        loglog(ax, r"training set size $N_D$", LOSS if ax is axes[0] else None)
        if law is None:
            ax.set_title(f"{TARGET_LABELS[target]}: no joint law fitted (see the fit log)")
        else:
            a = interval_text(law["a"], law["a_boot_lo"], law["a_boot_hi"])
            b = interval_text(law["b"], law["b_boot_lo"], law["b_boot_hi"])
            ax.set_title(
                f"{TARGET_LABELS[target]}: $a$ = {a}\n$b$ = {b}\n"
                f"held out $N_D$={law['held_out_n_d']}: {law['held_out_log10_error_mean']:.3f} dex"
            )
        legend_below(ax)
    panel_letters(axes)
    return fig
