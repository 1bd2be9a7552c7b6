"""Per-sample test errors of the runs the fits rest on (results/tables/test_errors.npz).

Why: every run of a study is scored on the same fixed test set, so the draw of that set
is an error that all cells share. It does not shift them alike: at large N_D the loss
gathers on the few hardest test samples, so another draw of the test set tilts the loss
along N_D, and a fit absorbs the tilt into its exponents. Resampling the cells
(regscale.joint) or a line's residuals (regscale.fits) cannot see it. With each run's
error on each test sample, a bootstrap resamples the test samples too, the same draw
for every cell of a resample. On the default study this widened the joint law's b
intervals 1.5 to 2.4 times, and brought the width sweep's data exponents' cross-seed
coverage from 85 to 94 % (docs/results.md, "Intervals that hold").

The models' inputs and targets are standardized here as regscale.train.prepare does it,
with the statistics stored in model.pt (see train.load_model); a shared helper would
have to live in train.py, whose every change makes all training jobs stale.

The file holds, per (run, target) row of the runs table that the fits use
(regscale.aggregate.usable_runs: those not excluded):

- ``run``, ``target``: the row's keys (run is the realization's folder);
- ``sample``: the test samples' ids (shard table column ``sample``), in test-set order;
- ``errors``: (rows, test samples) float64, the squared error of the standardized
  target, scaled so that each row's mean is the run's ``test_mse`` exactly.

The models are evaluated on the CPU in float32. A run trained on a CPU gives back its
test MSE to float rounding; one trained on CUDA (bf16 autocast) to a few percent. A
larger gap means the model and its metrics do not belong together, and is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import shards
from .train import load_model

BATCH = 512  # test images per forward pass
TOLERANCE = {"cpu": 1e-4, "cuda": 0.1}  # relative gap of the recomputed test MSE, by device kind


def squared_errors(model_path: Path, images: np.ndarray, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """{target: (n,) squared standardized error per sample} of the model in ``model_path``."""
    model, info = load_model(model_path)
    shift = np.array(info["input_mean"])[:, None, None]
    scale = np.array(info["input_std"])[:, None, None]
    truth = (table[info["targets"]].to_numpy(float) - np.array(info["mean"])) / np.array(info["std"])
    predicted = []
    with torch.no_grad():
        for lo in range(0, len(images), BATCH):
            block = (np.asarray(images[lo : lo + BATCH], dtype=np.float64) - shift) / scale
            predicted.append(model(torch.from_numpy(block.astype(np.float32))).double().numpy())
    errors = (np.concatenate(predicted) - truth) ** 2
    return {target: errors[:, k] for k, target in enumerate(info["targets"])}


def test_errors(runs: pd.DataFrame, test_files: list[dict], log=print) -> dict[str, np.ndarray]:
    """The arrays of test_errors.npz for the rows of ``runs`` (not excluded ones)."""
    images, table = shards.load(test_files, int(runs["n_test"].max()) if len(runs) else None)
    rows, errors = [], []
    for k, (run, group) in enumerate(runs.groupby("run", sort=True)):
        if k % 100 == 0:
            log(f"test errors: run {k + 1} of {runs['run'].nunique()}")
        n_test = int(group["n_test"].iloc[0])
        per_target = squared_errors(Path(run) / "model.pt", images[:n_test], table.iloc[:n_test])
        for row in group.itertuples():
            error = per_target[row.target]
            kind = "cuda" if str(row.device).startswith("cuda") else "cpu"
            gap = abs(error.mean() / row.test_mse - 1)
            if gap > TOLERANCE[kind]:
                raise ValueError(
                    f"{run}: its model.pt gives a test MSE of {error.mean():.6g} for {row.target} but its "
                    f"metrics.json says {row.test_mse:.6g} ({gap:.1%} apart): model and metrics are from "
                    "different trainings; re-run its training job"
                )
            rows.append((run, row.target))
            errors.append(error * (row.test_mse / error.mean()))
    if len({len(e) for e in errors}) > 1:
        raise ValueError("the runs were tested on test sets of different sizes (n_test); one study has one")
    return {
        "run": np.array([r for r, _ in rows], dtype=str),
        "target": np.array([t for _, t in rows], dtype=str),
        "sample": table["sample"].to_numpy(str)[: len(errors[0]) if errors else 0],
        "errors": np.array(errors, dtype=np.float64).reshape(len(rows), -1),
    }


def write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def read(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """{(run, target): per-sample errors} from a test_errors.npz."""
    with np.load(path) as data:
        return {(r, t): e for r, t, e in zip(data["run"], data["target"], data["errors"])}

