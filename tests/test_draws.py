"""Which samples each realization trains and validates on (regscale.draws, train.draws)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from regscale import config as study_config
from regscale import draws, jobspec, shards, train
from regscale.jobspec import JobSpec
from regscale.study import Job

TINY = Path(__file__).parent / "configs" / "tiny.yaml"
FCN = "width~16/depth~3"


def spec_of(n_d=32, draws_setting="realization", seed=7, size=FCN, target="J", pool_size=64) -> JobSpec:
    config = study_config.with_overrides(
        study_config.load(TINY), {"seed": seed, "train": {"draws": draws_setting}, "data": {"pool_size": pool_size}}
    )
    return JobSpec.from_config(config, Job("fcn", size, "plateau", target, n_d, 0, 3))


def sets(split) -> tuple[set, set]:
    return set(split[0].tolist()), set(split[1].tolist())


def test_a_realization_draws_nested_sets_of_its_own():
    small, large = (draws.realization_split(spec_of(n_d), seed=1, pool=64) for n_d in (16, 32))
    for (train_rows, val_rows), n_d in zip((small, large), (16, 32)):
        assert train_rows.dtype == torch.int64 and len(train_rows) + len(val_rows) == n_d
        assert len(set(train_rows.tolist()) | set(val_rows.tolist())) == n_d  # disjoint, no repeats
        assert 0 <= min(train_rows.min(), val_rows.min()) and max(train_rows.max(), val_rows.max()) < 64
    # Nested: the N_D = 32 draw holds the N_D = 16 draw (training and validation together).
    assert set().union(*sets(small)) <= set().union(*sets(large))
    # Its own: another seed index, size or target draws other samples; the same one, the same.
    assert sets(draws.realization_split(spec_of(32), seed=2, pool=64)) != sets(large)
    assert sets(draws.realization_split(spec_of(32, size="width~4/depth~3"), seed=1, pool=64)) != sets(large)
    assert sets(draws.realization_split(spec_of(32, seed=8), seed=1, pool=64)) != sets(large)
    assert sets(draws.realization_split(spec_of(32), seed=1, pool=64)) == sets(large)


def test_members_draw_apart_under_realization_and_share_the_prefix_otherwise():
    drawn = draws.member_splits(spec_of(32), [0, 1, 2], pool=64)
    assert tuple(drawn[0].shape) == (3, 28) and tuple(drawn[1].shape) == (3, 4)
    assert len({tuple(sorted(row.tolist())) for row in drawn[0]}) == 3
    prefix = draws.member_splits(spec_of(32, "prefix"), [0, 1, 2], pool=32)
    assert all(torch.equal(row, prefix[0][0]) for row in prefix[0]) and int(prefix[0].max()) < 32
    assert sets((prefix[0][0], prefix[1][0])) == sets(draws.prefix_split(spec_of(32, "prefix")))


def test_a_draw_larger_than_the_pool_is_refused():
    with pytest.raises(ValueError, match=r"N_D = 64 but the pool holds 48 samples"):
        draws.realization_split(spec_of(64), seed=0, pool=48)


def test_the_pool_size_enters_a_job_only_under_realization():
    assert spec_of(pool_size=64).pool == 64 and spec_of(pool_size=50).pool == 64  # whole shards of 16
    assert spec_of(pool_size=80).digest() != spec_of(pool_size=64).digest()
    assert spec_of(draws_setting="prefix", pool_size=80).digest() == spec_of(draws_setting="prefix").digest()


def test_a_job_reads_the_whole_pool_under_realization():
    config = study_config.with_overrides(study_config.load(TINY), {"train": {"draws": "realization"}})
    wildcards = type("Wildcards", (), {"nd": "16"})
    assert len(jobspec.rule_inputs(config, wildcards)["pool_images"]) == 4
    config["train"]["draws"] = "prefix"
    assert len(jobspec.rule_inputs(config, wildcards)["pool_images"]) == 1


def test_under_realization_the_job_holds_the_pool_standardized_by_it(tiny_shards):
    spec = spec_of(16)
    root = tiny_shards / "resources" / "shards"
    pool_files = shards.shards_for(spec.pool, 16, "pool", root)
    data = train.load_data(pool_files, shards.shards_for(32, 16, "test", root), spec, torch.device("cpu"))
    images, _ = shards.load(pool_files, spec.pool)
    raw = np.asarray(images, dtype=np.float64)
    assert tuple(data.x.shape) == (64, 2, 16, 16)
    np.testing.assert_allclose(data.input_mean, raw.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(data.input_std, raw.std(axis=(0, 2, 3)), rtol=1e-12)
