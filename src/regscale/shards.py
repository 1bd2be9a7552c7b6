"""Shards: the cached simulation output, and the one place that knows their format.

A shard is three files side by side (see README, "Artifacts"):

- ``shard~00003.npy``  images, (n, 2, rows, cols) float16, memory-mappable;
- ``shard~00003.csv``  one row per image: sample id, theta, J, D and the relaxation
  diagnostics (steps, energy per spin, final torque, converged);
- ``shard~00003.json`` provenance: SHA-256 of the other two, shape, physics and code
  digests, device, timing.

A shard's parameters are drawn from a random stream keyed by (seed, split, index)
alone, so shard 3 is the same whether the pool has 4 shards or 400: asking for more
samples adds shards and never changes existing ones. The training pool and the test
set use different streams; training sets are prefixes of the pool.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .targets import names as target_names

SPLITS = {"pool": 0, "test": 1}  # stream keys: never renumber, it would change every shard
ROOT = Path("resources/shards")


class ShardError(RuntimeError):
    """A shard that is missing, truncated or does not match its recorded checksum."""


def shard_count(n_samples: int, shard_size: int) -> int:
    return math.ceil(n_samples / shard_size)


def shard_stem(split: str, index: int, root: Path = ROOT) -> Path:
    """Path of a shard without suffix: root/split/shard~00003."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    return Path(root) / split / f"shard~{index:05d}"


def shard_files(split: str, index: int, root: Path = ROOT) -> dict[str, Path]:
    stem = shard_stem(split, index, root)
    return {"images": stem.with_suffix(".npy"), "table": stem.with_suffix(".csv"), "meta": stem.with_suffix(".json")}


def shards_for(n_samples: int, shard_size: int, split: str = "pool", root: Path = ROOT) -> list[dict[str, Path]]:
    """The files of the first shards that together hold ``n_samples`` samples."""
    return [shard_files(split, i, root) for i in range(shard_count(n_samples, shard_size))]


def shard_parameters(ranges: dict, seed: int, split: str, index: int, size: int) -> pd.DataFrame:
    """The (theta, J, D) of one shard: uniform draws from the stream (seed, split, index)."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    params = pd.DataFrame({name: rng.uniform(*ranges[name], size=size) for name in target_names()})
    params.insert(0, "sample", [f"{split}-{index * size + k}" for k in range(size)])
    return params


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic(path: Path, write) -> None:
    """Write through a temporary file and rename, so a killed job leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_shard(files: dict[str, Path], images: np.ndarray, table: pd.DataFrame, meta: dict) -> dict:
    """Write the three files of a shard; the metadata gains the checksums and shape."""
    if images.dtype != np.float16 or images.ndim != 4 or images.shape[1] != 2:
        raise ValueError(f"shard images must be (n, 2, rows, cols) float16, got {images.shape} {images.dtype}")
    if len(images) != len(table):
        raise ValueError(f"{len(images)} images but {len(table)} table rows")

    def save_images(tmp):
        with open(tmp, "wb") as handle:
            np.save(handle, images)

    _atomic(files["images"], save_images)
    _atomic(files["table"], lambda tmp: table.to_csv(tmp, index=False, float_format="%.9g"))
    meta = dict(meta)
    meta.update(
        n=len(images),
        shape=list(images.shape),
        dtype=str(images.dtype),
        sha256_images=sha256(files["images"]),
        sha256_table=sha256(files["table"]),
    )
    _atomic(files["meta"], lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2) + "\n"))
    return meta


def read_meta(files: dict[str, Path]) -> dict:
    try:
        return json.loads(Path(files["meta"]).read_text())
    except FileNotFoundError:
        raise ShardError(f"shard metadata {files['meta']} is missing; re-run the simulation rule") from None
    except json.JSONDecodeError as error:
        raise ShardError(f"shard metadata {files['meta']} is not valid JSON ({error})") from None


def verify(files: dict[str, Path]) -> dict:
    """Check a shard's files against the checksums in its metadata; return the metadata."""
    meta = read_meta(files)
    for kind in ("images", "table"):
        path = Path(files[kind])
        if not path.exists():
            raise ShardError(f"shard file {path} is missing")
        actual = sha256(path)
        if actual != meta[f"sha256_{kind}"]:
            raise ShardError(
                f"shard file {path} is corrupt or truncated: SHA-256 {actual[:12]}... does not match "
                f"{meta[f'sha256_{kind}'][:12]}... recorded in {files['meta']}; delete the shard and re-run"
            )
    return meta


def load(shard_list: list[dict[str, Path]], n_samples: int | None = None, check: bool = True):
    """Images (n, 2, rows, cols) float16 and their table, from the first ``n_samples``
    samples of the given shards in order (all of them when None)."""
    if not shard_list:
        raise ShardError("no shards given")
    images, tables, have = [], [], 0
    for files in shard_list:
        if n_samples is not None and have >= n_samples:
            break
        meta = verify(files) if check else read_meta(files)
        take = meta["n"] if n_samples is None else min(meta["n"], n_samples - have)
        images.append(np.load(files["images"], mmap_mode="r")[:take])
        tables.append(pd.read_csv(files["table"]).iloc[:take])
        have += take
    if n_samples is not None and have < n_samples:
        raise ShardError(f"asked for {n_samples} samples but the {len(shard_list)} shards hold only {have}")
    return np.concatenate(images), pd.concat(tables, ignore_index=True)


def manifest(metas: list[dict]) -> pd.DataFrame:
    """One row per shard: split, index, size, checksums and provenance."""
    columns = ["split", "index", "n", "sha256_images", "sha256_table", "physics_digest", "code_digest", "device", "seconds"]
    return pd.DataFrame([{key: meta.get(key) for key in columns} for meta in metas], columns=columns)
