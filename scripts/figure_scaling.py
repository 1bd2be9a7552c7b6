"""The scaling figures (Figs. 1, 4, 5, 6 and 8; regscale.figures.registry): one figure
(PNG and PDF) drawn by regscale.figures.scaling.<params.draw> from the rule's input
tables, in their order, and the experiments, train and plots settings."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale.figures import scaling, style

sys.stderr = open(snakemake.log[0], "w", buffering=1)
tables = [pd.read_csv(path) for path in snakemake.input]
settings = [json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")]
style.save(getattr(scaling, snakemake.params.draw)(*tables, *settings), snakemake.output)
