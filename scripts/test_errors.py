"""Rule test_errors: each fitted run's error per test sample (results/tables/test_errors.npz)."""

import sys

import pandas as pd

from regscale import aggregate, testerrors

sys.stderr = open(snakemake.log[0], "w", buffering=1)
runs = aggregate.usable_runs(pd.read_csv(snakemake.input.runs))  # the runs the fits rest on
test_files = [
    {"images": images, "table": table, "meta": meta}
    for images, table, meta in zip(snakemake.input.images, snakemake.input.tables, snakemake.input.metas)
]
arrays = testerrors.test_errors(runs, test_files, log=lambda line: print(line, file=sys.stderr))
testerrors.write(snakemake.output.errors, arrays)
print(f"{len(arrays['run'])} rows x {arrays['errors'].shape[1]} test samples", file=sys.stderr)
