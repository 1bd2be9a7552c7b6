"""Rule figure_schedules: Fig. 7, loss vs N_D per learning-rate schedule and the
training curves of one run per schedule (PNG and PDF)."""

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd

from regscale import aggregate
from regscale.figures import scaling, style

sys.stderr = open(snakemake.log[0], "w", buffering=1)
params = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "plots")}
histories, note = {}, ""
for schedule, folder in zip(snakemake.params.histories, snakemake.input.histories):
    seed = aggregate.job_seeds(folder)[0]
    histories[schedule] = pd.read_csv(Path(folder) / f"seed~{seed}" / "history.csv")
    cell = re.search(r"target~([^/]+)/nd~(\d+)", folder)
    note = f"({cell[1]}, $N_D$={cell[2]}, seed {seed})"
cells, exponents = pd.read_csv(snakemake.input.cells), pd.read_csv(snakemake.input.exponents)
figure = scaling.schedules(cells, exponents, histories, params["experiments"], params["train"], params["plots"], note)
style.save(figure, snakemake.output)
