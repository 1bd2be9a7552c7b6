"""Rule atlas_figure: draw the parameter atlas (PNG and PDF)."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from regscale.atlas import plot_atlas

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = np.load(snakemake.input[0], allow_pickle=False)
params = pd.DataFrame({name: data[name] for name in ("panel", "theta", "J", "D")})
figure = plot_atlas(data["images"].astype(np.float32), params, dpi=json.loads(snakemake.params.plots)["dpi"])
figure.savefig(snakemake.output.png, bbox_inches="tight")
figure.savefig(snakemake.output.pdf, bbox_inches="tight")
