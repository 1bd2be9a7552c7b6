"""Rule shard_manifest: one table of every shard's size, checksums and provenance."""

import json
import sys
from pathlib import Path

from regscale import shards

sys.stderr = open(snakemake.log[0], "w", buffering=1)
metas = [json.loads(Path(path).read_text()) for path in [*snakemake.input.pool, *snakemake.input.test]]
table = shards.manifest(metas)
table.to_csv(snakemake.output[0], index=False)
print(f"{len(table)} shards, {int(table.n.sum())} samples", file=sys.stderr)
