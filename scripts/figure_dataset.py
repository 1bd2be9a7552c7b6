"""Rule figure_dataset: Fig. 2, sample test images of both layers with their
(theta, J, D), and the regression model (PNG and PDF)."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from regscale import shards
from regscale.figures import samples, style

sys.stderr = open(snakemake.log[0], "w", buffering=1)
files = {kind: Path(path) for kind, path in snakemake.input.items()}
images, table = shards.load([files])
figure = samples.dataset(images, table, json.loads(snakemake.params.plots))
style.save(figure, snakemake.output)
