"""Rule figure_exponents: Fig. 5, alpha_D vs N_M with the logarithmic trend (PNG and PDF)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale import figures

sys.stderr = open(snakemake.log[0], "w", buffering=1)
params = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")}
figure = figures.exponents_vs_size(
    pd.read_csv(snakemake.input.exponents),
    pd.read_csv(snakemake.input.trend),
    params["experiments"],
    params["train"],
    params["plots"],
)
figure.savefig(snakemake.output.png)
figure.savefig(snakemake.output.pdf, metadata={"CreationDate": None})
