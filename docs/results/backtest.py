"""Do the joint law's forecast intervals hold? (docs/results.md, "The forecast of the two
largest N_D".) forecast.csv's forecast of every published study recomputed from its
committed runs table and config with today's code (regscale.forecast), which gives the
law's forecast two 95 % intervals: the bootstrap one, which assumes the law, and the
backtest one, the point forecast plus or minus the law's largest miss at the same
horizon inside the kept cells. Writes docs/results/backtest.csv (one row per forecast
cell) and prints, per study, how often each interval held the observation and its
median half-width in dex.

    .venv/bin/python docs/results/backtest.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

from regscale import forecast
from regscale.config import load

HERE = Path(__file__).parent
COLUMNS = ["study", "target", "n_m", "n_d", "horizon", "observed_log10", "law_log10", "law_error_dex",
           "law_lo", "law_hi", "law_inside", "law_backtest_lo", "law_backtest_hi", "law_backtest_inside",
           "n_backtest", "line_error_dex", "line_inside"]  # fmt: skip


def study_forecast(folder: Path) -> pd.DataFrame:
    config = load(folder / "config.yaml")
    runs = pd.read_csv(folder / "runs.csv")
    train = {key: config["train"][key] for key in ("targets", "n_d", "seeds", "schedule", "joint")}
    table = forecast.forecasts(runs, config["experiments"], train, config["analysis"], config["seed"])
    return table[(table["experiment"] == "fcn_width") & (table["n_backtest"] > 0)].assign(study=folder.name)


def summary(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(
        {
            "cells": len(frame),
            "law_error_dex": frame["law_error_dex"].abs().median(),
            "bootstrap_held": frame["law_inside"].mean(),
            "bootstrap_half_width": ((frame["law_hi"] - frame["law_lo"]) / 2).median(),
            "backtest_held": frame["law_backtest_inside"].astype(float).mean(),
            "backtest_half_width": ((frame["law_backtest_hi"] - frame["law_backtest_lo"]) / 2).median(),
            "line_held": frame["line_inside"].mean(),
        }
    )


if __name__ == "__main__":
    studies = sorted(path.parent for path in HERE.glob("*/provenance.yaml"))
    table = pd.concat([study_forecast(folder) for folder in studies], ignore_index=True)[COLUMNS]
    table.to_csv(HERE / "backtest.csv", index=False, float_format="%.6g")
    rows = {study: summary(frame) for study, frame in table.groupby("study")}
    rows["all"] = summary(table)
    for horizon, frame in table.groupby("horizon"):
        rows[f"all, horizon {horizon}"] = summary(frame)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.precision", 3):
        print(pd.DataFrame(rows).T)
