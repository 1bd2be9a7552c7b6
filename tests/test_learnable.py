"""The data are learnable, and learned: in the default config's ranges, each of theta, J
and D changes the images enough that k-nearest neighbours on raw pixels predicts it on
held-out samples far better than the mean does; and in a small real study the trained
models beat the prior-mean predictor on the test set by a clear margin."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, snakemake
from regscale import config as study_config
from regscale import shards, train
from regscale.simulate import TARGETS


def knn_predict(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, k: int) -> np.ndarray:
    """Mean label of the k nearest training images (Euclidean distance on pixels)."""
    nearest = torch.cdist(test_x, train_x).topk(k, largest=False).indices.numpy()
    return train_y[nearest].mean(axis=1)


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
# Measured on this study (2 seeds): test MSE over the prior-mean predictor's
# 0.001 (theta), 0.009 (J), 0.03 (D) with images relaxed by velocity projection
# (2026-12-05), 0.001, 0.010, 0.037 by L-BFGS (2026-12-06). The bound, 0.2, sits well
# above the worst of them (a factor of 5, room for other seeds and platforms) and fails any model that explains
# less than 80 % of a target's prior variance, far from what this study reaches.
LEARNED_BOUND = 0.2


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> tuple[Path, Path]:
    """(work, configfile): SMALL_STUDY run by the workflow up to its runs table."""
    work = tmp_path_factory.mktemp("small_study")
    configfile = work / "small.yaml"
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    configfile.write_text(yaml.safe_dump(study_config.with_overrides(default, SMALL_STUDY) | {"experiments": EXPERIMENTS}))
    snakemake(work, "results/tables/runs.csv", configfile=configfile)
    return work, configfile


def study_shards(work: Path, split: str, n: int):
    """Images (n, 2 * rows * cols) float32 and labels of the small study's shards."""
    images, table = shards.load(shards.shards_for(n, SMALL_STUDY["data"]["shard_size"], split, work / "resources/shards"))
    return torch.as_tensor(images.reshape(n, -1), dtype=torch.float32), table


@pytest.mark.slow
def test_knn_beats_the_mean_on_every_parameter(small_study):
    """Each label changes the images enough that 3 nearest neighbours on raw pixels,
    among the 512 training images, predict it at most half as badly as the mean does."""
    work, _ = small_study
    (train_x, train), (test_x, test) = (study_shards(work, split, n) for split, n in (("pool", 512), ("test", 256)))
    assert train["converged"].mean() > 0.99 and test["converged"].mean() > 0.99
    train_y, test_y = train[list(TARGETS)].to_numpy(), test[list(TARGETS)].to_numpy()
    predicted = knn_predict(train_x, train_y, test_x, k=3)
    mse = ((predicted - test_y) ** 2).mean(axis=0)
    baseline = ((train_y.mean(axis=0) - test_y) ** 2).mean(axis=0)
    ratio = dict(zip(TARGETS, mse / baseline))
    print("kNN MSE / mean-predictor MSE:", {k: round(float(v), 3) for k, v in ratio.items()})
    for name in TARGETS:
        assert ratio[name] <= 0.5, f"{name} is not learnable from the images: MSE ratio {ratio[name]:.3f}"


@pytest.mark.slow
def test_trained_models_beat_the_prior_mean_on_the_test_set(small_study):
    work, configfile = small_study
    runs = pd.read_csv(work / "results/tables/runs.csv")
    config = study_config.load(configfile)
    _, test = study_shards(work, "test", 256)
    mean, std = train.standardization(config["physics"]["ranges"], list(TARGETS))
    # The prior-mean predictor's standardized MSE on this very test set (about 1).
    baseline = dict(zip(TARGETS, (((test[list(TARGETS)].to_numpy() - mean) / std) ** 2).mean(axis=0)))
    ratio = {name: runs.loc[runs.target == name, "test_mse"].mean() / baseline[name] for name in TARGETS}
    print("test MSE / prior-mean MSE:", {name: round(float(value), 3) for name, value in ratio.items()})
    assert set(runs["target"]) == set(TARGETS) and (runs["n_test"] == 256).all()
    for name in TARGETS:
        assert ratio[name] < LEARNED_BOUND, f"{name}: test MSE {ratio[name]:.3f} of the prior mean's"
