"""The runs table: every trained realization's metrics in one frame.

One row per run and predicted target: a model trained on one target gives one row,
a joint model (target~joint) three rows that share the run folder. Every metrics key
becomes a column; the size dict is spread into width, depth, patch, dim and heads,
and test_mse / test_mse_units become the scalar losses of the row's target.

Runs that diverged (metrics say so, or the loss is not a positive finite number) stay
in the table with ``excluded`` set; the statistics leave them out and count them.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .archs import size_columns

SIZE_COLUMNS = size_columns()
REQUIRED = ("arch", "size", "size_label", "schedule", "target", "n_d", "seed", "n_m", "test_mse")
# Column order of runs.csv; keys a metrics file adds beyond these follow at the end.
COLUMNS = [
    "run", "arch", "size_label", *SIZE_COLUMNS, "n_m", "schedule", "model_target", "target", "targets",
    "n_d", "seed", "test_mse", "test_mse_units", "val_mse", "diverged", "excluded",
    "n_train", "n_val", "n_test", "epochs", "steps", "final_lr", "device", "config_digest",
]  # fmt: skip
SEEDS_PATTERN = re.compile(r"seeds~(\d+)-(\d+)/*$")


def job_seeds(folder: str) -> range:
    """The seeds a job folder holds, from its name: .../seeds~0-4 -> 0..4."""
    match = SEEDS_PATTERN.search(str(folder))
    if match is None:
        raise ValueError(f"{folder} is not a job folder (its name must end in seeds~FIRST-LAST)")
    return range(int(match[1]), int(match[2]) + 1)


def _scalar(value, target: str, key: str, run: str):
    """A per-target metric (a dict keyed by target) or a plain scalar."""
    if isinstance(value, dict):
        if target not in value:
            raise ValueError(f"{run}: metrics {key} has no entry for target {target!r} (has {sorted(value)})")
        return value[target]
    return value


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def run_rows(metrics: dict, run: str) -> list[dict]:
    """The rows of one run: one per target its model predicts."""
    missing = [key for key in REQUIRED if key not in metrics]
    if missing:
        raise ValueError(f"{run}: metrics.json lacks the keys {missing}")
    model_target = metrics["target"]
    targets = list(metrics.get("targets") or ([] if model_target == "joint" else [model_target]))
    if not targets:
        raise ValueError(f"{run}: a joint model must list its targets in metrics `targets`")
    unknown_size = sorted(set(metrics["size"]) - set(SIZE_COLUMNS))
    if unknown_size:
        raise ValueError(f"{run}: unknown size keys {unknown_size} (known: {SIZE_COLUMNS})")
    base = {"run": run, "model_target": model_target, "targets": "+".join(targets)}
    base.update({key: metrics["size"].get(key) for key in SIZE_COLUMNS})
    for key, value in metrics.items():
        # wall_s (a timing, in metrics.json) stays out: the same study gives the same table.
        if key in ("size", "target", "targets", "test_mse", "test_mse_units", "val_mse", "wall_s"):
            continue
        if isinstance(value, dict):  # flatten unknown nested keys: key_subkey
            base.update({f"{key}_{sub}": item for sub, item in value.items()})
        elif isinstance(value, list):
            base[key] = "+".join(map(str, value))
        else:
            base[key] = value
    rows = []
    for target in targets:
        row = dict(base, target=target)
        for key in ("test_mse", "test_mse_units", "val_mse"):
            row[key] = _number(_scalar(metrics.get(key, math.nan), target, key, run))
        rows.append(row)
    return rows


def runs_table(records: list[tuple[str, dict]]) -> pd.DataFrame:
    """The runs table from (run folder, metrics) pairs, sorted by cell and seed."""
    if not records:
        raise ValueError("no runs to aggregate: the study lists no training jobs (config `experiments`)")
    rows = [row for run, metrics in records for row in run_rows(metrics, run)]
    table = pd.DataFrame(rows)
    table["diverged"] = table["diverged"].fillna(False).astype(bool) if "diverged" in table else False
    loss = table["test_mse"].to_numpy(float)
    table["excluded"] = table["diverged"] | ~(np.isfinite(loss) & (loss > 0))
    for column in COLUMNS:
        if column not in table:
            table[column] = pd.NA
    for column in SIZE_COLUMNS:
        table[column] = pd.array(table[column], dtype="Int64")
    for column in ("n_d", "seed", "n_m"):
        table[column] = table[column].astype(int)
    extra = sorted(column for column in table.columns if column not in COLUMNS)
    table = table[COLUMNS + extra]
    key = ["arch", "size_label", "schedule", "model_target", "target", "n_d", "seed"]
    duplicated = table.duplicated(key, keep=False)
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise ValueError(
            f"the same realization appears twice: {dict(first[key])} (runs {sorted(set(table[duplicated].run))[:4]})"
        )
    # Models in order of size (N_M), not of their labels' text.
    return table.sort_values(["arch", "n_m", *key[1:]], kind="stable").reset_index(drop=True)


def usable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs the fits rest on (not excluded), with their ``log_loss`` (log10 test MSE).

    Here rather than in regscale.fits so that rule test_errors, which evaluates these
    runs, is not made stale by a change to the fits."""
    if runs.empty:
        raise ValueError("the runs table is empty: nothing to fit")
    used = runs[~runs["excluded"].astype(bool)]
    return used.assign(log_loss=np.log10(used["test_mse"].to_numpy(float)))
