"""The joint scaling law L(N_D, N_M) = E + A N_M^-a + B N_D^-b (docs/study.md, section 3).

One law per experiment whose sizes span N_M (the FCN width sweep), schedule, model and
target, through the geometric-mean test loss of every (N_M, N_D) cell.

- The fit is robust: the residual of a cell is the natural log of the law over the
  cell's geometric mean, weighed with a Huber loss (quadratic up to HUBER_SCALE, linear
  beyond), as Hoffmann et al. (2022, "Training compute-optimal large language models",
  approach 3) fit theirs. In log space every cell counts the same whatever its loss,
  and one outlying cell cannot drag the law.
- The parameters are fitted as log E, log A, a, log B, b, so E, A and B stay positive;
  a and b are kept in [0, MAX_EXPONENT]. The surface has long flat valleys (E trades
  against the power terms), so the fit starts from a grid and keeps the best. The fits
  run all at once (:func:`refit_many`, a batched Levenberg-Marquardt); one it does not
  settle is redone by scipy's least_squares (:func:`_fit_from`).
- Intervals: a percentile bootstrap over the cells: each resample draws as many cells
  as the law rests on, with replacement, each with its geometric mean (so with its
  seeds' scatter and its own departure from the law), and refits the law from the point
  estimate (a cell drawn k times counts k times). Resampling the seeds within each cell
  alone ignores the lack of fit and gave intervals several times too narrow (the
  mistake Besiroglu et al. 2024 found in Hoffmann et al. 2022). Resampling cells needs
  no model of the errors, and with the 20 cells of a width sweep it is not degenerate
  (the exponents' lines, through five points, resample residuals instead: regscale.fits);
  on laws planted in synthetic studies (tests/test_calibration.py) it held its 95 % as
  well as or better than resampling the law's residuals.
  All cells of a study are scored on one test set, an error they share that no
  resampling of cells sees. Where the study gives each run's error per test sample
  (results/tables/test_errors.npz, regscale.testerrors), each resample also redraws
  the test samples, one draw for all its cells (column ``resampled``).
- Held-out check: the law fitted without the largest N_D predicts that N_D's cells;
  the table reports the error of the prediction in log10 units.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import logsumexp

from .aggregate import usable_runs
from .fits import MIN_DECADES_N_M, cell_test_errors, in_range, redrawn_test_losses
from .stats import experiment, select, stream

log = logging.getLogger(__name__)

PARAMETERS = ("E", "A", "a", "B", "b")
HUBER_SCALE = 0.1  # natural-log residual beyond which a cell counts linearly (10 % off)
MAX_EXPONENT = 4.0
MIN_CELLS = 8  # five parameters: at least three cells to spare, also after the hold-out
MIN_N_D = 3  # N_D values, so that the hold-out leaves at least two
REFIT_ITERATIONS = 200  # Levenberg-Marquardt steps of refit_many at most
REFIT_GTOL = 1e-6  # refit_many has settled a fit when its projected gradient is below this
JOINT_COLUMNS = [
    "experiment", "arch", "schedule", "model_target", "target",
    *(f"{p}{suffix}" for p in PARAMETERS for suffix in ("", "_boot_lo", "_boot_hi")),
    "rms_log10_residual", "n_cells", "n_m_min", "n_m_max", "n_d_min", "n_d_max",
    "held_out_n_d", "held_out_cells", "held_out_log10_error_mean", "held_out_log10_error_max",
    "huber_scale", "confidence", "n_boot", "resampled",
]  # fmt: skip


def mean_log10(cells: pd.DataFrame) -> np.ndarray:
    """log10 of each cell's geometric-mean loss, from its realizations' log10 losses (logs)."""
    return np.array([np.mean(values) for values in cells["logs"]])


def predict(params: dict, n_m, n_d) -> np.ndarray:
    """L(N_D, N_M) of a law given as {E, A, a, B, b}."""
    n_m, n_d = np.asarray(n_m, dtype=float), np.asarray(n_d, dtype=float)
    return params["E"] + params["A"] * n_m ** -params["a"] + params["B"] * n_d ** -params["b"]


def _terms(theta: np.ndarray, log_n_m: np.ndarray, log_n_d: np.ndarray) -> np.ndarray:
    """(3, cells): log E, log(A N_M^-a), log(B N_D^-b)."""
    log_e, log_a, a, log_b, b = theta
    return np.stack(np.broadcast_arrays(log_e, log_a - a * log_n_m, log_b - b * log_n_d))


def _fit_from(theta0: np.ndarray, log_n_m, log_n_d, log_loss):
    # E below a millionth of the smallest loss cannot be told from 0: the bound keeps
    # the fit from walking down that flat valley for ever.
    lower = [log_loss.min() - np.log(1e6), -np.inf, 0.0, -np.inf, 0.0]
    upper = [np.inf, np.inf, MAX_EXPONENT, np.inf, MAX_EXPONENT]

    def residuals(theta):
        return logsumexp(_terms(theta, log_n_m, log_n_d), axis=0) - log_loss

    def jacobian(theta):
        terms = _terms(theta, log_n_m, log_n_d)
        share = np.exp(terms - logsumexp(terms, axis=0))  # d log L / d log(term)
        return np.stack([share[0], share[1], -share[1] * log_n_m, share[2], -share[2] * log_n_d], axis=1)

    return least_squares(
        residuals, np.clip(theta0, lower, upper), jac=jacobian, bounds=(lower, upper), loss="huber", f_scale=HUBER_SCALE
    )


def _starts(log_n_m, log_n_d, log_loss) -> list[np.ndarray]:
    """A grid of starting points: the floor E below the smallest loss, and each power
    term through the median loss at the median size, for several exponents."""
    median_loss, lowest = np.median(log_loss), log_loss.min()
    m_mid, d_mid = np.median(log_n_m), np.median(log_n_d)
    starts = []
    for floor, a, b in itertools.product((lowest - 3.0, lowest - 0.7), (0.2, 0.6, 1.2), (0.2, 0.6, 1.2)):
        starts.append(np.array([floor, median_loss + a * m_mid, a, median_loss + b * d_mid, b]))
    return starts


def fit_law(n_m, n_d, log_loss, start: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """The law through cells at (n_m, n_d) with natural-log losses ``log_loss``: its
    parameters {E, A, a, B, b} and the fitted vector (log E, log A, a, log B, b). From
    ``start`` alone when given, else the best of a grid of starts."""
    log_n_m, log_n_d = np.log(np.asarray(n_m, dtype=float)), np.log(np.asarray(n_d, dtype=float))
    log_loss = np.asarray(log_loss, dtype=float)
    starts = np.array([start] if start is not None else _starts(log_n_m, log_n_d, log_loss))
    fitted = refit(starts, n_m, n_d, np.broadcast_to(log_loss, (len(starts), len(log_loss))))
    costs = _huber(logsumexp(_many_terms(fitted, log_n_m, log_n_d), axis=1) - log_loss).sum(axis=1)
    best = fitted[np.argmin(costs)]
    log_e, log_a, a, log_b, b = best
    return {"E": np.exp(log_e), "A": np.exp(log_a), "a": a, "B": np.exp(log_b), "b": b}, best


def _huber(residual: np.ndarray) -> np.ndarray:
    """least_squares' cost of each residual under loss="huber", f_scale=HUBER_SCALE."""
    size = np.abs(residual)
    return np.where(size <= HUBER_SCALE, 0.5 * residual**2, HUBER_SCALE * size - 0.5 * HUBER_SCALE**2)


def _many_terms(theta: np.ndarray, log_n_m: np.ndarray, log_n_d: np.ndarray) -> np.ndarray:
    """(fits, 3, cells): :func:`_terms` of many parameter vectors (fits, 5) at once."""
    log_e = np.broadcast_to(theta[:, :1], (len(theta), len(log_n_m)))
    return np.stack([log_e, theta[:, 1:2] - theta[:, 2:3] * log_n_m, theta[:, 3:4] - theta[:, 4:5] * log_n_d], axis=1)


def _projected_gradient(theta, terms, log_law, residual, log_n_m, log_n_d, lower, upper, counts):
    """The Huber cost's gradient (zero along a bound it pushes against), its Gauss-Newton
    matrix and the mask of free parameters, for many fits at once."""
    share = np.exp(terms - log_law[:, None])  # d log L / d log(term)
    jac = np.stack([share[:, 0], share[:, 1], -share[:, 1] * log_n_m, share[:, 2], -share[:, 2] * log_n_d], axis=2)
    # IRLS weights of the Huber loss, times the count of each cell
    weight = counts * np.minimum(1.0, HUBER_SCALE / np.maximum(np.abs(residual), 1e-300))
    gradient = np.einsum("fc,fck->fk", weight * residual, jac)
    free = ~(((theta <= lower) & (gradient > 0)) | ((theta >= upper) & (gradient < 0)))
    hessian = np.einsum("fc,fck,fcl->fkl", weight, jac, jac) * (free[:, :, None] & free[:, None, :])
    return np.where(free, gradient, 0.0), hessian, free


def _state(theta: np.ndarray, log_n_m, log_n_d, log_loss: np.ndarray, counts) -> tuple:
    """Terms (fits, 3, cells), log L and residuals (fits, cells), Huber cost (fits,) of many fits."""
    terms = _many_terms(theta, log_n_m, log_n_d)
    top = terms.max(axis=1)
    log_law = top + np.log(np.exp(terms - top[:, None]).sum(axis=1))
    residual = log_law - log_loss
    return terms, log_law, residual, (counts * _huber(residual)).sum(axis=1)


def refit_many(theta0: np.ndarray, n_m, n_d, log_loss, counts=None) -> tuple[np.ndarray, np.ndarray]:
    """Fit the law to many sets of natural-log losses ``log_loss`` (fits, cells) at once,
    each from ``theta0`` (5,) or from its own row of it (fits, 5), each cell counted
    ``counts`` (fits, cells) times (once by default): Levenberg-Marquardt steps on the
    Huber loss and within the bounds of :func:`_fit_from` (a bound the gradient pushes
    against holds its parameter), a step kept only where it lowers the cost. Returns
    the fitted vectors (fits, 5) and the mask of the fits settled (projected gradient at
    most REFIT_GTOL)."""
    log_n_m, log_n_d = np.log(np.asarray(n_m, dtype=float)), np.log(np.asarray(n_d, dtype=float))
    log_loss = np.asarray(log_loss, dtype=float)
    count = len(log_loss)
    counts = np.ones_like(log_loss) if counts is None else np.asarray(counts, dtype=float)
    lower = np.zeros((count, 5)) + [0.0, -np.inf, 0.0, -np.inf, 0.0]
    lower[:, 0] = np.where(counts > 0, log_loss, np.inf).min(axis=1) - np.log(1e6)  # as _fit_from
    upper = np.broadcast_to([np.inf, np.inf, MAX_EXPONENT, np.inf, MAX_EXPONENT], (count, 5))
    theta = np.clip(np.broadcast_to(theta0, (count, 5)), lower, upper)
    damping, settled, pending = np.full(count, 1e-3), np.zeros(count, dtype=bool), np.arange(count)
    for _ in range(REFIT_ITERATIONS):
        terms, log_law, residual, cost = _state(theta[pending], log_n_m, log_n_d, log_loss[pending], counts[pending])
        gradient, hessian, free = _projected_gradient(
            theta[pending], terms, log_law, residual, log_n_m, log_n_d, lower[pending], upper[pending], counts[pending]
        )
        small = np.abs(gradient).max(axis=1) <= REFIT_GTOL
        settled[pending[small]] = True
        going = ~small & (damping[pending] < 1e12)  # a fit whose steps all fail is left unsettled
        pending, gradient, hessian, free = pending[going], gradient[going], hessian[going], free[going]
        cost = cost[going]
        if not len(pending):
            break
        diagonal = np.einsum("fkk->fk", hessian)
        ridge = damping[pending, None] * (diagonal + 1e-12 * diagonal.max(axis=1, keepdims=True) + 1e-300)
        hessian[:, range(5), range(5)] += np.where(free, ridge, 1.0)
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        trial = np.clip(theta[pending] - step, lower[pending], upper[pending])
        better = _state(trial, log_n_m, log_n_d, log_loss[pending], counts[pending])[3] < cost
        theta[pending[better]] = trial[better]
        damping[pending] = np.where(better, np.maximum(damping[pending] / 3, 1e-9), damping[pending] * 4)
    return theta, settled


def refit(theta0: np.ndarray, n_m, n_d, log_loss: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """:func:`refit_many`, with every fit it leaves unsettled redone by least_squares
    (:func:`_fit_from`) from its start, on its cells repeated ``counts`` times."""
    fitted, settled = refit_many(theta0, n_m, n_d, log_loss, counts)
    starts = np.broadcast_to(theta0, fitted.shape)
    counts = np.ones(log_loss.shape, dtype=int) if counts is None else np.asarray(counts).astype(int)
    log_n_m, log_n_d = np.log(np.asarray(n_m, dtype=float)), np.log(np.asarray(n_d, dtype=float))
    for i in np.flatnonzero(~settled):
        repeat = counts[i]
        fitted[i] = _fit_from(starts[i], *(np.repeat(v, repeat) for v in (log_n_m, log_n_d, log_loss[i]))).x
    return fitted


def bootstrap_laws(
    theta: np.ndarray, n_m, n_d, log_loss, n_boot: int, rng: np.random.Generator, test: list | None = None
) -> np.ndarray:
    """(n_boot, 5) laws {E, A, a, B, b} refitted from ``theta`` to resamples of the cells
    at (n_m, n_d) with natural-log losses ``log_loss``: each resample draws as many
    cells as there are, with replacement (a cell drawn k times counts k times). Given
    ``test`` (regscale.fits.redrawn_test_losses), each resample also redraws the test set,
    one draw for all its cells."""
    cells = len(log_loss)
    counts = rng.multinomial(cells, np.full(cells, 1 / cells), size=n_boot)
    if test is None:
        log_loss = np.broadcast_to(np.asarray(log_loss, dtype=float), (n_boot, cells))
    else:
        log_loss = redrawn_test_losses(test, n_boot, rng)
    log_e, log_a, a, log_b, b = refit(theta, n_m, n_d, log_loss, counts).T
    return np.column_stack([np.exp(log_e), np.exp(log_a), a, np.exp(log_b), b])


def joint_law(cells: pd.DataFrame, confidence: float, n_boot: int, rng: np.random.Generator) -> dict:
    """The law, its bootstrap intervals and the held-out check for one series.

    ``cells``: one row per (n_m, n_d) with ``logs``, the array of log10 losses of the
    cell's realizations, and optionally ``test``, their errors per test sample (seeds,
    samples), which the bootstrap then resamples as well. Raises ValueError when the
    cells cannot determine a law."""
    n_d_values = np.sort(cells["n_d"].unique())
    if len(cells) < MIN_CELLS or len(n_d_values) < MIN_N_D or cells["n_m"].nunique() < 2:
        raise ValueError(
            f"a joint law needs at least {MIN_CELLS} cells over {MIN_N_D} N_D and 2 N_M values; "
            f"got {len(cells)} cells, {len(n_d_values)} N_D and {cells['n_m'].nunique()} N_M"
        )
    n_m, n_d = cells["n_m"].to_numpy(float), cells["n_d"].to_numpy(float)
    log_loss = mean_log10(cells) * np.log(10)  # natural log of each geometric mean
    params, theta = fit_law(n_m, n_d, log_loss)
    residual = np.log10(predict(params, n_m, n_d)) - log_loss / np.log(10)

    test = list(cells["test"]) if "test" in cells else None
    boot = bootstrap_laws(theta, n_m, n_d, log_loss, n_boot, rng, test)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, tail, axis=0), np.quantile(boot, 1 - tail, axis=0)

    held_out = n_d == n_d_values[-1]
    kept_law, _ = fit_law(n_m[~held_out], n_d[~held_out], log_loss[~held_out])
    error = np.log10(predict(kept_law, n_m[held_out], n_d[held_out])) - log_loss[held_out] / np.log(10)
    row = {}
    for k, name in enumerate(PARAMETERS):
        row |= {name: params[name], f"{name}_boot_lo": low[k], f"{name}_boot_hi": high[k]}
    return row | {
        "rms_log10_residual": float(np.sqrt(np.mean(residual**2))),
        "n_cells": len(cells),
        "n_m_min": int(n_m.min()),
        "n_m_max": int(n_m.max()),
        "n_d_min": int(n_d.min()),
        "n_d_max": int(n_d.max()),
        "held_out_n_d": int(n_d_values[-1]),
        "held_out_cells": int(held_out.sum()),
        "held_out_log10_error_mean": float(np.mean(np.abs(error))),
        "held_out_log10_error_max": float(np.max(np.abs(error))),
        "huber_scale": HUBER_SCALE,
        "confidence": confidence,
        "n_boot": n_boot,
        "resampled": "cells, test samples" if test is not None else "cells",
    }


def law_series(runs: pd.DataFrame, experiments: dict, train: dict, analysis: dict):
    """(series, cells) of every experiment whose sizes span N_M, per schedule, model and
    target: series as {experiment, arch, schedule, model_target, target}, cells as
    :func:`joint_law` takes them, inside the fit ranges (analysis.fit_nd, fit_nm)."""
    usable = usable_runs(runs)
    for name in sorted(experiments):
        spec = experiment(experiments, train, name)
        chosen = select(usable, spec)
        chosen = chosen[in_range(chosen["n_d"], analysis["fit_nd"]) & in_range(chosen["n_m"], analysis["fit_nm"])]
        for (schedule, model_target, target), group in chosen.groupby(["schedule", "model_target", "target"], sort=True):
            n_m = group["n_m"].unique()
            if len(n_m) < 2 or np.log10(n_m.max() / n_m.min()) < MIN_DECADES_N_M:
                log.info("no joint law for %s %s: N_M does not vary enough (%s)", name, target, sorted(n_m))
                continue
            by_cell = group.groupby(["n_m", "n_d"])
            cells = by_cell["log_loss"].apply(np.asarray).rename("logs").reset_index()
            if "run" in group:  # the realizations' folders, in the order of logs
                cells["runs"] = by_cell["run"].apply(list).to_numpy()
            series = dict(experiment=name, arch=spec["arch"], schedule=schedule, model_target=model_target, target=target)
            yield series, cells


def with_test_errors(cells: pd.DataFrame, target: str, test_errors: dict) -> pd.DataFrame:
    """``cells`` with a ``test`` column: each cell's errors per test sample, from
    {(run, target): errors} (regscale.testerrors.read)."""
    keys = [[(run, target) for run in runs] for runs in cells["runs"]]
    return cells.assign(test=cell_test_errors(test_errors, keys, of=f" of the {target} law"))


def joint_laws(
    runs: pd.DataFrame, experiments: dict, train: dict, analysis: dict, seed: int, test_errors: dict | None = None
) -> pd.DataFrame:
    """joint_law.csv: one law per series of :func:`law_series`; series that cannot
    determine one are logged and skipped. With ``test_errors`` (regscale.testerrors.read)
    the intervals resample the test samples as well as the cells."""
    rows = []
    for series, cells in law_series(runs, experiments, train, analysis):
        if test_errors is not None:
            cells = with_test_errors(cells, series["target"], test_errors)
        key = tuple(series.values())
        try:
            law = joint_law(cells, analysis["confidence"], analysis["bootstrap"], stream(seed, ("joint", *key[:1], *key[2:])))
        except ValueError as error:
            log.info("no joint law for %s: %s", key, error)
            continue
        rows.append(series | law)
    return pd.DataFrame(rows, columns=JOINT_COLUMNS)
