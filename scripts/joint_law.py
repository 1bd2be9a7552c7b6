"""Rule fit_joint_law: the joint law L(N_D, N_M) per experiment (joint_law.csv)."""

import json
import logging
import sys

import pandas as pd

from regscale import joint

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
runs = pd.read_csv(snakemake.input.runs)
settings = {name: json.loads(snakemake.params[name]) for name in ("experiments", "train", "analysis")}
laws = joint.joint_laws(runs, settings["experiments"], settings["train"], settings["analysis"], snakemake.params.seed)
laws.to_csv(snakemake.output.laws, index=False)
print(f"{len(laws)} joint laws", file=sys.stderr)
