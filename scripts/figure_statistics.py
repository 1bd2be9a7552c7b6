"""Rule figure_statistics: Fig. 3, loss distributions over realizations and the geometric mean vs their number (PNG and PDF)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale import figures

sys.stderr = open(snakemake.log[0], "w", buffering=1)
params = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")}
figure = figures.statistics(
    pd.read_csv(snakemake.input.runs),
    pd.read_csv(snakemake.input.subsets),
    params["experiments"],
    params["train"],
    params["plots"],
)
figure.savefig(snakemake.output.png)
figure.savefig(snakemake.output.pdf, metadata={"CreationDate": None})
