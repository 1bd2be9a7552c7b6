"""Rule simulate_shard: relax the samples of one shard and write its three files."""

import json
import sys
import time
from pathlib import Path

import torch

from regscale import shards
from regscale.hashing import digest
from regscale.simulate import Physics, resolve_device, simulate

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)

spec = json.loads(snakemake.params.spec)
physics = Physics.from_config(spec["physics"], table=Path(snakemake.input.table))
device = resolve_device(snakemake.config["device"])
split, index = snakemake.wildcards.split, int(snakemake.wildcards.index)
params = shards.shard_parameters(physics.ranges, spec["seed"], split, index, spec["shard_size"])
print(f"shard {split}/{index}: {len(params)} samples of {physics.rows} x {physics.cols} x 2 spins on {device}", file=sys.stderr)

start = time.perf_counter()
images, table = simulate(physics, params, snakemake.config["data"]["batch_size"], device, log=lambda line: print(line, file=sys.stderr))
seconds = time.perf_counter() - start
files = {kind: Path(path) for kind, path in snakemake.output.items()}
meta = shards.write_shard(
    files,
    images,
    table,
    {
        "split": split,
        "index": index,
        "physics_digest": digest(spec),
        "code_digest": snakemake.params.code,
        "device": str(device),
        "seconds": round(seconds, 3),
        "torch": torch.__version__,
    },
)
print(f"wrote {files['images']} ({meta['n']} samples, {seconds:.1f} s, sha256 {meta['sha256_images'][:12]})", file=sys.stderr)
