"""Rule aggregate_runs: every realization's metrics.json in one table, results/tables/runs.csv."""

import json
import sys
from pathlib import Path

from regscale import aggregate

sys.stderr = open(snakemake.log[0], "w", buffering=1)
records = []
for folder in snakemake.input.runs:
    for seed in aggregate.job_seeds(folder):
        path = Path(folder) / f"seed~{seed}" / "metrics.json"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: job {folder} has no result for seed {seed}; re-run its training"
            )
        records.append((str(path.parent), json.loads(path.read_text())))
table = aggregate.runs_table(records)
table.to_csv(snakemake.output.runs, index=False)
print(f"{len(records)} runs, {len(table)} rows, {int(table.excluded.sum())} excluded (diverged)", file=sys.stderr)
