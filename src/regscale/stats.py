"""Statistics of the test loss over the realizations (seeds) of each cell.

A cell is one architecture and size, schedule, model (target or joint), predicted
target and N_D. Its summary statistic is the geometric mean of the test MSE over the
realizations (the paper's choice: losses spread over orders of magnitude and their
logarithms are close to normal); the arithmetic mean and the median are given beside
it, with the standard errors of both means and the median absolute deviation.

Also the paper's Fig. 3e: the geometric mean of random subsets of n realizations,
averaged over subsets, against n.

Runs that did not learn are counted (n_untrained): their best validation MSE
(standardized, so predicting the prior's mean scores about 1) is UNTRAINED_VAL_MSE or
more. Of the 3,969 runs published in docs/results/, none lies between 0.58 and 0.9; the
11 above are FCNs of width 4 (one of width 8, at lr 3e-3) with a test MSE of 0.54 to
1.05, in cells whose other runs learned. They stay in the statistics, since the paper
keeps every realization and its geometric mean over N_r = 100 averages such failures;
but among five realizations one of them raised its cell's geometric mean by up to 0.64
dex, so the cells say how many they hold. (Counted here, not flagged in runs.csv, so
that the runs table and the test errors evaluated from it do not go stale.)
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .aggregate import SIZE_COLUMNS
from .study import size_label

CELL = ["arch", "size_label", "schedule", "model_target", "target", "n_d"]
COUNT_COLUMNS = ["n_runs", "n_excluded", "n_untrained"]
STAT_COLUMNS = [
    *COUNT_COLUMNS, "n_r", "mean", "sem", "geomean", "geomean_se", "geomean_lo", "geomean_hi",
    "log_sd", "median", "mad", "geomean_units",
]  # fmt: skip
UNTRAINED_VAL_MSE = 0.9  # standardized validation MSE; the prior's mean scores about 1
SUBSET_COLUMNS = ["n_r", "n", "n_subsets", "geomean_mean", "geomean_sd"]


def stream(seed: int, key) -> np.random.Generator:
    """A random stream for one cell or fit, keyed by the study seed and the key's text, so
    that adding cells to a study leaves the draws of the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32("|".join(map(str, key)).encode())])


def _check_runs(runs: pd.DataFrame) -> None:
    if runs.empty:
        raise ValueError("the runs table is empty: no trained runs to summarise (is results/runs/ filled?)")
    missing = [column for column in [*CELL, "seed", "n_m", "test_mse", "excluded"] if column not in runs]
    if missing:
        raise ValueError(f"the runs table lacks the columns {missing}")


def untrained(runs: pd.DataFrame) -> np.ndarray:
    """Which runs did not learn: best validation MSE at or above UNTRAINED_VAL_MSE (none
    where the runs table has no validation MSE)."""
    if "val_mse" not in runs:
        return np.zeros(len(runs), bool)
    return pd.to_numeric(runs["val_mse"], errors="coerce").to_numpy(float) >= UNTRAINED_VAL_MSE


def summarize(losses: np.ndarray) -> dict:
    """The statistics of one cell's usable losses (positive and finite)."""
    losses = np.asarray(losses, dtype=float)
    n = len(losses)
    if n == 0:
        return {key: np.nan for key in STAT_COLUMNS[len(COUNT_COLUMNS) + 1 :]} | {"n_r": 0}
    logs = np.log(losses)
    log_sd = logs.std(ddof=1) if n > 1 else np.nan
    log_se = log_sd / np.sqrt(n)
    geomean = np.exp(logs.mean())
    median = np.median(losses)
    return {
        "n_r": n,
        "mean": losses.mean(),
        "sem": losses.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan,
        "geomean": geomean,
        # Standard error of the mean log, carried to the geometric mean: the band
        # geomean x/÷ exp(se) is symmetric on a log axis; geomean_se is its linear size.
        "geomean_se": geomean * log_se,
        "geomean_lo": geomean * np.exp(-log_se),
        "geomean_hi": geomean * np.exp(log_se),
        "log_sd": log_sd,
        "median": median,
        "mad": np.median(np.abs(losses - median)),
    }


def cell_statistics(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: the model's size columns and N_M, the number of runs, of runs
    excluded (diverged), of runs used that did not learn (:func:`untrained`) and of
    realizations used (n_r), then the statistics of the standardized test MSE
    and the geometric mean in parameter units."""
    _check_runs(runs)
    rows = []
    for key, cell in runs.groupby(CELL, sort=True):
        n_m = cell["n_m"].unique()
        if len(n_m) != 1:
            raise ValueError(f"cell {dict(zip(CELL, key))} mixes model sizes N_M = {sorted(n_m)}")
        used = cell[~cell["excluded"].astype(bool)]
        row = dict(zip(CELL, key))
        row.update({column: cell[column].iloc[0] for column in SIZE_COLUMNS if column in cell})
        row.update(n_m=int(n_m[0]), n_runs=len(cell), n_excluded=len(cell) - len(used))
        row["n_untrained"] = int(untrained(used).sum())
        row.update(summarize(used["test_mse"].to_numpy(float)))
        units = used["test_mse_units"].to_numpy(float) if "test_mse_units" in used else np.array([])
        units = units[np.isfinite(units) & (units > 0)]
        row["geomean_units"] = np.exp(np.log(units).mean()) if len(units) else np.nan
        rows.append(row)
    columns = [*CELL, *[c for c in SIZE_COLUMNS if c in runs], "n_m", *STAT_COLUMNS]
    table = pd.DataFrame(rows)[columns].sort_values(["arch", "n_m", *CELL[1:]], kind="stable")
    for column in SIZE_COLUMNS:
        if column in table:
            table[column] = pd.array(table[column], dtype="Int64")
    return table.reset_index(drop=True)


def geomean_subsets(runs: pd.DataFrame, n_subsets: int = 50, seed: int = 0) -> pd.DataFrame:
    """Fig. 3e: for each cell and each n = 1 .. n_r, the geometric means of
    ``n_subsets`` random subsets of n realizations (drawn without replacement), their
    average (geomean_mean) and standard deviation (geomean_sd)."""
    _check_runs(runs)
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be at least 1, got {n_subsets}")
    rows = []
    usable = runs[~runs["excluded"].astype(bool)]
    for key, cell in usable.groupby(CELL, sort=True):
        logs = np.log(cell.sort_values("seed")["test_mse"].to_numpy(float))
        n_r = len(logs)
        # Each row of `order` is a random permutation; its first n entries are a subset.
        order = stream(seed, key).random((n_subsets, n_r)).argsort(axis=1)
        for n in range(1, n_r + 1):
            means = np.exp(logs[order[:, :n]].mean(axis=1))
            rows.append(
                dict(zip(CELL, key))
                | {
                    "n_m": int(cell["n_m"].iloc[0]),
                    "n_r": n_r,
                    "n": n,
                    "n_subsets": n_subsets,
                    "geomean_mean": means.mean(),
                    "geomean_sd": means.std(ddof=1) if n_subsets > 1 else np.nan,
                }
            )
    table = pd.DataFrame(rows, columns=[*CELL, "n_m", *SUBSET_COLUMNS])
    return table.sort_values(["arch", "n_m", *CELL[1:], "n"], kind="stable").reset_index(drop=True)


def experiment(experiments: dict, train: dict, name: str) -> dict:
    """What one experiment of the config trains, with the defaults of ``train`` filled:
    arch, size labels, schedules, model targets, predicted targets, N_D and seeds."""
    if name not in experiments:
        raise KeyError(f"experiment {name!r} is not in the config (have {sorted(experiments)})")
    spec = experiments[name]
    targets = list(spec.get("targets", train["targets"]))
    return {
        "name": name,
        "arch": spec["arch"],
        "sizes": [size_label(spec["arch"], size) for size in spec["sizes"]],
        "schedules": list(spec.get("schedules", [train["schedule"]])),
        "model_targets": ["joint"] if train.get("joint") else targets,
        "targets": targets,
        "n_d": list(spec.get("n_d", train["n_d"])),
        "seeds": spec.get("seeds", train.get("seeds")),
    }


def select(frame: pd.DataFrame, spec: dict, schedules: list[str] | None = None) -> pd.DataFrame:
    """The rows of a runs, cells or subsets table that belong to an experiment
    (:func:`experiment`), optionally only some of its schedules."""
    keep = (
        (frame["arch"] == spec["arch"])
        & frame["size_label"].isin(spec["sizes"])
        & frame["schedule"].isin(schedules or spec["schedules"])
        & frame["model_target"].isin(spec["model_targets"])
        & frame["target"].isin(spec["targets"])
        & frame["n_d"].isin(spec["n_d"])
    )
    return frame[keep]
