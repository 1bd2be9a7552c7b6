"""What the figures share: style, labels, the scaling panel and its fitted lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter

from .. import archs, targets
from ..study import parse_size
from .style import WIDTH, style  # noqa: F401 (shared by every figure module)

TARGETS = targets.names()
TARGET_LABELS = {name: target.label for name, target in targets.TARGETS_BY_NAME.items()}
INTERVAL_COLUMNS = {"regression": ("alpha_lo", "alpha_hi"), "bootstrap": ("alpha_boot_lo", "alpha_boot_hi")}


def interval_text(value: float, lo: float, hi: float) -> str:
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def exponent_label(row: pd.Series | None, symbol: str, interval: str) -> str:
    """'α_D = 1.23 [1.10, 1.35]' from a row of exponents.csv (empty without a fit)."""
    if row is None:
        return ""
    lo, hi = INTERVAL_COLUMNS[interval]
    return f"{symbol} = {interval_text(row['alpha'], row[lo], row[hi])}"


def size_text(arch: str, label: str, vary: str | None = None) -> str:
    """A model's name in a legend: n_n=16 (FCN width), n_l=2 (depth), else the
    registered label (regscale.archs), with its size when several are drawn."""
    size = parse_size(label)
    if arch == "fcn":
        if vary == "depth":
            return f"$n_l$={size['depth']}"
        if vary == "width":
            return f"$n_n$={size['width']}"
        return f"FCN $n_n$={size['width']}"
    return archs.get(arch).legend(size, vary)


def legend_below(ax, ncol: int = 1, **kwargs) -> None:
    """A legend under the panel (below its x label), where it never hides data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=ncol, **kwargs)


def draw_series(ax, points: pd.DataFrame, x: str, fit: pd.Series | None, label: str, color, marker: str, fill=True):
    """Geometric means with their standard-error bars, and the fitted power law as a
    dashed line over the fit range."""
    points = points.sort_values(x)
    yerr = np.vstack([points["geomean"] - points["geomean_lo"], points["geomean_hi"] - points["geomean"]])
    ax.errorbar(
        points[x],
        points["geomean"],
        yerr=np.nan_to_num(yerr),
        color=color,
        marker=marker,
        markersize=4,
        linestyle="none",
        capsize=1.5,
        elinewidth=0.8,
        markerfacecolor=color if fill else "white",
        label=label,
    )
    if fit is not None:
        grid = np.geomspace(fit["fit_min"], fit["fit_max"], 50)
        ax.plot(grid, 10 ** fit["intercept"] * grid ** -fit["alpha"], color=color, linestyle="--", linewidth=1.0)


def fit_row(exponents: pd.DataFrame, **where) -> pd.Series | None:
    """The one exponent row matching every column=value given, or None."""
    mask = np.ones(len(exponents), dtype=bool)
    for column, value in where.items():
        mask &= (exponents[column] == value).to_numpy(dtype=bool, na_value=False)
    rows = exponents[mask]
    if len(rows) > 1:
        raise ValueError(f"several exponents match {where}")
    return rows.iloc[0] if len(rows) else None


def loglog(ax, xlabel: str, ylabel: str | None = None) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)


PLAIN_UP_TO = 1e4  # log-axis labels below this are written as integers (N_D: 200, 500, 1000)


def _mantissa_exponent(value) -> tuple[int, int]:
    exponent = int(np.floor(np.log10(value)))
    return int(round(value / 10**exponent)), exponent


def _sparse_minor(value, _) -> str:
    mantissa, exponent = _mantissa_exponent(value)
    return f"${mantissa}\\times10^{{{exponent}}}$" if mantissa in (2, 5) else ""


def _plain(value, _) -> str:
    return f"{value:.0f}" if _mantissa_exponent(value)[0] in (1, 2, 5) else ""


def tidy_log_ticks(ax) -> None:
    """Tick labels of a log axis. Counts from 1 to PLAIN_UP_TO (training-set sizes) as
    integers at 1, 2 and 5 x 10^k: "2 x 10^2" beside "10^3" crowds a narrow panel.
    Otherwise minor ticks get no labels when two powers of ten are labelled, else labels
    only at 2 and 5 when that gives at least two; on shorter ranges matplotlib's own
    (every minor tick) stay."""
    for axis, (low, high) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log" or not 0 < low < high:
            continue
        powers = np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
        majors = [10**k for k in powers if low <= 10**k <= high]
        sparse = [m * 10**k for k in powers for m in (1, 2, 5) if low <= m * 10**k <= high]
        if low >= 1 and high <= PLAIN_UP_TO and len(sparse) >= 2:
            axis.set_major_formatter(FuncFormatter(_plain))
            axis.set_minor_formatter(FuncFormatter(_plain))
        elif len(majors) >= 2:
            axis.set_minor_formatter(NullFormatter())
        elif len(sparse) >= 2:
            axis.set_minor_formatter(FuncFormatter(_sparse_minor))


def targets_in(frame: pd.DataFrame) -> list[str]:
    present = set(frame["target"])
    return [target for target in TARGETS if target in present]


def by_size(cells: pd.DataFrame) -> list[str]:
    """The size labels of a frame ordered by model size N_M."""
    return list(cells.sort_values("n_m").drop_duplicates("size_label")["size_label"])


def panel_letters(axes) -> None:
    """(a), (b), ... before the panels' titles, left-aligned; also tidies their log ticks."""
    for letter, ax in zip("abcdefghijklmnop", axes):
        title = ax.get_title()
        ax.set_title("")
        ax.set_title(f"({letter}) {title}".strip(), loc="left", fontsize="small")
        tidy_log_ticks(ax)
