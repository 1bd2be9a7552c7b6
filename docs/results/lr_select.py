"""A learning rate tuned per cell (docs/results.md, "The forecast of the two largest
N_D"). An exploration on published studies that differ in the FCN learning rate alone
(the same labels, seeds, draws and N_D grid; wide-lr-high's images were simulated anew
and differ from the others' by float rounding, see docs/results.md): each (width, N_D) cell of the width sweep
takes the rate whose runs reach the lowest validation loss (the mean of their log10
validation MSE), as one would tune a rate per training-set size, never looking at the
test set. The tuned cells' two largest N_D are then forecast from the rest, as
forecast.csv does (regscale.forecast: the joint law and the per-width lines), beside
each study's own forecast.

    .venv/bin/python docs/results/lr_select.py docs/results/wide-lr docs/results/wide-epochs-400 ...
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from regscale import forecast, joint
from regscale.config import load

CONFIDENCE, N_BOOT = 0.95, 1000


def width_sweep_cells(folder: Path) -> tuple[float, dict[str, pd.DataFrame]]:
    """The FCN rate of a published study and its width sweep's cells per target (as
    regscale.joint.law_series gives them), each with its mean log10 validation MSE."""
    config = load(folder / "config.yaml")
    runs = pd.read_csv(folder / "runs.csv")
    val_mse = runs.set_index("run")["val_mse"]
    cells = {}
    for series, frame in joint.law_series(runs, config["experiments"], config["train"], config["analysis"]):
        if series["experiment"] == "fcn_width":
            frame["val_log10"] = [np.log10(val_mse.loc[names].to_numpy()).mean() for names in frame["runs"]]
            cells[series["target"]] = frame.set_index(["n_m", "n_d"])
    return config["train"]["archs"]["fcn"]["lr"], cells


def summary(name: str, cells: pd.DataFrame, seed: int) -> str:
    table = forecast.forecast(cells.reset_index(), CONFIDENCE, N_BOOT, np.random.default_rng(seed))
    parts = []
    for fit in ("law", "line"):
        error = table[f"{fit}_error_dex"]
        parts.append(
            f"{fit} {np.median(np.abs(error)):.3f} dex (mean {error.mean():+.3f}), "
            f"{int(table[f'{fit}_inside'].sum())} of {len(table)} inside"
        )
    return f"  {name:>12}: " + "; ".join(parts)


def main(folders: list[Path]) -> None:
    studies = dict(width_sweep_cells(folder) for folder in folders)
    for target in sorted(set.intersection(*(set(cells) for cells in studies.values()))):
        by_rate = {rate: cells[target] for rate, cells in studies.items()}
        common = sorted(set.intersection(*(set(cells.index) for cells in by_rate.values())))
        rates = sorted(by_rate)
        val = pd.DataFrame({rate: by_rate[rate].loc[common, "val_log10"] for rate in rates})
        chosen = val.idxmin(axis=1)
        tuned = pd.DataFrame([by_rate[chosen[cell]].loc[cell] for cell in common], index=val.index)
        print(f"{target}: the rate each cell picks by validation loss (rows n_m, columns n_d)")
        print(chosen.unstack("n_d").to_string())
        test = pd.DataFrame({rate: by_rate[rate].loc[common, "logs"].apply(np.mean) for rate in rates})
        print("  log10 test loss minus the best rate's, per rate (rows n_m, n_d)")
        print((test.sub(test.min(axis=1), axis=0)).round(2).unstack("n_d").to_string())
        print(f"{target}: forecast of the two largest N_D from the rest")
        for seed, rate in enumerate(rates):
            print(summary(f"lr {rate:g}", by_rate[rate].loc[common], seed))
        print(summary("tuned", tuned, len(rates)))


if __name__ == "__main__":
    main([Path(argument) for argument in sys.argv[1:]])
