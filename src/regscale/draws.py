"""Which pool samples each realization trains and validates on (``train.draws``).

- ``prefix`` (the paper's design, docs/study.md section 2): every run at one N_D trains
  on the first N_D samples of the one shuffled pool, less a validation split drawn by a
  generator of the study seed and N_D alone. All runs of a cell, and all cells at one
  N_D, see the same samples.
- ``realization``: each realization draws its own nested sets. Its own shuffle of the
  whole pool, keyed by the study seed and the realization's identity (arch, size,
  schedule, target, seed index; not N_D), gives its training sets as prefixes, so its
  N_D = 256 set holds its N_D = 128 set. Its validation split is drawn from its N_D
  samples by its own generator.

Why both: under ``prefix`` the luck of the one draw of the training set is shared by
every run at that N_D. Across five seeded default studies, 87 to 91 % of the variance
of a width-sweep cell's log loss was shared, by the whole study or by every width at
its N_D, and the rest was no more than the seeds' scatter (docs/results.md, "Intervals
that hold"): an error that no resampling inside a study can see. Under
``realization`` that luck is each run's own: it averages over a cell's realizations
and shows up in their scatter, where the bootstraps see it. The price: every job reads
the whole pool, and at N_D near the pool's size the realizations' draws overlap (a
pool twice the largest N_D leaves them half their samples in common there).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import Tensor

from .epochs import split_sizes

DRAWS = ("prefix", "realization")
VALIDATION_STREAM = 1  # keys the validation split's generator apart from the members' streams
DRAW_STREAM = 2  # keys a realization's shuffle of the pool


def _generator(*words: int) -> torch.Generator:
    seed = int(np.random.SeedSequence(list(words)).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(seed)


def _identity_key(spec, seed: int) -> int:
    """A realization's identity without N_D, as an integer."""
    identity = f"{spec.arch}|{spec.size_label}|{spec.schedule}|{spec.target}|{seed}"
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "little")


def prefix_split(spec) -> tuple[Tensor, Tensor]:
    """(train, validation) indices into the first N_D pool samples: from the study seed
    and N_D alone, the same for every run at that N_D."""
    n_train, n_val = split_sizes(spec.n_d, spec.validation_fraction)
    perm = torch.randperm(spec.n_d, generator=_generator(spec.seed, spec.n_d, VALIDATION_STREAM))
    return perm[n_val:], perm[:n_val]


def realization_split(spec, seed: int, pool: int) -> tuple[Tensor, Tensor]:
    """(train, validation) indices into a pool of ``pool`` samples for realization
    ``seed``: the first N_D of its own shuffle of the pool, split by its own generator."""
    if spec.n_d > pool:
        raise ValueError(f"N_D = {spec.n_d} but the pool holds {pool} samples")
    key = _identity_key(spec, seed)
    chosen = torch.randperm(pool, generator=_generator(spec.seed, key, DRAW_STREAM))[: spec.n_d]
    n_train, n_val = split_sizes(spec.n_d, spec.validation_fraction)
    order = torch.randperm(spec.n_d, generator=_generator(spec.seed, key, spec.n_d, VALIDATION_STREAM))
    return chosen[order[n_val:]], chosen[order[:n_val]]


def member_splits(spec, seeds, pool: int) -> tuple[Tensor, Tensor]:
    """(train (K, n_train), validation (K, n_val)) indices of the members ``seeds`` into
    the job's samples: the first N_D pool samples under ``prefix`` (the same rows for
    every member), the whole pool of ``pool`` samples under ``realization``."""
    if spec.draws == "prefix":
        train, val = prefix_split(spec)
        return train.expand(len(seeds), -1), val.expand(len(seeds), -1)
    splits = [realization_split(spec, seed, pool) for seed in seeds]
    return torch.stack([t for t, _ in splits]), torch.stack([v for _, v in splits])
