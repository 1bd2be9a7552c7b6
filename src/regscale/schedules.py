"""Learning-rate schedules, one per name under ``schedules`` in the config.

The base learning rate is the architecture's ``train.archs.<arch>.lr``. Kinds and keys
(defaults in brackets):

- ``constant``: the base rate for ``max_epochs`` epochs; optional ``early_stop`` [none].
- ``plateau``: reduce-on-plateau of the validation loss. After more than ``patience``
  [10] epochs without a new best validation loss the rate is multiplied by ``factor``
  [0.5], never below ``min_lr`` [0]; training stops after ``early_stop`` [20] epochs
  without a new best, or at ``max_epochs``.
- ``onecycle`` and ``cosine``: a length that scales with N_D. The schedule spans
  ``steps_per_sample * N_D`` optimizer steps [1.0], clipped to [``min_steps``,
  ``max_steps``] [100, 100000] and rounded up to whole epochs (the arch's max_epochs
  does not apply). ``onecycle`` warms up from base / ``div_factor`` [25] to the base
  rate over the first ``pct_start`` [0.3] of the steps and anneals to
  base / (div_factor * ``final_div_factor`` [1e4]), both by half cosines (as
  torch.optim.lr_scheduler.OneCycleLR); ``cosine`` anneals from the base rate to
  ``min_lr`` [0].

Every realization keeps its own rate, best loss and patience counters, so the state is
arrays over the members of a group; see regscale.train.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KEYS = {
    "constant": {"early_stop"},
    "plateau": {"factor", "patience", "min_lr", "early_stop"},
    "onecycle": {"steps_per_sample", "min_steps", "max_steps", "pct_start", "div_factor", "final_div_factor"},
    "cosine": {"steps_per_sample", "min_steps", "max_steps", "min_lr"},
}


@dataclass(frozen=True)
class Schedule:
    kind: str
    factor: float = 0.5
    patience: int = 10
    min_lr: float = 0.0
    early_stop: int | None = None
    steps_per_sample: float = 1.0
    min_steps: int = 100
    max_steps: int = 100_000
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1.0e4

    @classmethod
    def from_config(cls, settings: dict) -> "Schedule":
        """From one entry of ``schedules``; ValueError for a key its kind does not take."""
        kind = settings.get("kind")
        if kind not in KEYS:
            raise ValueError(f"unknown schedule kind {kind!r}; expected one of {sorted(KEYS)}")
        extra = sorted(set(settings) - KEYS[kind] - {"kind"})
        if extra:
            raise ValueError(f"a {kind} schedule does not take {extra}; it takes {sorted(KEYS[kind])}")
        values = dict(settings)
        if kind == "plateau":
            values.setdefault("early_stop", 20)
        schedule = cls(**values)
        if schedule.per_step and schedule.min_steps > schedule.max_steps:
            raise ValueError(f"min_steps {schedule.min_steps} exceeds max_steps {schedule.max_steps}")
        return schedule

    def settings(self) -> dict:
        """The keys that matter for this kind, defaults filled: what shapes a run."""
        return {"kind": self.kind} | {key: getattr(self, key) for key in sorted(KEYS[self.kind])}

    @property
    def per_step(self) -> bool:
        """The rate is a function of the optimizer step (and the same for all members)."""
        return self.kind in ("onecycle", "cosine")

    def epochs(self, n_d: int, steps_per_epoch: int, max_epochs: int) -> int:
        """How many epochs a run may last."""
        if not self.per_step:
            return max_epochs
        steps = min(max(math.ceil(self.steps_per_sample * n_d), self.min_steps), self.max_steps)
        return math.ceil(steps / steps_per_epoch)

    def rate(self, base: float, step: int, total: int) -> float:
        """Rate of the per-step kinds at optimizer step ``step`` (0-based) of ``total``."""
        progress = step / max(total - 1, 1)
        if self.kind == "cosine":
            return self.min_lr + (base - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        start = base / self.div_factor
        end = start / self.final_div_factor
        if progress < self.pct_start:
            return start + (base - start) * 0.5 * (1 - math.cos(math.pi * progress / self.pct_start))
        return end + (base - end) * 0.5 * (1 + math.cos(math.pi * (progress - self.pct_start) / (1 - self.pct_start)))

    def reduce(self, lr: float) -> float:
        """Plateau: the next, lower rate."""
        return max(lr * self.factor, self.min_lr)
