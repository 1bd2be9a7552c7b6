"""Which law forecasts the two largest N_D of a width sweep best? (docs/results.md, "The
forecast of the two largest N_D".) An exploration on the published cells, not part of
the pipeline: for each target of the FCN width sweep (depth 3, plateau schedule), the
cells at the two largest N_D are left out and predicted from the rest by

- the per-width lines: log10 L linear in log10 N_D, one line per width (as forecast.csv);
- the interaction law: log10 L = c0 + c1 x + c2 m + c3 x m with x = log10 N_D and
  m = log10 N_M, a data exponent that moves linearly with log N_M (the paper's trend);

both by least squares on the cells' geometric means. forecast.csv's additive joint law
(E + A N_M^-a + B N_D^-b) is read from the published forecast.csv. Prints the median
absolute error (dex) and the mean error (negative: predicted too low).

Then, on every N_D of the widest sweeps published (in width, and in N_D), each width's
curve fitted with a floor, L = E + B N_D^-b (least squares in log L), beside its
straight line: a floor shared by the widths would be the data's, one that falls with
width the model's.

    .venv/bin/python docs/results/forecast_laws.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

HERE = Path(__file__).parent
HELD_OUT = 2


def width_sweep(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[(cells.arch == "fcn") & (cells.depth == 3) & (cells.schedule == "plateau")]


def interaction_design(frame: pd.DataFrame) -> np.ndarray:
    """Columns 1, x, m, x m of the interaction law, x = log10 N_D, m = log10 N_M."""
    x, m = np.log10(frame.n_d.to_numpy(float)), np.log10(frame.n_m.to_numpy(float))
    return np.column_stack([np.ones_like(x), x, m, x * m])


def interaction_errors(kept: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    coefficients, *_ = np.linalg.lstsq(interaction_design(kept), np.log10(kept.geomean), rcond=None)
    return interaction_design(new) @ coefficients - np.log10(new.geomean.to_numpy())


def line_errors(kept: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    errors = []
    for width, cells in new.groupby("width"):
        fit = kept[kept.width == width]
        slope, intercept = np.polyfit(np.log10(fit.n_d), np.log10(fit.geomean), 1)
        errors += list(intercept + slope * np.log10(cells.n_d) - np.log10(cells.geomean))
    return np.array(errors)


def floor_fits(cells: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for width, curve in cells.groupby("width"):
        n_d, log_loss = curve.n_d.to_numpy(float), np.log(curve.geomean.to_numpy())

        def residual(p):
            return np.logaddexp(p[0], p[1] - p[2] * np.log(n_d)) - log_loss

        starts = [[log_e, 2.0, 1.2] for log_e in (-12.0, -10.0, -9.0, -8.0)]
        fit = min((least_squares(residual, x0, bounds=([-30, -20, 0], [5, 40, 4])) for x0 in starts), key=lambda r: r.cost)
        line = np.polyfit(np.log(n_d), log_loss, 1)
        rows.append((width, np.exp(fit.x[0]), fit.x[2], 2 * fit.cost, np.sum((np.polyval(line, np.log(n_d)) - log_loss) ** 2),
                     curve.geomean.min()))  # fmt: skip
    return pd.DataFrame(rows, columns=["width", "floor_E", "b", "rss_with_floor", "rss_line", "smallest_loss"])


def main() -> None:
    rows = []
    for study in ("wide", "wide-epochs", "wide-epochs-400", "wide-widths", "wide-32k"):
        cells = width_sweep(pd.read_csv(HERE / study / "cells.csv"))
        published = pd.read_csv(HERE / study / "forecast.csv")
        for target, sweep in cells.groupby("target"):
            held = sorted(sweep.n_d.unique())[-HELD_OUT:]
            kept, new = sweep[~sweep.n_d.isin(held)], sweep[sweep.n_d.isin(held)]
            additive = published[(published.experiment == "fcn_width") & (published.target == target)].law_error_dex
            for law, errors in (
                ("additive joint law", additive.to_numpy()),
                ("per-width lines", line_errors(kept, new)),
                ("interaction law", interaction_errors(kept, new)),
            ):
                rows.append((study, target, law, np.median(np.abs(errors)), errors.mean(), len(errors)))
    table = pd.DataFrame(rows, columns=["study", "target", "law", "median_abs_dex", "mean_dex", "cells"])
    print(table.round(3).to_string(index=False))
    for study in ("wide-widths", "wide-32k"):
        print(f"\n{study}, J: each width's curve with a floor (natural-log residuals)")
        cells = width_sweep(pd.read_csv(HERE / study / "cells.csv"))
        print(floor_fits(cells[cells.target == "J"]).to_string(index=False, float_format="%.3g"))


if __name__ == "__main__":
    main()
