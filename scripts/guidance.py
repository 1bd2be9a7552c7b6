"""Rule guidance: the cheapest (N_D, N_M) that reach target errors (guidance.csv)."""

import json
import sys

import pandas as pd

from regscale import guidance, throughput

sys.stderr = open(snakemake.log[0], "w", buffering=1)
laws = pd.read_csv(snakemake.input.laws)
device, rates = throughput.load(snakemake.input.throughput)
table = guidance.guidance(laws, json.loads(snakemake.params.config), device, rates)
table.to_csv(snakemake.output.guidance, index=False)
print(f"{len(table)} targets from {len(laws)} laws, costed on the {device} measurements", file=sys.stderr)
