"""Rule train: train the seeds of one job (regscale.study.Job) and write their runs."""

import json
import sys
from pathlib import Path

import torch

from regscale import train
from regscale.jobspec import JobSpec
from regscale.simulate import resolve_device

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)


def shard_list(split):
    files = zip(*(getattr(snakemake.input, f"{split}_{kind}") for kind in ("images", "table", "meta")))
    return [{"images": Path(i), "table": Path(t), "meta": Path(m)} for i, t, m in files]


def log(line):
    print(line, file=sys.stderr)


spec = JobSpec.from_settings(json.loads(snakemake.params.settings))
device = resolve_device(snakemake.config["device"])
train.configure_device(device)
data = train.load_data(shard_list("pool"), shard_list("test"), spec, device)
metrics = train.train_job(
    spec,
    data,
    out=Path(snakemake.output[0]),
    staging=Path(snakemake.params.resume),
    device=device,
    checkpoint_every=snakemake.config["train"]["checkpoint_every"],
    checkpoint_seconds=snakemake.config["train"]["checkpoint_seconds"],
    log=log,
)
diverged = [m["seed"] for m in metrics if m["diverged"]]
log(f"wrote {len(metrics)} runs to {snakemake.output[0]}" + (f"; diverged: seeds {diverged}" if diverged else ""))
