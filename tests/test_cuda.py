"""The CUDA paths (issue 16, point 4): simulation, training of each architecture, the
seed-batched ensemble against one seed at a time, and a tiny study with ``device: cuda``.

Marked ``cuda`` and skipped where torch sees no CUDA device (CI, the dev VM); ``make
gpu-check`` (regscale.gpucheck) runs them on a GPU. On CUDA the trainer holds images in
bf16 and runs the forward pass under bf16 autocast, and cuDNN picks its kernels by
timing, so a run agrees with another only to a tolerance, not bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, TINY, write_config
from test_train import FCN, make_spec
from test_train import load as load_data
from regscale import config as study_config
from regscale import train
from regscale.shards import shard_parameters
from regscale.simulate import Physics, simulate

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (make gpu-check runs it on a GPU)"),
]

CUDA = torch.device("cuda")
QUIET = lambda line: None  # noqa: E731
VIT = "patch~4/dim~16/depth~1/heads~2"


@pytest.fixture(scope="module")
def tiny(tiny_shards):
    train.configure_device(CUDA)  # as scripts/train.py does: TF32, cuDNN autotuning
    return study_config.load(TINY), tiny_shards / "resources" / "shards"


def load(tiny, spec) -> train.Data:
    return load_data(tiny, spec, CUDA)


def test_simulation_on_cuda_agrees_with_the_cpu_and_repeats_bit_for_bit():
    physics = Physics.from_config(study_config.load(TINY)["physics"], base=study_config.REPO)
    params = shard_parameters(physics.ranges, 3, "pool", 0, 8)
    on_gpu, table = simulate(physics, params, 8, CUDA, log=QUIET)
    again, table_again = simulate(physics, params, 8, CUDA, log=QUIET)
    on_cpu, cpu_table = simulate(physics, params, 8, torch.device("cpu"), log=QUIET)
    assert on_gpu.dtype == np.float16 and on_gpu.shape == (8, 2, 16, 16)
    # The README: the same parameters give the same image bit for bit on the same device ...
    assert np.array_equal(on_gpu, again) and table.equals(table_again)
    # ... and on another device the images agree to float tolerance (float32 against
    # float64 on the CPU differ by under 0.004 in m_z here).
    assert table["converged"].all() and cpu_table["converged"].all()
    difference = np.abs(on_gpu.astype(np.float32) - on_cpu.astype(np.float32)).max(axis=(1, 2, 3))
    assert difference.max() < 0.05, difference
    np.testing.assert_allclose(table["energy_meV_per_spin"], cpu_table["energy_meV_per_spin"], atol=1e-3)


@pytest.mark.parametrize(
    "arch,size,overrides",
    [
        ("fcn", FCN, {"train": {"archs": {"fcn": {"lr": 3e-3, "max_epochs": 20}}}}),
        ("resnet18", "width~4", {"train": {"archs": {"resnet18": {"max_epochs": 3}}}}),
        ("vit", VIT, {"train": {"archs": {"vit": {"lr": 1e-3, "max_epochs": 16}}}}),
    ],
)
def test_each_architecture_trains_on_cuda_and_its_loss_falls(tiny, arch, size, overrides):
    spec = make_spec(tiny, arch, size, target="theta", **overrides)
    data = load(tiny, spec)
    assert data.x.device.type == "cuda" and data.x.dtype == torch.bfloat16
    result = train.train_group(spec, [0], data, CUDA, log=QUIET)[0]
    loss = result["history"]["train_loss"].to_numpy()
    assert len(loss) == spec.optimizer["max_epochs"] and np.isfinite(loss).all()
    assert loss[len(loss) // 2 :].min() < 0.8 * loss[0], loss
    metrics = result["metrics"]
    assert metrics["device"].startswith("cuda") and not metrics["diverged"]
    assert metrics["steps"] == metrics["epochs"] * math.ceil(metrics["n_train"] / spec.optimizer["batch_size"])
    assert np.isfinite(metrics["test_mse"]["theta"])
    assert all(tensor.device.type == "cpu" for tensor in result["state_dict"].values())


@pytest.mark.parametrize("draws,n_d", [("prefix", 64), ("realization", 32)])
def test_a_seed_trains_alike_alone_and_in_a_block_on_cuda(tiny, draws, n_d):
    """Seed 1 of a block of 3 FCNs (one stacked-weight ensemble) against seed 1 trained
    alone: the same steps, and losses and weights that agree to the bf16 tolerance, far
    closer than another seed's. Under draws = realization each member also gathers its
    own validation samples."""
    overrides = {"train": {"draws": draws, "archs": {"fcn": {"lr": 1e-3, "max_epochs": 8}}}}
    block = make_spec(tiny, seeds=(0, 2), n_d=n_d, **overrides)
    data = load(tiny, block)
    together = train.train_group(block, [0, 1, 2], data, CUDA, log=QUIET)
    alone = train.train_group(make_spec(tiny, seeds=(1, 1), n_d=n_d, **overrides), [1], data, CUDA, log=QUIET)[0]
    a, b = together[1]["metrics"], alone["metrics"]
    for key in ("epochs", "steps", "n_m", "n_train", "n_val", "stopped"):
        assert a[key] == b[key], key
    history_a, history_b = together[1]["history"], alone["history"]
    np.testing.assert_allclose(history_a["train_loss"], history_b["train_loss"], rtol=0.02)
    np.testing.assert_allclose(history_a["val_loss"], history_b["val_loss"], rtol=0.02)
    assert a["test_mse"]["J"] == pytest.approx(b["test_mse"]["J"], rel=0.05)

    def distance(first, second):
        num = sum(float((first[k].double() - second[k].double()).square().sum()) for k in first)
        return math.sqrt(num / sum(float(second[k].double().square().sum()) for k in second))

    same_seed = distance(together[1]["state_dict"], alone["state_dict"])
    other_seed = distance(together[0]["state_dict"], alone["state_dict"])
    assert same_seed < 0.05 and other_seed > 10 * same_seed, (same_seed, other_seed)


def test_the_tiny_study_runs_on_cuda(tmp_path):
    """The whole tiny study (shards, atlas, every training job, analysis, figures) with
    ``device: cuda``; shards and runs record that they were made on the GPU."""
    workdir = tmp_path / "study"
    workdir.mkdir()
    config = write_config(tmp_path / "gpu.yaml", device="cuda")
    cores = str(min(16, os.cpu_count() or 1))  # jobs share the one GPU; each is mostly start-up
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(config), "--cores", cores]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    made = sorted((workdir / "resources" / "shards").rglob("shard~*.json"))  # each shard's provenance
    runs = sorted((workdir / "results" / "runs").rglob("metrics.json"))
    for files in (made, runs):
        devices = {json.loads(path.read_text())["device"] for path in files}
        assert files and all(device.startswith("cuda") for device in devices), devices
    table = pd.read_csv(workdir / "results" / "tables" / "runs.csv")
    assert len(table) == len(runs) and table["test_mse"].notna().any()
