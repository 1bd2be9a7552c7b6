"""The shard format: parameters keyed by index, exact file formats, checksums."""

import numpy as np
import pandas as pd
import pytest

from regscale import shards
from regscale.simulate import TARGETS

RANGES = {"theta": (4.0, 8.0), "J": (1.5, 3.0), "D": (0.0, 0.4)}


def test_parameters_depend_only_on_seed_split_and_index():
    a = shards.shard_parameters(RANGES, 5, "pool", 3, 32)
    pd.testing.assert_frame_equal(a, shards.shard_parameters(RANGES, 5, "pool", 3, 32))
    assert not np.allclose(a[list(TARGETS)], shards.shard_parameters(RANGES, 5, "pool", 4, 32)[list(TARGETS)])
    assert not np.allclose(a[list(TARGETS)], shards.shard_parameters(RANGES, 6, "pool", 3, 32)[list(TARGETS)])
    assert list(a.columns) == ["sample", "theta", "J", "D"]
    assert a["sample"].iloc[0] == "pool-96" and a["sample"].iloc[-1] == "pool-127"
    for name, (low, high) in RANGES.items():
        assert a[name].between(low, high).all()


def test_test_set_is_disjoint_from_the_pool():
    pool = pd.concat([shards.shard_parameters(RANGES, 5, "pool", i, 64) for i in range(8)])
    test = pd.concat([shards.shard_parameters(RANGES, 5, "test", i, 64) for i in range(2)])
    merged = pool.merge(test, on=list(TARGETS))
    assert merged.empty
    assert pool["sample"].is_unique and not set(pool["sample"]) & set(test["sample"])


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="unknown split 'train'"):
        shards.shard_files("train", 0)


def _write(tmp_path, index, n=6, seed=0):
    rng = np.random.default_rng(seed + index)
    images = rng.uniform(-1, 1, size=(n, 2, 4, 6)).astype(np.float16)
    table = shards.shard_parameters(RANGES, seed, "pool", index, n)
    files = shards.shard_files("pool", index, tmp_path)
    meta = shards.write_shard(files, images, table, {"split": "pool", "index": index})
    return files, images, table, meta


def test_write_and_load_round_trip(tmp_path):
    written = [_write(tmp_path, i) for i in range(3)]
    files = [w[0] for w in written]
    assert files == shards.shards_for(18, 6, "pool", tmp_path)
    images, table = shards.load(files, 14)
    assert images.shape == (14, 2, 4, 6) and images.dtype == np.float16
    np.testing.assert_array_equal(images[:6], written[0][1])
    np.testing.assert_array_equal(images[12:], written[2][1][:2])
    assert list(table["sample"]) == [f"pool-{k}" for k in range(14)]
    mapped = np.load(files[1]["images"], mmap_mode="r")
    assert isinstance(mapped, np.memmap) and mapped.shape == (6, 2, 4, 6)
    meta = written[0][3]
    assert meta["shape"] == [6, 2, 4, 6] and meta["dtype"] == "float16" and meta["n"] == 6
    assert meta["sha256_images"] == shards.sha256(files[0]["images"])
    manifest = shards.manifest([w[3] for w in written])
    assert list(manifest["index"]) == [0, 1, 2] and manifest["n"].sum() == 18


def test_asking_for_more_samples_than_the_shards_hold(tmp_path):
    files, *_ = _write(tmp_path, 0)
    with pytest.raises(shards.ShardError, match="asked for 7 samples but the 1 shards hold only 6"):
        shards.load([files], 7)


def test_wrong_dtype_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"must be \(n, 2, rows, cols\) float16"):
        shards.write_shard(shards.shard_files("pool", 0, tmp_path), np.zeros((2, 2, 4, 4)), pd.DataFrame({"a": [1, 2]}), {})


def test_corrupt_shard_fails_its_checksum(tmp_path):
    files, *_ = _write(tmp_path, 0)
    data = bytearray(files["images"].read_bytes())
    data[-3] ^= 0xFF
    files["images"].write_bytes(bytes(data))
    with pytest.raises(shards.ShardError, match=r"shard~00000\.npy is corrupt or truncated: SHA-256 .* does not match"):
        shards.load([files])


def test_truncated_shard_fails_its_checksum(tmp_path):
    files, *_ = _write(tmp_path, 0)
    data = files["images"].read_bytes()
    files["images"].write_bytes(data[: len(data) // 2])
    with pytest.raises(shards.ShardError, match="corrupt or truncated"):
        shards.verify(files)


def test_edited_table_and_missing_files_are_caught(tmp_path):
    files, *_ = _write(tmp_path, 0)
    files["table"].write_text(files["table"].read_text().replace("pool-0", "pool-9"))
    with pytest.raises(shards.ShardError, match=r"shard~00000\.csv is corrupt"):
        shards.verify(files)
    files["meta"].unlink()
    with pytest.raises(shards.ShardError, match="metadata .* is missing; re-run the simulation rule"):
        shards.verify(files)
