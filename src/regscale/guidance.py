"""Cost-aware guidance (docs/study.md, section 3): from each fitted joint law
(regscale.joint) and the measured throughput (resources/throughput.yaml), the N_D and
N_M that reach a target test error at least cost.

The cost of one realization at (N_D, N_M), in hours of the measured device, is
simulating its N_D samples plus training it, costed as regscale.plan costs a study:
samples x spins x relaxation steps over the measured spin-step rate, and the samples
one run processes at N_D (every run to its last epoch) over the measured training rate
at N_M (scaled in proportion to N_M beyond the largest measured model). The training
rates were measured on the benchmark's images; a rate at a given N_M carries over to
other images roughly, as an FCN's cost per sample follows its parameter count.

For a target error L*, the law gives at each N_M the fewest samples that reach it,
N_D = (B / (L* - E - A N_M^-a))^(1/b) where L* > E + A N_M^-a; the cheapest N_M on a
log grid wins. Targets: the law at the study's largest cell (N_M and N_D at their
maxima), and a half and a quarter of it. Beyond the study's largest N_M or N_D the
answer is an extrapolation of the law, and flagged so.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from . import plan
from .joint import PARAMETERS, predict

log = logging.getLogger(__name__)

TARGET_FRACTIONS = (1.0, 0.5, 0.25)  # of the law's loss at the study's largest cell
N_M_GRID = 201  # log-spaced model sizes from the smallest fitted to 10 x the largest
MAX_N_D = 1e12  # beyond this a target counts as out of reach
GUIDANCE_COLUMNS = [
    "experiment", "arch", "schedule", "model_target", "target", "fraction", "target_error", "reachable",
    "n_d", "n_m", "simulate_hours", "train_hours", "total_hours", "extrapolated", "device",
]  # fmt: skip


def samples_needed(law: dict, target_error: float, n_m: np.ndarray) -> np.ndarray:
    """The N_D at which the law reaches ``target_error`` for each N_M; inf where it never does."""
    margin = target_error - law["E"] - law["A"] * np.asarray(n_m, dtype=float) ** -law["a"]
    with np.errstate(divide="ignore", invalid="ignore"):
        n_d = np.where(margin > 0, (law["B"] / margin) ** (1 / law["b"]), np.inf)
    return np.where(n_d <= MAX_N_D, np.ceil(np.maximum(n_d, 2)), np.inf)


def realization_hours(config: dict, rates: dict, arch: str, schedule: str, n_d: int, n_m: float) -> tuple:
    """(simulation, training) hours of one realization at (N_D, N_M)."""
    simulate = n_d * plan.seconds_per_sample(config, rates)
    train = plan.samples_per_run(config, arch, schedule, n_d) / plan.samples_per_second(plan.train_rates(rates, arch), n_m)
    return simulate / 3600, train / 3600


def cheapest(config: dict, rates: dict, row: pd.Series, target_error: float) -> dict:
    """The cheapest (N_D, N_M) of one law for one target error."""
    law = {name: row[name] for name in PARAMETERS}
    n_m = np.geomspace(row["n_m_min"], 10 * row["n_m_max"], N_M_GRID)
    n_d = samples_needed(law, target_error, n_m)
    best = None
    for d, m in zip(n_d, n_m):
        if math.isfinite(d):
            hours = realization_hours(config, rates, row["arch"], row["schedule"], int(d), m)
            if best is None or sum(hours) < sum(best[2]):
                best = (int(d), m, hours)
    if best is None:
        return {"reachable": False}
    d, m, (simulate, train) = best
    return {
        "reachable": True,
        "n_d": d,
        "n_m": int(round(m)),
        "simulate_hours": simulate,
        "train_hours": train,
        "total_hours": simulate + train,
        "extrapolated": bool(d > row["n_d_max"] or m > row["n_m_max"]),
    }


def guidance(laws: pd.DataFrame, config: dict, device: str, rates: dict) -> pd.DataFrame:
    """guidance.csv: for every law and target fraction, the cheapest way to reach it."""
    rows = []
    for _, row in laws.iterrows():
        if row["arch"] not in rates["train"]:
            log.warning("no guidance for %s (%s): no training throughput measured for it", row["experiment"], row["arch"])
            continue
        best_error = float(predict(row, row["n_m_max"], row["n_d_max"]))
        for fraction in TARGET_FRACTIONS:
            target_error = fraction * best_error
            key = {name: row[name] for name in ("experiment", "arch", "schedule", "model_target", "target")}
            answer = cheapest(config, rates, row, target_error)
            rows.append(key | {"fraction": fraction, "target_error": target_error, "device": device} | answer)
    table = pd.DataFrame(rows, columns=GUIDANCE_COLUMNS)
    return table.astype({"n_d": "Int64", "n_m": "Int64"})
