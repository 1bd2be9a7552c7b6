"""Power-law fits of the geometric-mean test loss, with two kinds of interval.

- Data scaling, eps ~ N_D^-alpha_D, per architecture, size, schedule and target.
- Model scaling, eps ~ N_M^-alpha_M, per experiment (its sizes), schedule, target and N_D.
- The paper's trend alpha_D = a_D log10(N_M / 1e6) + b_D over an experiment's sizes,
  with the largest N_M left out.

Every fit is an ordinary least-squares line in log10-log10 (statsmodels OLS) through
the cells' geometric means; its interval at ``confidence`` comes from the regression
(t-distribution, ``conf_int``) and from a percentile residual bootstrap
(:func:`residual_resamples`): the line's residuals, which hold the seeds' scatter of
each cell's mean and the law's lack of fit alike, are resampled onto the fitted line,
scaled by a residual spread drawn from its chi-square sampling law (n - 2 degrees of
freedom), and refitted. Resampling the realizations within each cell alone ignores the
lack of fit and gives intervals several times too narrow (Besiroglu et al. 2024); with
five points a plain residual bootstrap still covers only about 85 %, as it treats the
spread of five residuals as known, hence the drawn spread. Where the study gives each
run's error per test sample (results/tables/test_errors.npz, regscale.testerrors),
each resample also redraws the test samples, one draw per resample for every fit of
the study (so the trend, a line through the data fits' exponents, sees the draw they
share), and moves each cell by what that draw changes in its geometric mean (column
``resampled``): every cell is scored on the one test set, an error the residuals do
not see, and it tilts the loss along N_D (docs/results.md, "Intervals that hold").
Fits need at least MIN_POINTS cells: through two points a line always fits and its R^2
and interval mean nothing.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .aggregate import usable_runs
from .stats import experiment, select, stream

log = logging.getLogger(__name__)

MIN_POINTS = 3
MIN_DECADES_N_M = 0.3  # a model-size fit needs N_M to span at least a factor of 2
N_M_REFERENCE = 1e6  # the trend's N_M / 1e6
RESAMPLED = {False: "residuals", True: "residuals, test samples"}  # the bootstrap's column ``resampled``
SERIES = ["arch", "size_label", "schedule", "model_target", "target"]  # one data-scaling fit each
EXPONENT_COLUMNS = [
    "axis", "experiment", "arch", "size", "schedule", "model_target", "target", "n_d", "n_m",
    "alpha", "alpha_lo", "alpha_hi", "alpha_boot_lo", "alpha_boot_hi", "alpha_se", "intercept", "r2",
    "n_points", "fit_min", "fit_max", "confidence", "n_boot", "resampled",
]  # fmt: skip
TREND_COLUMNS = [
    "experiment", "arch", "schedule", "model_target", "target",
    "a", "a_lo", "a_hi", "a_boot_lo", "a_boot_hi", "b", "b_lo", "b_hi", "b_boot_lo", "b_boot_hi",
    "r2", "n_points", "fit_min", "fit_max", "left_out_n_m", "confidence", "n_boot", "resampled",
]  # fmt: skip


def in_range(values, bounds) -> np.ndarray:
    """Mask of the values inside [min, max]; a bound of None is open."""
    values = np.asarray(values, dtype=float)
    low, high = (None, None) if bounds is None else bounds
    mask = np.ones(len(values), dtype=bool)
    if low is not None:
        mask &= values >= low
    if high is not None:
        mask &= values <= high
    return mask


def line_fit(x, y, confidence: float = 0.95) -> dict:
    """OLS of y on x: slope and intercept with their intervals, R^2, point count."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < MIN_POINTS:
        raise ValueError(f"a line fit needs at least {MIN_POINTS} points, got {len(x)}")
    if np.ptp(x) == 0:
        raise ValueError("a line fit needs at least two distinct x values")
    result = sm.OLS(y, sm.add_constant(x)).fit()
    (intercept_lo, intercept_hi), (slope_lo, slope_hi) = np.asarray(result.conf_int(alpha=1 - confidence))
    return {
        "slope": result.params[1],
        "slope_lo": slope_lo,
        "slope_hi": slope_hi,
        "slope_se": result.bse[1],
        "intercept": result.params[0],
        "intercept_lo": intercept_lo,
        "intercept_hi": intercept_hi,
        "r2": result.rsquared,
        "n_points": len(x),
    }


def residual_resamples(residuals, n_params: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) residual vectors for a residual bootstrap of a fit of ``n_params``
    parameters through n points: the residuals, centred and inflated by sqrt(n / df)
    (df = n - n_params) so that their spread is the unbiased s^2, drawn with
    replacement, each resample scaled by sqrt(df / chi2_df). The drawn scale is the
    small-sample correction: the spread of a handful of residuals is itself uncertain,
    and with it a linear fit's resampled slopes follow Student's t with df degrees of
    freedom (as its regression interval does) rather than a normal law."""
    residuals = np.asarray(residuals, dtype=float)
    n = len(residuals)
    df = n - n_params
    if df < 1:
        raise ValueError(f"a residual bootstrap needs more points ({n}) than parameters ({n_params})")
    centred = (residuals - residuals.mean()) * np.sqrt(n / df)
    scale = np.sqrt(df / rng.chisquare(df, size=(n_boot, 1)))
    return scale * centred[rng.integers(0, n, size=(n_boot, n))]


def test_draws(samples: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, samples) weights of ``n_boot`` draws, with replacement, of the test samples."""
    return rng.multinomial(samples, np.full(samples, 1 / samples), size=n_boot) / samples


def redrawn_test_losses(test: list[np.ndarray], n_boot: int, rng: np.random.Generator, weights=None) -> np.ndarray:
    """(n_boot, cells) natural-log geometric-mean losses of the cells, each resample
    scoring every run on the same draw, with replacement, of the test samples (drawn
    here, or given as ``weights``, :func:`test_draws`).
    ``test``: per cell, its realizations' squared errors per test sample (seeds, samples)."""
    if weights is None:
        weights = test_draws(test[0].shape[1], n_boot, rng)
    return np.stack([np.log(weights @ errors.T).mean(axis=1) for errors in test], axis=1)


def cell_test_errors(test_errors: dict, cells: list[list[tuple[str, str]]], of: str = "") -> list[np.ndarray]:
    """Per cell, given as its runs' (run, target) keys, their errors per test sample
    (seeds, samples) from {(run, target): errors} (regscale.testerrors.read). Raises
    ValueError naming a missing run (``of`` says whose runs, e.g. " of the J law")."""
    missing = [key for cell in cells for key in cell if key not in test_errors]
    if missing:
        run, target = missing[0]
        raise ValueError(f"test_errors.npz lacks {len(missing)} runs{of}, e.g. {run} ({target}): remake it")
    return [np.stack([test_errors[key] for key in cell]) for cell in cells]


def _study_test_draws(test_errors: dict | None, n_boot: int, seed: int) -> np.ndarray | None:
    """The test-set draws every fit of a study shares, from the study seed (None without test errors)."""
    if not test_errors:
        return None
    return test_draws(len(next(iter(test_errors.values()))), n_boot, stream(seed, ("test samples",)))


def boot_slopes(x, y, n_boot: int, rng: np.random.Generator, shift: np.ndarray | None = None) -> np.ndarray:
    """Slopes of the OLS line refitted to ``n_boot`` residual-bootstrap resamples of the
    points (x, y) (:func:`residual_resamples`), each resample's points moved by its row
    of ``shift`` (n_boot, points) where given."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    centred = x - x.mean()
    slope = (y - y.mean()) @ centred / (centred @ centred)
    fitted = y.mean() + slope * centred
    resampled = fitted + residual_resamples(y - fitted, 2, n_boot, rng)
    if shift is not None:
        resampled = resampled + shift
    return (resampled - resampled.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)


def power_law(
    x, logs: list[np.ndarray], confidence: float, n_boot: int, rng: np.random.Generator, test=None, weights=None
):
    """Fit eps ~ x^-alpha through cells given as arrays of log10 losses at positions x;
    with ``test`` (per cell, its runs' errors per test sample, (seeds, samples)) the
    bootstrap also redraws the test samples (drawn from ``rng``, or the draws ``weights``).

    Returns the row of fit results and the bootstrap exponents (n_boot,)."""
    x = np.asarray(x, dtype=float)
    means = np.array([values.mean() for values in logs])
    fit = line_fit(np.log10(x), means, confidence)
    shift = None
    if test is not None:
        # What a redraw of the test set changes in each cell's log10 geometric mean.
        shift = redrawn_test_losses(test, n_boot, rng, weights) / np.log(10) - means
    alphas = -boot_slopes(np.log10(x), means, n_boot, rng, shift)
    tail = (1 - confidence) / 2
    row = {
        "alpha": -fit["slope"],
        "alpha_lo": -fit["slope_hi"],
        "alpha_hi": -fit["slope_lo"],
        "alpha_boot_lo": np.quantile(alphas, tail),
        "alpha_boot_hi": np.quantile(alphas, 1 - tail),
        "alpha_se": fit["slope_se"],
        "intercept": fit["intercept"],  # log10 of the loss at x = 1
        "r2": fit["r2"],
        "n_points": fit["n_points"],
        "fit_min": x.min(),
        "fit_max": x.max(),
        "confidence": confidence,
        "n_boot": n_boot,
        "resampled": RESAMPLED[test is not None],
    }
    return row, alphas


def _cells(frame: pd.DataFrame, by: str, test_errors: dict | None = None):
    """Positions (N_D or N_M), the log losses of each cell, in increasing order, and
    with ``test_errors`` ({(run, target): errors per test sample}, regscale.testerrors.read)
    each cell's errors per test sample (seeds, samples), else None."""
    groups = sorted(frame.groupby(by), key=lambda item: item[0])
    x = np.array([value for value, _ in groups], dtype=float)
    logs = [group["log_loss"].to_numpy() for _, group in groups]
    if test_errors is None:
        return x, logs, None
    return x, logs, cell_test_errors(test_errors, [list(zip(g["run"], g["target"])) for _, g in groups])


def _data_fit(series: pd.DataFrame, key: tuple, fit_nd, confidence, n_boot, seed, test_errors=None, draws=None):
    """The data-scaling fit of one series (the row, the bootstrap exponents), or None
    (logged) with too few cells."""
    x, logs, test = _cells(series[in_range(series["n_d"], fit_nd)], "n_d", test_errors)
    if len(x) < MIN_POINTS:
        log.info(
            "no data-scaling fit for %s: %d N_D values in the fit range %s", dict(zip(SERIES, key)), len(x), fit_nd
        )
        return None
    return power_law(x, logs, confidence, n_boot, stream(seed, ("data", *key)), test, draws)


def data_exponents(runs, fit_nd=(None, None), confidence=0.95, n_boot=1000, seed=0, test_errors=None) -> pd.DataFrame:
    """alpha_D for every (arch, size, schedule, model, target) with enough N_D values."""
    rows, draws = [], _study_test_draws(test_errors, n_boot, seed)
    for key, series in usable_runs(runs).groupby(SERIES, sort=True):
        fit = _data_fit(series, key, fit_nd, confidence, n_boot, seed, test_errors, draws)
        if fit is not None:
            arch, size, schedule, model_target, target = key
            rows.append(
                dict(axis="data", arch=arch, size=size, schedule=schedule, model_target=model_target, target=target)
                | {"n_m": int(series["n_m"].iloc[0])}
                | fit[0]
            )
    table = pd.DataFrame(rows, columns=EXPONENT_COLUMNS)
    return table.sort_values(["arch", "schedule", "model_target", "target", "n_m", "size"]).reset_index(drop=True)


def model_exponents(runs, experiments, train, fit_nm=(None, None), confidence=0.95, n_boot=1000, seed=0, test_errors=None):
    """alpha_M for every experiment with enough sizes, per schedule, model, target and N_D."""
    usable, rows, draws = usable_runs(runs), [], _study_test_draws(test_errors, n_boot, seed)
    for name in sorted(experiments):
        spec = experiment(experiments, train, name)
        chosen = select(usable, spec)
        for key, group in chosen.groupby(["schedule", "model_target", "target", "n_d"], sort=True):
            x, logs, test = _cells(group[in_range(group["n_m"], fit_nm)], "n_m", test_errors)
            if len(x) < MIN_POINTS:
                if len(spec["sizes"]) >= MIN_POINTS:
                    log.info("no model-scaling fit for %s %s: %d sizes in the fit range %s", name, key, len(x), fit_nm)
                continue
            if np.log10(x[-1] / x[0]) < MIN_DECADES_N_M:
                # A depth sweep at fixed width barely changes N_M: a slope over it is noise.
                log.info("no model-scaling fit for %s %s: N_M spans only %.0f to %.0f", name, key, x[0], x[-1])
                continue
            schedule, model_target, target, n_d = key
            fit, _ = power_law(x, logs, confidence, n_boot, stream(seed, ("model", name, *key)), test, draws)
            rows.append(
                dict(axis="model", experiment=name, arch=spec["arch"], schedule=schedule)
                | dict(model_target=model_target, target=target, n_d=int(n_d))
                | fit
            )
    return pd.DataFrame(rows, columns=EXPONENT_COLUMNS)


def trend(
    runs, experiments, train, fit_nd=(None, None), confidence=0.95, n_boot=1000, seed=0, test_errors=None
) -> pd.DataFrame:
    """alpha_D = a log10(N_M / 1e6) + b across each experiment's sizes, without the
    largest N_M. The bootstrap refits the line through the bootstrap exponents of the
    data fits (the same resamples as in :func:`data_exponents`), so it carries each
    exponent's uncertainty, the lack of fit of its power law included; the trend line's
    own lack of fit (three or so sizes) shows in its regression interval."""
    usable, rows, draws = usable_runs(runs), [], _study_test_draws(test_errors, n_boot, seed)
    tail = (1 - confidence) / 2
    for name in sorted(experiments):
        spec = experiment(experiments, train, name)
        if len(spec["sizes"]) <= MIN_POINTS:  # too few sizes for a trend without the largest
            continue
        chosen = select(usable, spec)
        for key, group in chosen.groupby(["schedule", "model_target", "target"], sort=True):
            points = []  # (n_m, alpha, bootstrap alphas) per size
            for size, series in group.groupby("size_label"):
                series_key = (spec["arch"], size, *key)
                fit = _data_fit(
                    usable[_matches(usable, series_key)], series_key, fit_nd, confidence, n_boot, seed, test_errors, draws
                )
                if fit is not None:
                    points.append((int(series["n_m"].iloc[0]), fit[0]["alpha"], fit[1]))
            points.sort(key=lambda point: point[0])
            if len(points) < MIN_POINTS + 1:
                log.info("no alpha_D trend for %s %s: %d sizes with an exponent", name, key, len(points))
                continue
            kept = points[:-1]  # the largest N_M is left out, as in the paper
            if np.log10(kept[-1][0] / kept[0][0]) < MIN_DECADES_N_M:
                # A depth sweep at fixed width: N_M hardly moves, a slope in it is noise.
                log.info("no alpha_D trend for %s %s: N_M spans only %d to %d", name, key, kept[0][0], kept[-1][0])
                continue
            x = np.log10(np.array([n_m for n_m, _, _ in kept]) / N_M_REFERENCE)
            fit = line_fit(x, [alpha for _, alpha, _ in kept], confidence)
            boot = np.stack([alphas for _, _, alphas in kept], axis=1)  # (n_boot, sizes)
            centred = x - x.mean()
            slopes = (boot - boot.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
            intercepts = boot.mean(axis=1) - slopes * x.mean()
            schedule, model_target, target = key
            rows.append(
                dict(experiment=name, arch=spec["arch"], schedule=schedule, model_target=model_target, target=target)
                | dict(a=fit["slope"], a_lo=fit["slope_lo"], a_hi=fit["slope_hi"])
                | dict(a_boot_lo=np.quantile(slopes, tail), a_boot_hi=np.quantile(slopes, 1 - tail))
                | dict(b=fit["intercept"], b_lo=fit["intercept_lo"], b_hi=fit["intercept_hi"])
                | dict(b_boot_lo=np.quantile(intercepts, tail), b_boot_hi=np.quantile(intercepts, 1 - tail))
                | dict(r2=fit["r2"], n_points=fit["n_points"], fit_min=kept[0][0], fit_max=kept[-1][0])
                | dict(left_out_n_m=points[-1][0], confidence=confidence, n_boot=n_boot)
                | dict(resampled=RESAMPLED[test_errors is not None])
            )
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def _matches(frame: pd.DataFrame, key: tuple) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(SERIES, key):
        mask &= (frame[column] == value).to_numpy()
    return mask


def fit_all(runs: pd.DataFrame, experiments: dict, train: dict, analysis: dict, seed: int, test_errors=None):
    """exponents.csv (data and model axes) and trend.csv from the runs table; with
    ``test_errors`` (regscale.testerrors.read) the bootstraps redraw the test samples too."""
    common = dict(confidence=analysis["confidence"], n_boot=analysis["bootstrap"], seed=seed, test_errors=test_errors)
    data = data_exponents(runs, fit_nd=analysis["fit_nd"], **common)
    model = model_exponents(runs, experiments, train, fit_nm=analysis["fit_nm"], **common)
    exponents = pd.concat([frame for frame in (data, model) if not frame.empty], ignore_index=True)
    exponents = exponents.reindex(columns=EXPONENT_COLUMNS)
    for column in ("n_d", "n_m", "n_points", "n_boot"):
        exponents[column] = pd.array(exponents[column], dtype="Int64")
    return exponents, trend(runs, experiments, train, fit_nd=analysis["fit_nd"], **common)


def _interval(frame: pd.DataFrame, value: str, lo: str, hi: str) -> pd.Series:
    return frame.apply(lambda row: f"{row[value]:.3g} [{row[lo]:.3g}, {row[hi]:.3g}]", axis=1)


def tables_html(exponents: pd.DataFrame, trend_table: pd.DataFrame) -> str:
    """The exponent and trend tables as one HTML page (for the report)."""
    percent = f"{exponents['confidence'].iloc[0]:.0%}" if len(exponents) else ""
    parts = [
        "<html><head><meta charset='utf-8'><style>"
        "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#eee}"
        "</style></head><body>",
        f"<h3>Scaling exponents (OLS in log-log; {percent} intervals: regression [t] and residual bootstrap)</h3>",
    ]
    if len(exponents):
        shown = exponents.assign(
            alpha_regression=_interval(exponents, "alpha", "alpha_lo", "alpha_hi"),
            alpha_bootstrap=_interval(exponents, "alpha", "alpha_boot_lo", "alpha_boot_hi"),
        )
        columns = ["axis", "experiment", "arch", "size", "n_m", "schedule", "model_target", "target", "n_d"]
        columns += ["alpha_regression", "alpha_bootstrap", "r2", "n_points", "fit_min", "fit_max"]
        parts.append(shown[columns].to_html(index=False, na_rep="", float_format="{:.4g}".format))
    else:
        parts.append("<p>No exponent could be fitted (fewer than 3 points in every series).</p>")
    parts.append("<h3>Trend alpha_D = a_D log10(N_M / 1e6) + b_D (largest N_M left out)</h3>")
    if len(trend_table):
        shown = trend_table.assign(
            a_regression=_interval(trend_table, "a", "a_lo", "a_hi"),
            a_bootstrap=_interval(trend_table, "a", "a_boot_lo", "a_boot_hi"),
            b_regression=_interval(trend_table, "b", "b_lo", "b_hi"),
            b_bootstrap=_interval(trend_table, "b", "b_boot_lo", "b_boot_hi"),
        )
        columns = ["experiment", "arch", "schedule", "model_target", "target", "a_regression", "a_bootstrap"]
        columns += ["b_regression", "b_bootstrap", "r2", "n_points", "fit_min", "fit_max", "left_out_n_m"]
        parts.append(shown[columns].to_html(index=False, na_rep="", float_format="{:.4g}".format))
    else:
        parts.append(f"<p>No trend: it needs at least {MIN_POINTS + 1} model sizes with an exponent.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
