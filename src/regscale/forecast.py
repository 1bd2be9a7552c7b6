"""Forecasts of the largest training sets from the smaller ones (forecast.csv).

A scaling law earns trust by predicting what it was not fitted to. For every series
that has a joint law (regscale.joint), the cells at the HELD_OUT largest N_D are left
out, and the rest predict them twice:

- by the joint law L(N_D, N_M) = E + A N_M^-a + B N_D^-b refitted without them. Its
  95 % predictive interval combines the law's own uncertainty (the cell bootstrap of
  regscale.joint, refitted to the kept cells) with the scatter of one cell about the
  law (a residual of the kept fit, inflated by sqrt(n / (n - 5)) for the five fitted
  parameters, drawn at random into each bootstrap prediction);
- by the pure power law of each N_M alone, the straight line in log10 N_D through the
  kept cells (statsmodels OLS and its prediction interval for a new observation).

The law's bootstrap interval assumes the law is right. On the published studies it is
not (the local slope in N_D swings), and that interval held only 58 % of the
observations. So the law's forecast also gets a backtest interval, which assumes
nothing about the law: inside the kept cells, the law fitted below each earlier N_D
(the origin) forecasts the next HELD_OUT N_D, as the real forecast does, and the
interval is the point forecast plus or minus the largest of those misses at the same
number of N_D steps ahead (the horizon). With n exchangeable misses the largest would
bound a new one with probability n / (n + 1) (the conformal argument); the misses of
one origin are correlated over N_M, so that is a heuristic, checked on the published
studies (docs/results.md). The interval needs MIN_N_D + 1 kept N_D at least; with fewer
its bounds are empty (NaN) and ``n_backtest`` is 0.

Where the line's forecast misses high and the law's does not, the loss bends away from
a power law toward a floor (the law's E); a miss low on both says the loss steepens.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import statsmodels.api as sm

from . import joint
from .stats import stream

log = logging.getLogger(__name__)

HELD_OUT = 2  # largest N_D values left out and forecast
FORECAST_COLUMNS = [
    "experiment", "arch", "schedule", "model_target", "target", "n_m", "n_d", "fit_n_d_max",
    "observed_log10", "law_log10", "law_lo", "law_hi", "law_error_dex", "law_inside",
    "line_log10", "line_lo", "line_hi", "line_error_dex", "line_inside", "confidence", "n_boot",
    "horizon", "law_backtest_lo", "law_backtest_hi", "law_backtest_inside", "n_backtest",
]  # fmt: skip


def law_forecast(kept: pd.DataFrame, new: pd.DataFrame, confidence: float, n_boot: int, rng) -> pd.DataFrame:
    """The joint law fitted to the ``kept`` cells (n_m, n_d, logs: log10 losses) and its
    forecast of the ``new`` cells: log10 point prediction and predictive interval."""
    n_m, n_d = kept["n_m"].to_numpy(float), kept["n_d"].to_numpy(float)
    log_loss = joint.mean_log10(kept) * np.log(10)
    params, theta = joint.fit_law(n_m, n_d, log_loss)
    residual = np.log10(joint.predict(params, n_m, n_d)) - log_loss / np.log(10)
    spread = residual * np.sqrt(len(residual) / max(len(residual) - len(joint.PARAMETERS), 1))
    laws = joint.bootstrap_laws(theta, n_m, n_d, log_loss, n_boot, rng)
    boot = np.log10(
        joint.predict(dict(zip(joint.PARAMETERS, laws.T[:, :, None])), new["n_m"].to_numpy(), new["n_d"].to_numpy())
    )  # (n_boot, new cells)
    draws = boot - spread[rng.integers(0, len(spread), size=boot.shape)]
    tail = (1 - confidence) / 2
    return pd.DataFrame(
        {
            "law_log10": np.log10(joint.predict(params, new["n_m"], new["n_d"])),
            "law_lo": np.quantile(draws, tail, axis=0),
            "law_hi": np.quantile(draws, 1 - tail, axis=0),
        },
        index=new.index,
    )


def law_point(kept: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    """log10 of the joint law fitted to the ``kept`` cells, at the ``new`` cells."""
    n_m, n_d = kept["n_m"].to_numpy(float), kept["n_d"].to_numpy(float)
    params, _ = joint.fit_law(n_m, n_d, joint.mean_log10(kept) * np.log(10))
    return np.log10(joint.predict(params, new["n_m"].to_numpy(float), new["n_d"].to_numpy(float)))


def backtest_misses(kept: pd.DataFrame) -> dict[int, np.ndarray]:
    """The joint law's misses (dex, prediction minus observation) inside the ``kept``
    cells, by horizon: fitted to the N_D below each origin, it predicts the cells 1 ...
    HELD_OUT N_D values on. Origins leave MIN_N_D values to fit, and MIN_CELLS cells."""
    n_d_values = np.sort(kept["n_d"].unique())
    misses = {horizon: [] for horizon in range(1, HELD_OUT + 1)}
    for origin in range(joint.MIN_N_D, len(n_d_values)):
        below = kept[kept["n_d"] < n_d_values[origin]]
        if len(below) < joint.MIN_CELLS:
            continue
        ahead = kept[kept["n_d"].isin(n_d_values[origin : origin + HELD_OUT])]  # one fit for every horizon
        horizons = np.searchsorted(n_d_values, ahead["n_d"]) - origin + 1
        for horizon, miss in zip(horizons, law_point(below, ahead) - joint.mean_log10(ahead)):
            misses[horizon].append(miss)
    return {horizon: np.asarray(values) for horizon, values in misses.items()}


def backtest_interval(kept: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """For each ``new`` cell (with ``horizon`` and ``law_log10``): the law's point
    forecast plus or minus its largest backtest miss at that horizon."""
    misses = backtest_misses(kept)
    largest = new["horizon"].map({h: np.abs(m).max() if len(m) else np.nan for h, m in misses.items()})
    return pd.DataFrame(
        {
            "law_backtest_lo": new["law_log10"] - largest,
            "law_backtest_hi": new["law_log10"] + largest,
            "n_backtest": new["horizon"].map({h: len(m) for h, m in misses.items()}),
        },
        index=new.index,
    )


def line_forecast(kept: pd.DataFrame, new: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per N_M, the power law in N_D through the ``kept`` cells' log10 geometric means
    (OLS in log10 N_D) and its prediction interval for a new cell, at the ``new`` cells;
    NaN where an N_M has fewer than three kept cells."""
    rows = pd.DataFrame(np.nan, index=new.index, columns=["line_log10", "line_lo", "line_hi"])
    for n_m, group in kept.groupby("n_m"):
        targets = new.index[new["n_m"] == n_m]
        if len(group) < 3 or not len(targets):
            continue
        x = sm.add_constant(np.log10(group["n_d"].to_numpy(float)))
        y = joint.mean_log10(group)
        result = sm.OLS(y, x).fit()
        at = sm.add_constant(np.log10(new.loc[targets, "n_d"].to_numpy(float)), has_constant="add")
        frame = result.get_prediction(at).summary_frame(alpha=1 - confidence)
        rows.loc[targets] = frame[["mean", "obs_ci_lower", "obs_ci_upper"]].to_numpy()
    return rows


def forecast(cells: pd.DataFrame, confidence: float, n_boot: int, rng: np.random.Generator) -> pd.DataFrame:
    """The forecast of the cells at the HELD_OUT largest N_D of one series (cells as
    regscale.joint.joint_law takes them) from the others. Raises ValueError when the
    kept cells cannot determine a law."""
    n_d_values = np.sort(cells["n_d"].unique())
    if len(n_d_values) < joint.MIN_N_D + HELD_OUT - 1:
        raise ValueError(f"a forecast of {HELD_OUT} N_D values needs {joint.MIN_N_D + HELD_OUT - 1}, got {len(n_d_values)}")
    held_out = cells["n_d"] >= n_d_values[-HELD_OUT]
    kept, new = cells[~held_out], cells[held_out].copy()
    if len(kept) < joint.MIN_CELLS:
        raise ValueError(f"{len(kept)} cells left to fit, fewer than {joint.MIN_CELLS}")
    new["fit_n_d_max"] = int(kept["n_d"].max())
    new["horizon"] = np.searchsorted(n_d_values[-HELD_OUT:], new["n_d"]) + 1  # N_D steps past the kept cells
    new["observed_log10"] = joint.mean_log10(new)
    new = new.join(law_forecast(kept, new, confidence, n_boot, rng)).join(line_forecast(kept, new, confidence))
    new = new.join(backtest_interval(kept, new))
    observed = new["observed_log10"]
    for fit in ("law", "line"):
        new[f"{fit}_error_dex"] = new[f"{fit}_log10"] - observed
        new[f"{fit}_inside"] = (new[f"{fit}_lo"] <= observed) & (observed <= new[f"{fit}_hi"])
    inside = (new["law_backtest_lo"] <= observed) & (observed <= new["law_backtest_hi"])
    new["law_backtest_inside"] = inside.astype("boolean").mask(new["n_backtest"] == 0)
    return new.drop(columns="logs").assign(confidence=confidence, n_boot=n_boot)


def forecasts(runs: pd.DataFrame, experiments: dict, train: dict, analysis: dict, seed: int) -> pd.DataFrame:
    """forecast.csv: :func:`forecast` of every series that joint_law.csv fits; series
    with too few N_D are logged and skipped."""
    rows = []
    for series, cells in joint.law_series(runs, experiments, train, analysis):
        try:
            table = forecast(cells, analysis["confidence"], analysis["bootstrap"], stream(seed, ("forecast", *series.values())))
        except ValueError as error:
            log.info("no forecast for %s: %s", tuple(series.values()), error)
            continue
        rows.append(table.assign(**series))
    if not rows:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    return pd.concat(rows, ignore_index=True)[FORECAST_COLUMNS]
