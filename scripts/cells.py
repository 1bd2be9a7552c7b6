"""Rule cell_statistics: per-cell statistics of the test loss (cells.csv) and the
geometric mean of random subsets of realizations (geomean_subsets.csv, Fig. 3e)."""

import sys

import pandas as pd

from regscale import stats

sys.stderr = open(snakemake.log[0], "w", buffering=1)
runs = pd.read_csv(snakemake.input.runs)
cells = stats.cell_statistics(runs)
cells.to_csv(snakemake.output.cells, index=False)
subsets = stats.geomean_subsets(runs, snakemake.params.subsets, snakemake.params.seed)
subsets.to_csv(snakemake.output.subsets, index=False)
excluded = cells[cells.n_excluded > 0]
print(
    f"{len(cells)} cells; {int(cells.n_excluded.sum())} diverged runs left out, in {len(excluded)} cells",
    file=sys.stderr,
)
if len(excluded):
    print(excluded[stats.CELL + ["n_runs", "n_excluded"]].to_string(index=False), file=sys.stderr)
untrained = runs[stats.untrained(runs) & ~runs.excluded.astype(bool)]
if len(untrained):
    print(
        f"{len(untrained)} runs did not learn (validation MSE >= {stats.UNTRAINED_VAL_MSE}, standardized; cells.csv "
        f"n_untrained), kept in the statistics, in {cells.n_untrained.gt(0).sum()} cells:",
        file=sys.stderr,
    )
    print(untrained[stats.CELL + ["seed", "val_mse", "test_mse"]].to_string(index=False), file=sys.stderr)
