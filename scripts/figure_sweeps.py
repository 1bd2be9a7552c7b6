"""Rule figure_sweeps: Fig. 4, loss vs N_D of the FCN width sweep per target and of the depth sweep (PNG and PDF)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale import figures

sys.stderr = open(snakemake.log[0], "w", buffering=1)
params = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")}
figure = figures.sweeps(
    pd.read_csv(snakemake.input.cells),
    pd.read_csv(snakemake.input.exponents),
    params["experiments"],
    params["train"],
    params["plots"],
)
figure.savefig(snakemake.output.png)
figure.savefig(snakemake.output.pdf, metadata={"CreationDate": None})
