"""The trainer on real tiny shards (issue 3, points 2, 3 and 5; resume of issue 5)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY
from regscale import config as study_config
from regscale import draws, shards, train
from regscale.jobspec import JobSpec, code_digest
from regscale.schedules import Schedule
from regscale.study import Job

CPU = torch.device("cpu")
QUIET = lambda line: None  # noqa: E731
FCN = "width~16/depth~3"
VIT = "patch~4/dim~16/depth~1/heads~2"
# The keys of metrics.json that regscale.aggregate and the figures rely on.
CONTRACT = {
    "arch": str, "size": dict, "size_label": str, "schedule": str, "target": str, "targets": list,
    "n_d": int, "n_train": int, "n_val": int, "n_test": int, "seed": int, "n_m": int,
    "test_mse": dict, "test_mse_units": dict, "val_mse": float, "epochs": int, "steps": int,
    "wall_s": float, "device": str, "final_lr": float, "diverged": bool, "config_digest": str,
}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """Runs compare bit for bit only at a fixed thread count; one is also the fastest here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tiny_shards):
    return study_config.load(TINY), tiny_shards / "resources" / "shards"


def make_spec(
    tiny, arch="fcn", size=FCN, target="J", n_d=64, seeds=(0, 0), schedule="constant", **overrides
) -> JobSpec:
    config = study_config.with_overrides(tiny[0], overrides)
    return JobSpec.from_config(config, Job(arch, size, schedule, target, n_d, *seeds))


def load(tiny, spec, device=CPU) -> train.Data:
    config, root = tiny
    size = config["data"]["shard_size"]
    return train.load_data(
        shards.shards_for(spec.pool if spec.draws == "realization" else spec.n_d, size, "pool", root),
        shards.shards_for(spec.test_size, size, "test", root),
        spec,
        device,
    )


def fcn_lr(lr, max_epochs):
    return {"train": {"archs": {"fcn": {"lr": lr, "max_epochs": max_epochs}}}}


# Plateau settings that make the members of a block stop at different epochs.
QUICK_PLATEAU = {
    **fcn_lr(1e-2, 40),
    "schedules": {"plateau": {"kind": "plateau", "factor": 0.5, "patience": 1, "min_lr": 1e-6, "early_stop": 4}},
}


def comparable(metrics):
    return {key: value for key, value in metrics.items() if key != "wall_s"}


@pytest.mark.parametrize(
    "arch,size,overrides",
    [
        ("fcn", FCN, fcn_lr(3e-3, 20)),
        ("resnet18", "width~4", {"train": {"archs": {"resnet18": {"max_epochs": 3}}}}),
        ("vit", VIT, {"train": {"archs": {"vit": {"lr": 1e-3, "max_epochs": 16}}}}),
    ],
)
def test_each_architecture_trains_and_its_loss_falls(tiny, arch, size, overrides):
    spec = make_spec(tiny, arch, size, target="theta", **overrides)
    result = train.train_group(spec, [0], load(tiny, spec), CPU, log=QUIET)[0]
    loss = result["history"]["train_loss"].to_numpy()
    assert len(loss) == spec.optimizer["max_epochs"]
    assert loss[len(loss) // 2 :].min() < 0.8 * loss[0], loss
    metrics = result["metrics"]
    assert metrics["steps"] == metrics["epochs"] * math.ceil(metrics["n_train"] / spec.optimizer["batch_size"])
    assert np.isfinite(metrics["test_mse"]["theta"]) and not metrics["diverged"]


def test_targets_are_standardized_by_their_prior_and_reported_in_units(tiny):
    spec = make_spec(tiny, target="theta")
    data = load(tiny, spec)
    low, high = tiny[0]["physics"]["ranges"]["theta"]
    assert data.mean[0] == (low + high) / 2 and data.std[0] == pytest.approx((high - low) / math.sqrt(12))
    assert abs(float(data.y.mean())) < 0.5 and 0.5 < float(data.y.std()) < 1.5
    metrics = train.train_group(spec, [0], data, CPU, log=QUIET)[0]["metrics"]
    assert metrics["test_mse_units"]["theta"] == pytest.approx(metrics["test_mse"]["theta"] * data.std[0] ** 2)


def test_images_are_standardized_per_layer_by_the_training_samples(tiny, monkeypatch):
    # Chunks of 5 samples: the statistics and the tensors are assembled from many chunks.
    monkeypatch.setattr(train, "PREPARE_ROWS", 5)
    spec = make_spec(tiny, target="J")
    data = load(tiny, spec)
    images, _ = shards.load(shards.shards_for(spec.n_d, tiny[0]["data"]["shard_size"], "pool", tiny[1]), spec.n_d)
    raw = np.asarray(images, dtype=np.float64)
    fitted = raw[np.sort(draws.prefix_split(spec)[0].numpy())]
    mean, std = fitted.mean(axis=(0, 2, 3)), fitted.std(axis=(0, 2, 3))
    np.testing.assert_allclose(data.input_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(data.input_std, std, rtol=1e-12)
    expected = ((raw - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
    assert data.x.dtype == torch.float32 and tuple(data.x.shape) == images.shape
    np.testing.assert_allclose(data.x.numpy(), expected, rtol=1e-6, atol=1e-6)
    # The validation samples stay out of the statistics.
    assert not np.allclose(raw.mean(axis=(0, 2, 3)), mean, rtol=1e-6)


def test_validation_split_and_batches():
    assert train.split_sizes(64, 0.125) == (56, 8)
    assert train.split_sizes(2, 0.125) == (1, 1)
    assert train.split_sizes(3, 0.9) == (1, 2)
    bounds = train.batch_bounds(9, 8)
    assert bounds[0] == 0 and bounds[-1] == 9 and min(np.diff(bounds)) >= 4
    assert np.diff(train.batch_bounds(56, 8)).tolist() == [8] * 7


@pytest.mark.parametrize("draws,n_d", [("prefix", 64), ("realization", 32)])
def test_a_seed_trains_the_same_alone_and_in_a_block(tiny, draws, n_d):
    """Seed 1 of a block of 3 (own init, split, order, plateau and early stopping) is seed 1
    trained alone: the block does not enter its random streams, nor, under draws =
    realization, its samples or their standardization."""
    settings = QUICK_PLATEAU | {"train": QUICK_PLATEAU["train"] | {"draws": draws}}
    block = make_spec(tiny, seeds=(0, 2), schedule="plateau", n_d=n_d, **settings)
    alone = make_spec(tiny, seeds=(1, 1), schedule="plateau", n_d=n_d, **settings)
    data = load(tiny, block)
    together = train.train_group(block, [0, 1, 2], data, CPU, log=QUIET)
    single = train.train_group(alone, [1], data, CPU, log=QUIET)[0]
    assert len({r["metrics"]["epochs"] for r in together}) > 1, "the members should stop at different epochs"
    a, b = together[1]["metrics"], single["metrics"]
    for key in ("epochs", "steps", "best_epoch", "stopped", "n_m", "n_train", "n_val"):
        assert a[key] == b[key], key
    for key in ("val_mse", "final_lr"):
        assert a[key] == pytest.approx(b[key], rel=1e-5), key
    assert a["test_mse"]["J"] == pytest.approx(b["test_mse"]["J"], rel=1e-5)
    np.testing.assert_allclose(together[1]["history"].to_numpy(), single["history"].to_numpy(), rtol=1e-5)
    for name, value in single["state_dict"].items():
        torch.testing.assert_close(together[1]["state_dict"][name], value, rtol=1e-5, atol=1e-6)


def test_the_same_seed_gives_the_same_metrics(tiny):
    spec = make_spec(tiny, seeds=(0, 1), schedule="plateau", **QUICK_PLATEAU)
    data = load(tiny, spec)
    first = train.train_group(spec, [0, 1], data, CPU, log=QUIET)
    second = train.train_group(spec, [0, 1], data, CPU, log=QUIET)
    assert [comparable(r["metrics"]) for r in first] == [comparable(r["metrics"]) for r in second]
    other = train.train_group(
        make_spec(tiny, seeds=(0, 1), schedule="plateau", seed=8, **QUICK_PLATEAU), [0, 1], data, CPU, log=QUIET
    )
    assert other[0]["metrics"]["test_mse"] != first[0]["metrics"]["test_mse"]


def test_a_nan_in_one_member_is_recorded_and_spares_the_others(tiny):
    spec = make_spec(tiny, seeds=(0, 2), **fcn_lr(3e-3, 6))
    data = load(tiny, spec)
    clean = train.train_group(spec, [0, 1, 2], data, CPU, log=QUIET)
    group = train.build_group(spec, [0, 1, 2], CPU)
    with torch.no_grad():
        group.params["1.weight"][1, 0, 0] = math.nan
    poisoned = train.train_group(spec, [0, 1, 2], data, CPU, log=QUIET, group=group)
    bad = poisoned[1]["metrics"]
    assert bad["diverged"] and bad["stopped"] == "diverged" and bad["epochs"] == 1
    assert math.isnan(bad["test_mse"]["J"]) and math.isnan(bad["test_mse_units"]["J"])
    for k in (0, 2):
        assert not poisoned[k]["metrics"]["diverged"]
        assert poisoned[k]["metrics"]["test_mse"] == pytest.approx(clean[k]["metrics"]["test_mse"], rel=1e-5)


def test_a_diverged_job_still_writes_its_runs(tiny, tmp_path):
    spec = make_spec(tiny, seeds=(0, 1), **fcn_lr(1e-3, 3))
    data = load(tiny, spec)
    data.y[5] = math.nan  # a NaN loss for every member that draws this sample
    metrics = train.train_job(spec, data, tmp_path / "out", tmp_path / "resume", CPU, log=QUIET)
    assert [m["diverged"] for m in metrics] == [True, True]
    written = json.loads((tmp_path / "out" / "seed~1" / "metrics.json").read_text())
    assert written["diverged"] is True and math.isnan(written["test_mse"]["J"])
    assert (tmp_path / "out" / "seed~1" / "model.pt").exists()


def test_run_artifacts_follow_the_documented_schema(tiny, tmp_path):
    spec = make_spec(tiny, seeds=(0, 1), schedule="onecycle")
    data = load(tiny, spec)
    out, staging = tmp_path / "runs" / "seeds~0-1", tmp_path / "resume" / "seeds~0-1"
    train.train_job(spec, data, out, staging, CPU, log=QUIET)
    assert sorted(p.name for p in out.iterdir()) == ["seed~0", "seed~1"]
    assert not staging.exists()
    for seed in (0, 1):
        folder = out / f"seed~{seed}"
        assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "metrics.json", "model.pt"]
        metrics = json.loads((folder / "metrics.json").read_text())
        for key, kind in CONTRACT.items():
            assert isinstance(metrics[key], kind), key
        assert metrics["seed"] == seed and metrics["targets"] == ["J"] and metrics["n_d"] == 64
        assert metrics["n_train"] + metrics["n_val"] == 64 and metrics["n_test"] == spec.test_size
        assert metrics["stopped"] == "schedule_end" and metrics["code_digest"] == code_digest(spec.arch)
        assert metrics["config_digest"] == spec.digest() and metrics["ensemble_size"] == 2
        history = pd.read_csv(folder / "history.csv")
        assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr"]
        assert history["epoch"].tolist() == list(range(1, metrics["epochs"] + 1))
        assert history["val_loss"].min() == pytest.approx(metrics["val_mse"])
        # model.pt holds the weights the test MSE was measured on.
        model, info = train.load_model(folder / "model.pt")
        with torch.no_grad():
            prediction = model(data.x_test).numpy()
        mse = float(np.mean((prediction - data.y_test.numpy()) ** 2))
        assert mse == pytest.approx(metrics["test_mse"]["J"], rel=1e-5)
        assert info["targets"] == ["J"] and info["std"] == pytest.approx(list(data.std))
        assert info["input_mean"] == pytest.approx(list(data.input_mean))
        # The images were standardized per layer: centred, unit spread over the training part.
        assert abs(float(data.x[:, 0].mean())) < 0.2 and 0.5 < float(data.x[:, 1].std()) < 2


def test_a_joint_model_has_one_output_per_target(tiny):
    spec = make_spec(tiny, target="joint", **fcn_lr(1e-3, 2))
    metrics = train.train_group(spec, [0], load(tiny, spec), CPU, log=QUIET)[0]["metrics"]
    assert metrics["targets"] == ["theta", "J", "D"]
    assert set(metrics["test_mse"]) == set(metrics["test_mse_units"]) == {"theta", "J", "D"}
    assert metrics["val_mse"] == pytest.approx(np.mean(list(metrics["val_mse_targets"].values())))


def test_schedules():
    onecycle = Schedule.from_config({"kind": "onecycle", "steps_per_sample": 0.5, "min_steps": 10, "max_steps": 100})
    # The length scales with N_D between the bounds, in whole epochs.
    assert [onecycle.epochs(n_d, 4, 999) for n_d in (8, 64, 128, 10_000)] == [3, 8, 16, 25]
    rates = [onecycle.rate(1.0, step, 100) for step in range(100)]
    assert rates[0] == pytest.approx(1 / 25) and max(rates) == pytest.approx(1.0, abs=1e-3)
    assert np.argmax(rates) == pytest.approx(30, abs=1) and rates[-1] == pytest.approx(1 / 25 / 1e4)
    cosine = Schedule.from_config({"kind": "cosine", "min_lr": 0.1})
    assert (
        cosine.rate(1.0, 0, 11) == 1.0
        and cosine.rate(1.0, 5, 11) == pytest.approx(0.55)
        and cosine.rate(1.0, 10, 11) == pytest.approx(0.1)
    )
    plateau = Schedule.from_config({"kind": "plateau", "factor": 0.5, "min_lr": 0.3})
    assert plateau.epochs(64, 4, 77) == 77 and plateau.early_stop == 20
    assert plateau.reduce(1.0) == 0.5 and plateau.reduce(0.5) == 0.3
    with pytest.raises(ValueError, match="does not take"):
        Schedule.from_config({"kind": "constant", "patience": 3})


def test_plateau_lowers_the_rate_and_stops_early(tiny):
    spec = make_spec(tiny, seeds=(1, 1), schedule="plateau", **QUICK_PLATEAU)
    result = train.train_group(spec, [1], load(tiny, spec), CPU, log=QUIET)[0]
    history, metrics = result["history"], result["metrics"]
    assert metrics["stopped"] == "early_stop" and metrics["epochs"] < 40
    assert metrics["epochs"] - metrics["best_epoch"] == 4
    assert history["lr"].iloc[0] == 1e-2 and history["lr"].iloc[-1] < 1e-2
    assert metrics["final_lr"] == history["lr"].iloc[-1]


class Interrupted(Exception):
    pass


def test_an_interrupted_group_resumes_from_its_checkpoint(tiny, tmp_path):
    spec = make_spec(tiny, seeds=(0, 1), schedule="plateau", **QUICK_PLATEAU)
    data = load(tiny, spec)
    uninterrupted = train.train_group(spec, [0, 1], data, CPU, log=QUIET)
    checkpoint = tmp_path / "state.pt"

    def crash_at_epoch_5(line):
        if "epoch 5/" in line:
            raise Interrupted

    with pytest.raises(Interrupted):
        train.train_group(spec, [0, 1], data, CPU, checkpoint=checkpoint, checkpoint_every=2, log=crash_at_epoch_5)
    assert checkpoint.exists()
    lines = []
    resumed = train.train_group(spec, [0, 1], data, CPU, checkpoint=checkpoint, checkpoint_every=2, log=lines.append)
    assert any("resumed from the checkpoint of epoch 4" in line for line in lines)
    assert [comparable(r["metrics"]) for r in resumed] == [comparable(r["metrics"]) for r in uninterrupted]
    for a, b in zip(resumed, uninterrupted):
        pd.testing.assert_frame_equal(a["history"], b["history"])

    # A checkpoint written for other settings is ignored, not continued.
    other = make_spec(tiny, seeds=(0, 1), schedule="plateau", **{**QUICK_PLATEAU, **fcn_lr(5e-3, 40)})
    checkpoint.unlink()
    with pytest.raises(Interrupted):
        train.train_group(spec, [0, 1], data, CPU, checkpoint=checkpoint, checkpoint_every=2, log=crash_at_epoch_5)
    lines = []
    fresh = train.train_group(other, [0, 1], data, CPU, checkpoint=checkpoint, checkpoint_every=2, log=lines.append)
    assert any("ignoring checkpoint" in line for line in lines)
    reference = train.train_group(other, [0, 1], data, CPU, log=QUIET)
    assert [comparable(r["metrics"]) for r in fresh] == [comparable(r["metrics"]) for r in reference]


def test_asking_for_more_samples_than_the_shards_hold_fails_clearly(tiny):
    spec = make_spec(tiny, n_d=64)
    root = tiny[1]
    with pytest.raises(shards.ShardError, match="asked for 80 samples but the 4 shards hold only 64"):
        train.load_data(
            shards.shards_for(64, 16, "pool", root),
            shards.shards_for(32, 16, "test", root),
            JobSpec.from_settings({**spec.settings(), "n_d": 80}),
            CPU,
        )
