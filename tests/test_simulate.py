"""simulate(): determinism, independence of the batch a sample is relaxed in, progress."""

import numpy as np
import pytest
import torch

from conftest import TINY
from regscale import config as study_config
from regscale.shards import shard_parameters
from regscale.simulate import Physics, resolve_device, simulate


@pytest.fixture(scope="module", params=["lbfgs", "vp"])
def physics(request):
    """The tiny config's physics, with each minimiser."""
    config = study_config.load(TINY)
    config["physics"]["relax"]["method"] = request.param
    return Physics.from_config(config["physics"], base=study_config.REPO)


def test_same_parameters_give_the_same_images_bit_for_bit(physics):
    params = shard_parameters(physics.ranges, 3, "pool", 0, 6)
    first, table_a = simulate(physics, params, 6, torch.device("cpu"), log=lambda line: None)
    second, table_b = simulate(physics, params, 6, torch.device("cpu"), log=lambda line: None)
    assert first.dtype == np.float16 and first.shape == (6, 2, 16, 16)
    assert np.array_equal(first, second)
    assert table_a.equals(table_b)


def test_a_sample_does_not_depend_on_its_batch(physics):
    params = shard_parameters(physics.ranges, 3, "pool", 1, 12)
    together, _ = simulate(physics, params, 12, torch.device("cpu"), log=lambda line: None)
    lines = []
    in_threes, table = simulate(physics, params, 3, torch.device("cpu"), log=lines.append)
    assert np.array_equal(together, in_threes)
    assert len(lines) == 4 and lines[-1].startswith("relaxed 12/12 samples")
    assert list(table["sample"]) == list(params["sample"])


def test_unknown_or_missing_device_is_a_clear_error():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' requested but no CUDA device is visible"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'; expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
