"""The data are learnable: in the default config's ranges, each of theta, J and D
changes the images enough that k-nearest neighbours on raw pixels predicts it on
held-out samples far better than the mean does."""

import numpy as np
import pytest
import torch

from conftest import REPO
from regscale import config as study_config
from regscale import shards
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
