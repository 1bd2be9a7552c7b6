"""The data are learnable, and learned: in the default config's ranges, each of theta, J
and D changes the images enough that k-nearest neighbours on raw pixels predicts it on
held-out samples far better than the mean does; and in a small real study the trained
models beat the prior-mean predictor on the test set by a clear margin."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, snakemake
from regscale import config as study_config
from regscale import shards, train
from regscale.simulate import TARGETS, Physics, simulate


def knn_predict(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, k: int) -> np.ndarray:
    """Mean label of the k nearest training images (Euclidean distance on pixels)."""
    nearest = torch.cdist(test_x, train_x).topk(k, largest=False).indices.numpy()
    return train_y[nearest].mean(axis=1)


@pytest.mark.slow
def test_knn_beats_the_mean_on_every_parameter():
    config = study_config.load(REPO / "config.yaml")
    physics = Physics.from_config(config["physics"], base=REPO)
    seed = config["seed"]
    train = shards.shard_parameters(physics.ranges, seed, "pool", 0, 768)
    test = shards.shard_parameters(physics.ranges, seed, "test", 0, 256)
    torch.set_num_threads(2)
    images = {}
    for name, params in (("train", train), ("test", test)):
        x, table = simulate(physics, params, 128, torch.device("cpu"), log=lambda line: None)
        assert table["converged"].mean() > 0.99
        images[name] = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32)
    train_y, test_y = train[list(TARGETS)].to_numpy(), test[list(TARGETS)].to_numpy()
    predicted = knn_predict(images["train"], train_y, images["test"], k=3)
    mse = ((predicted - test_y) ** 2).mean(axis=0)
    baseline = ((train_y.mean(axis=0) - test_y) ** 2).mean(axis=0)
    ratio = dict(zip(TARGETS, mse / baseline))
    print("kNN MSE / mean-predictor MSE:", {k: round(float(v), 3) for k, v in ratio.items()})
    for name in TARGETS:
        assert ratio[name] <= 0.5, f"{name} is not learnable from the images: MSE ratio {ratio[name]:.3f}"


# A small real study: the default config's physics (2 x 32 x 32), 512 training samples,
# one FCN per target trained by the workflow itself. (At the tiny config's 2 x 16 x 16,
# J is barely learnable from 512 samples: measured 0.61 of the prior mean's MSE.)
SMALL_STUDY = {
    "device": "cpu",
    "physics": {"compile": False},  # too few samples to repay the compile warm-up
    "data": {"shard_size": 128, "pool_size": 512, "test_size": 256, "batch_size": 64},
    "resources": {"simulate": {"threads": 1}, "train": {"threads": 1}},
    "train": {"n_d": [512], "seeds": 2, "seeds_per_job": 2, "archs": {"fcn": {"batch_size": 16, "max_epochs": 80}}},
}
EXPERIMENTS = {"fcn_width": {"arch": "fcn", "sizes": [{"width": 32, "depth": 3}]}}  # replaces the default's
# Measured on this study (2026-12-05, 2 seeds): test MSE over the prior-mean predictor's
# 0.001 (theta), 0.009 (J), 0.03 (D). The bound, 0.2, sits well above the worst of them
# (a factor of 7, room for other seeds and platforms) and fails any model that explains
# less than 80 % of a target's prior variance, far from what this study reaches.
LEARNED_BOUND = 0.2


@pytest.mark.slow
def test_trained_models_beat_the_prior_mean_on_the_test_set(tmp_path):
    configfile = tmp_path / "small.yaml"
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    configfile.write_text(yaml.safe_dump(study_config.with_overrides(default, SMALL_STUDY) | {"experiments": EXPERIMENTS}))
    snakemake(tmp_path, "results/tables/runs.csv", configfile=configfile)
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    config = study_config.load(configfile)
    test = pd.concat(
        pd.read_csv(shards.shard_files("test", i, tmp_path / "resources/shards")["table"]) for i in range(2)
    )
    mean, std = train.standardization(config["physics"]["ranges"], list(TARGETS))
    # The prior-mean predictor's standardized MSE on this very test set (about 1).
    baseline = dict(zip(TARGETS, (((test[list(TARGETS)].to_numpy() - mean) / std) ** 2).mean(axis=0)))
    ratio = {name: runs.loc[runs.target == name, "test_mse"].mean() / baseline[name] for name in TARGETS}
    print("test MSE / prior-mean MSE:", {name: round(float(value), 3) for name, value in ratio.items()})
    assert set(runs["target"]) == set(TARGETS) and (runs["n_test"] == 256).all()
    for name in TARGETS:
        assert ratio[name] < LEARNED_BOUND, f"{name}: test MSE {ratio[name]:.3f} of the prior mean's"
