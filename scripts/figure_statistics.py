"""Fig. 3, statistics over realizations (PNG and PDF): drawn by
regscale.figures.realizations.<params.draw> from the runs table and the Fig. 3e
subsets, with the experiments, train and plots settings."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale.figures import realizations, style

sys.stderr = open(snakemake.log[0], "w", buffering=1)
tables = [pd.read_csv(path) for path in snakemake.input]
settings = [json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")]
style.save(getattr(realizations, snakemake.params.draw)(*tables, *settings), snakemake.output)
