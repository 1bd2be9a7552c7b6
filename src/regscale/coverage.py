"""Do the intervals hold when the study is rerun with another seed?

The same config run with different top-level seeds (other samples, other
initializations) gives a set of studies. For every estimate that all of them report
(each exponent of exponents.csv, the trend's a and b, the joint law's a and b) and every
ordered pair of studies (i, j), i != j, this checks whether study i's estimate falls
inside study j's interval.

What to expect: if every interval were exactly a 95 % interval for the true value and
the estimates were independent, normal and equally precise, the difference of two
estimates would have twice an estimate's variance, and study i's estimate would fall in
study j's interval P(|Z| < 1.96 / sqrt 2) = 83 % of the time, not 95 %. A
cross-coverage near 83 % is what calibrated intervals give; far below it, the intervals
are too narrow for how much a rerun moves the estimate. The check that calibrated
intervals pass 95 % of the time is the difference's: two estimates are consistent when
they differ by at most their intervals' half-widths added in quadrature (the interval
of a difference of two independent estimates); that share is reported too.

    python -m regscale.coverage results results/coverage/seed~2026 results/coverage/seed~2027

prints the coverage per kind of estimate and writes every comparison to --output.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

EXPECTED = float(2 * norm.cdf(norm.ppf(0.975) / 2**0.5) - 1)  # 0.834: see the module docstring
EXPONENT_KEY = ["axis", "experiment", "arch", "size", "schedule", "model_target", "target", "n_d"]
LAW_KEY = ["experiment", "arch", "schedule", "model_target", "target"]
# (table file, key columns, estimate, interval columns per interval kind)
ESTIMATES = [
    ("exponents.csv", EXPONENT_KEY, "alpha", {"bootstrap": ("alpha_boot_lo", "alpha_boot_hi"), "regression": ("alpha_lo", "alpha_hi")}),
    ("trend.csv", LAW_KEY, "a", {"bootstrap": ("a_boot_lo", "a_boot_hi"), "regression": ("a_lo", "a_hi")}),
    ("trend.csv", LAW_KEY, "b", {"bootstrap": ("b_boot_lo", "b_boot_hi"), "regression": ("b_lo", "b_hi")}),
    ("joint_law.csv", LAW_KEY, "a", {"bootstrap": ("a_boot_lo", "a_boot_hi")}),
    ("joint_law.csv", LAW_KEY, "b", {"bootstrap": ("b_boot_lo", "b_boot_hi")}),
]  # fmt: skip


def _estimates(table: pd.DataFrame, key: list[str], value: str, low: str, high: str) -> pd.DataFrame:
    """One row per estimate: its key as one string, the value and the interval."""
    frame = table.copy()
    frame["key"] = ["|".join("" if pd.isna(v) else str(v) for v in row) for row in frame[key].itertuples(index=False)]
    return frame.set_index("key")[[value, low, high]].set_axis(["value", "lo", "hi"], axis=1)


def comparisons(studies: dict[str, Path]) -> pd.DataFrame:
    """Every (estimate, interval kind, ordered pair of studies) the studies share: whether
    the first study's estimate lies inside the second's interval. ``studies``: name ->
    the study's results/tables folder."""
    rows = []
    for table_name, key, value, intervals in ESTIMATES:
        tables = {name: pd.read_csv(folder / table_name) for name, folder in studies.items()}
        for kind, (low, high) in intervals.items():
            frames = {name: _estimates(table, key, value, low, high) for name, table in tables.items()}
            shared = sorted(set.intersection(*(set(frame.index) for frame in frames.values())))
            for estimate_of, interval_of in itertools.permutations(frames, 2):
                point, interval = frames[estimate_of].loc[shared], frames[interval_of].loc[shared]
                inside = (interval["lo"] <= point["value"]) & (point["value"] <= interval["hi"])
                # Half-widths added in quadrature: the difference's interval.
                combined = np.hypot(point["hi"] - point["lo"], interval["hi"] - interval["lo"]) / 2
                consistent = (point["value"] - interval["value"]).abs() <= combined
                rows.append(
                    pd.DataFrame(
                        {
                            "table": table_name, "estimate": value, "interval": kind, "key": shared,
                            "estimate_of": estimate_of, "interval_of": interval_of,
                            "value": point["value"].to_numpy(), "lo": interval["lo"].to_numpy(),
                            "hi": interval["hi"].to_numpy(), "inside": inside.to_numpy(),
                            "consistent": consistent.to_numpy(),
                        }
                    )
                )  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per table, estimate and interval kind: the comparisons, the share of estimates
    inside the other study's interval (coverage) and the share of pairs whose difference
    lies within their half-widths added in quadrature (consistent)."""
    grouped = table.groupby(["table", "estimate", "interval"], sort=False)
    return grouped.agg(
        comparisons=("inside", "size"), coverage=("inside", "mean"), consistent=("consistent", "mean")
    ).reset_index()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="+", type=Path, help="work folders of the studies (each holding results/tables)")
    parser.add_argument("--output", type=Path, help="CSV of every comparison")
    args = parser.parse_args(argv)
    if len(args.studies) < 2:
        parser.error("cross-coverage needs at least two studies")
    folders = {}
    for study in args.studies:
        folder = study / "results" / "tables" if (study / "results" / "tables").is_dir() else study / "tables"
        if not (folder / "exponents.csv").is_file():
            parser.error(f"{study}: no results/tables/exponents.csv (has the study run to the end?)")
        folders[str(study)] = folder
    table = comparisons(folders)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False)
    print(summary(table).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"(exactly calibrated 95 % intervals: coverage about {EXPECTED:.3f}, consistent about 0.95; see --help)")


if __name__ == "__main__":
    main()
