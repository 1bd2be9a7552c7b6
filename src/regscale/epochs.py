"""How long a run trains: the split of N_D into training and validation samples, the
batches of an epoch and the number of epochs. One place for this arithmetic, used by
the trainer (regscale.train) and the planner (regscale.plan), so the two cannot drift.

An epoch (one validation check, the unit of patience and early stopping) is as many
passes over the training samples as it takes to make at least
``train.archs.<arch>.min_epoch_steps`` optimizer steps, so that the schedule means the
same amount of training at every N_D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .schedules import Schedule


def split_sizes(n_d: int, fraction: float) -> tuple[int, int]:
    """(n_train, n_val): at least one sample on each side."""
    if n_d < 2:
        raise ValueError(f"N_D = {n_d}: need at least 2 samples (one to train, one to validate)")
    n_val = min(max(1, round(fraction * n_d)), n_d - 1)
    return n_d - n_val, n_val


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Edges of ceil(n / batch_size) batches of near-equal size."""
    count = math.ceil(n / batch_size)
    return [round(i * n / count) for i in range(count + 1)]


@dataclass(frozen=True)
class EpochPlan:
    n_train: int
    n_val: int
    passes: int  # passes over the training samples per epoch, each in a fresh order
    bounds: tuple[int, ...]  # batch edges within an epoch's passes laid end to end
    epochs: int  # the most epochs a run may last

    @property
    def batches(self) -> int:
        """Optimizer steps per epoch."""
        return len(self.bounds) - 1

    @property
    def total_steps(self) -> int:
        return self.epochs * self.batches

    @property
    def samples(self) -> int:
        """Training samples a run processes at most."""
        return self.passes * self.n_train * self.epochs


def epoch_plan(n_d: int, validation_fraction: float, optimizer: dict, schedule: Schedule) -> EpochPlan:
    """The epochs of a run at N_D with ``optimizer`` (train.archs.<arch>) settings."""
    n_train, n_val = split_sizes(n_d, validation_fraction)
    per_pass = batch_bounds(n_train, optimizer["batch_size"])
    passes = math.ceil(optimizer.get("min_epoch_steps", 1) / (len(per_pass) - 1))
    bounds = [p * n_train + b for p in range(passes) for b in per_pass[:-1]] + [passes * n_train]
    epochs = schedule.epochs(n_d, len(bounds) - 1, optimizer["max_epochs"])
    return EpochPlan(n_train, n_val, passes, tuple(bounds), epochs)
