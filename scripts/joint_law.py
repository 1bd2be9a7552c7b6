"""Rule fit_joint_law: the joint law L(N_D, N_M) per experiment (joint_law.csv) and its
forecast of the two largest N_D from the rest (forecast.csv)."""

import json
import logging
import sys

import pandas as pd

from regscale import forecast, joint, testerrors

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
runs = pd.read_csv(snakemake.input.runs)
settings = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "analysis")}
laws = joint.joint_laws(
    runs,
    settings["experiments"],
    settings["train"],
    settings["analysis"],
    snakemake.params.seed,
    testerrors.read(snakemake.input.test_errors),
)
laws.to_csv(snakemake.output.laws, index=False)
print(f"{len(laws)} joint laws", file=sys.stderr)
forecasts = forecast.forecasts(runs, settings["experiments"], settings["train"], settings["analysis"], snakemake.params.seed)
forecasts.to_csv(snakemake.output.forecast, index=False)
print(f"{len(forecasts)} forecast cells", file=sys.stderr)
