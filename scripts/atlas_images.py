"""Rule atlas_images: relax the samples of the parameter atlas."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from regscale.atlas import atlas_parameters
from regscale.simulate import Physics, resolve_device, simulate

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
spec = json.loads(snakemake.params.spec)
physics = Physics.from_config(spec["physics"], table=Path(snakemake.input.table))
params = atlas_parameters(json.loads(snakemake.params.atlas), physics.ranges)
images, table = simulate(physics, params, len(params), resolve_device(snakemake.config["device"]), log=lambda line: print(line, file=sys.stderr))
columns = {name: table[name].to_numpy(dtype=str if name == "panel" else None) for name in table.columns}
np.savez_compressed(snakemake.output[0], images=images, **columns)
