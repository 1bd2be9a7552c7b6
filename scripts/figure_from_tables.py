"""Rules figure_architectures, figure_sweeps, figure_exponents, figure_model_size,
figure_statistics and figure_joint_law: one figure (PNG and PDF) drawn by
regscale.figures.<params.draw> from the rule's two input tables, in their order, and the
experiments, train and plots settings."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale import figures

sys.stderr = open(snakemake.log[0], "w", buffering=1)
tables = [pd.read_csv(path) for path in snakemake.input]
settings = [json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")]
figure = getattr(figures, snakemake.params.draw)(*tables, *settings)
figure.savefig(snakemake.output.png)
figure.savefig(snakemake.output.pdf, metadata={"CreationDate": None})
