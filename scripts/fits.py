"""Rule fit_exponents: power-law exponents (exponents.csv), the alpha_D trend over
model size (trend.csv), and both as an HTML page for the report."""

import json
import logging
import sys
from pathlib import Path

import pandas as pd

from regscale import fits, testerrors

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
runs = pd.read_csv(snakemake.input.runs)
settings = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "analysis")}
test_errors = testerrors.read(snakemake.input.test_errors)  # the bootstraps redraw the test samples
exponents, trend = fits.fit_all(runs, *(settings[k] for k in ("experiments", "train", "analysis")), snakemake.params.seed, test_errors)
exponents.to_csv(snakemake.output.exponents, index=False)
trend.to_csv(snakemake.output.trend, index=False)
Path(snakemake.output.html).write_text(fits.tables_html(exponents, trend))
print(f"{len(exponents)} exponents, {len(trend)} trend lines", file=sys.stderr)
