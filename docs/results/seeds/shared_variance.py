"""What do the cells of one study share? (docs/results.md, "Intervals that hold".)
Analysis only, on default studies run with different top-level seeds, for example

    make study && make seed-coverage COVERAGE_SEEDS="2026 2027 2028 2029"
    .venv/bin/python docs/results/seeds/shared_variance.py results/tables \
        results/coverage/seed2026/results/tables ... results/coverage/seed2029/results/tables

For the width sweep's cells (FCN, depth 3, the default schedule) each cell's log10
geometric-mean loss is compared across the studies: its deviation from the mean of
that cell over the studies. The deviations are split three ways, per study:

- offset: the mean over all its cells (a shift of the whole study; it moves no exponent);
- N_D column: the mean over the widths at one N_D, less the offset (shared by every
  width at that N_D: a tilt along N_D, which moves the data exponents);
- rest: what is left (each cell's own).

and their variances printed, with what the seeds alone would give the rest:
the variance of a cell's mean over its realizations, (log_sd / ln 10)^2 / n_r.
"""

import sys

import numpy as np
import pandas as pd


def width_sweep(folder: str) -> pd.DataFrame:
    cells = pd.read_csv(f"{folder}/cells.csv")
    runs = pd.read_csv(f"{folder}/runs.csv", usecols=["arch", "schedule"])
    schedule = runs.loc[runs["arch"] == "fcn", "schedule"].mode()[0]  # the default: most runs use it
    return cells[(cells["arch"] == "fcn") & (cells["depth"] == 3) & (cells["schedule"] == schedule)]


def main(folders: list[str]) -> None:
    frames = [width_sweep(folder).assign(study=k) for k, folder in enumerate(folders)]
    cells = pd.concat(frames)
    cells["y"] = np.log10(cells["geomean"])
    rows = []
    for target, group in cells.groupby("target"):
        table = group.pivot_table(index=["width", "n_d"], columns="study", values="y").dropna()
        deviation = table.sub(table.mean(axis=1), axis=0)
        offset = deviation.mean()
        column = deviation.groupby(level="n_d").mean().sub(offset, axis=1)
        rest = deviation.sub(offset, axis=1) - column.reindex(deviation.index, level="n_d")
        seeds = ((group["log_sd"] / np.log(10)) ** 2 / group["n_r"]).mean()
        total = (deviation**2).to_numpy().mean()
        rows.append(
            {
                "target": target,
                "cells": len(table),
                "studies": table.shape[1],
                "total": total,
                "offset": (offset**2).mean(),
                "column": (column**2).to_numpy().mean(),
                "rest": (rest**2).to_numpy().mean(),
                "seeds_alone": seeds * (1 - 1 / table.shape[1]),  # a deviation from a mean of the studies
                "column_sd_dex": float(np.sqrt((column**2).to_numpy().mean())),
            }
        )
    result = pd.DataFrame(rows)
    for part in ("offset", "column", "rest"):
        result[f"{part}_share"] = result[part] / result["total"]
    pd.set_option("display.width", 160)
    print("variances of log10 cell losses across studies (dex^2); shares of the total")
    print(result.round(5).to_string(index=False))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
