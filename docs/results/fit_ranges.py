"""Does the joint law forecast better from a narrower range? (docs/results.md, "The
forecast of the two largest N_D".) An exploration on published studies: the forecast of
forecast.csv (regscale.forecast: the joint law refitted without the two largest N_D,
and each width's line) redone with the fit's range cut from below, in N_D (leaving out
the small training sets, where the loss may not yet follow its asymptotic law) and in
width (leaving out the narrow nets, whose curves the law's model term turns into a
floor). The analysis.fit_nd and fit_nm settings of a study do the same.

    .venv/bin/python docs/results/fit_ranges.py docs/results/wide docs/results/wide-32k ...
"""

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from regscale import forecast, joint
from regscale.config import load

CONFIDENCE, N_BOOT = 0.95, 1000
LOWEST_N_D = (None, 256, 512, 1024)
NARROWEST = 3  # cut below each of the first three widths in turn


def width_sweep_forecast(runs: pd.DataFrame, config: dict, analysis: dict) -> pd.DataFrame:
    """forecast.csv's rows of the FCN width sweep, every target, under ``analysis``."""
    tables = []
    for series, cells in joint.law_series(runs, config["experiments"], config["train"], analysis):
        if series["experiment"] == "fcn_width":
            rng = np.random.default_rng(len(tables))
            tables.append(forecast.forecast(cells, CONFIDENCE, N_BOOT, rng).assign(target=series["target"]))
    return pd.concat(tables)


def line(label: str, table: pd.DataFrame) -> str:
    per_target = ", ".join(
        f"{target} {np.median(np.abs(rows.law_error_dex)):.2f} ({rows.law_inside.mean():.0%})"
        for target, rows in table.groupby("target")
    )
    return (
        f"  {label:<22} law {np.median(np.abs(table.law_error_dex)):.3f} dex, {table.law_inside.mean():4.0%} inside"
        f" [{per_target}]; lines {np.median(np.abs(table.line_error_dex)):.3f} dex, {table.line_inside.mean():4.0%} inside"
    )


def main(folders: list[Path]) -> None:
    logging.disable(logging.INFO)  # the skipped series are expected here
    for folder in folders:
        config = load(folder / "config.yaml")
        runs = pd.read_csv(folder / "runs.csv")
        print(folder.name)
        for lowest in LOWEST_N_D:
            analysis = dict(config["analysis"], fit_nd=[lowest, None])
            print(line(f"N_D >= {lowest or 'all'}", width_sweep_forecast(runs, config, analysis)))
        widths = runs[runs.arch == "fcn"].groupby("width").n_m.first().sort_index()
        for width, n_m in list(widths.items())[1:NARROWEST]:
            analysis = dict(config["analysis"], fit_nm=[int(n_m), None])
            table = width_sweep_forecast(runs, config, analysis)
            print(line(f"widths >= {width:g} ({table.n_m.nunique()})", table))


if __name__ == "__main__":
    main([Path(argument) for argument in sys.argv[1:]])
