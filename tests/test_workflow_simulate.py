"""Real Snakemake runs of the simulation stage on the tiny config."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, planned_jobs, snakemake, write_config
from regscale import shards

SHARD_TARGETS = ["resources/shards/manifest.csv", "results/figures/atlas.png"]


def planned(workdir, configfile=TINY):
    return planned_jobs(workdir, *SHARD_TARGETS, configfile=configfile)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("simulate")
    snakemake(workdir, *SHARD_TARGETS)
    return workdir


def test_shards_have_the_documented_format(simulated):
    config = yaml.safe_load(TINY.read_text())
    rows, cols = config["physics"]["lattice"]["rows"], config["physics"]["lattice"]["cols"]
    manifest = pd.read_csv(simulated / "resources/shards/manifest.csv")
    assert list(manifest["split"]) == ["pool"] * 4 + ["test"] * 2
    assert manifest["n"].sum() == 64 + 32
    for row in manifest.itertuples():
        files = shards.shard_files(row.split, row.index, simulated / "resources/shards")
        images = np.load(files["images"], mmap_mode="r")
        assert images.shape == (16, 2, rows, cols) and images.dtype == np.float16
        assert np.abs(images).max() <= 1.0
        table = pd.read_csv(files["table"])
        assert list(table.columns) == [
            "sample", "theta", "J", "D", "steps", "energy_meV_per_spin", "max_torque_meV", "converged",
        ]
        assert table["converged"].all() and (table["max_torque_meV"] <= 0.02).all()
        assert (table["steps"] > 0).all() and (table["energy_meV_per_spin"] < 0).all()
        meta = json.loads(files["meta"].read_text())
        assert meta["sha256_images"] == row.sha256_images == shards.sha256(files["images"])
        assert meta["physics_digest"] == row.physics_digest
    assert (simulated / "results/figures/atlas.png").stat().st_size > 10_000
    assert (simulated / "results/logs/simulate/pool/shard~00000.log").read_text().count("relaxed 16/16 samples") == 1


def test_a_shard_is_reproduced_bit_for_bit(simulated, tmp_path):
    snakemake(tmp_path, "resources/shards/pool/shard~00002.npy")
    files = shards.shard_files("pool", 2, tmp_path / "resources/shards")
    original = shards.shard_files("pool", 2, simulated / "resources/shards")
    assert files["images"].read_bytes() == original["images"].read_bytes()
    assert files["table"].read_bytes() == original["table"].read_bytes()


def test_complete_run_has_nothing_left_to_do(simulated):
    assert planned(simulated) == {}


def test_a_larger_pool_adds_shards_and_keeps_the_old_ones(simulated, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(simulated, work, symlinks=True)
    before = {p.name: p.stat().st_mtime_ns for p in (work / "resources/shards/pool").glob("*.npy")}
    bigger = write_config(tmp_path / "bigger.yaml", **{"data.pool_size": 96})
    assert planned(work, bigger) == {"simulate_shard": 2, "shard_manifest": 1}
    snakemake(work, *SHARD_TARGETS, configfile=bigger)
    after = {p.name: p.stat().st_mtime_ns for p in (work / "resources/shards/pool").glob("*.npy")}
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == ["shard~00004.npy", "shard~00005.npy"]
    assert len(pd.read_csv(work / "resources/shards/manifest.csv")) == 8


@pytest.mark.parametrize(
    "change",
    [{"physics.anisotropy_meV": 0.25}, {"physics.relax": {"tol_meV": 0.01, "max_steps": 3000}}, {"seed": 8}],
    ids=["anisotropy", "tolerance", "seed"],
)
def test_a_physics_change_makes_every_shard_stale(simulated, tmp_path, change):
    changed = write_config(tmp_path / "changed.yaml", **change)
    jobs = planned(simulated, changed)
    assert jobs["simulate_shard"] == 6 and jobs["atlas_images"] == 1


@pytest.mark.parametrize("change", [{"data.batch_size": 4}, {"device": "auto"}], ids=["batch", "device"])
def test_a_speed_setting_simulates_nothing_again(simulated, tmp_path, change):
    # How many samples relax at once, and where, change the speed, not the shards (a
    # sample's image does not depend on its batch: test_simulate.py); each shard's
    # provenance records the device it was made on.
    assert planned(simulated, write_config(tmp_path / "changed.yaml", **change)) == {}
