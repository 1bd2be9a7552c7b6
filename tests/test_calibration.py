"""Calibration of the intervals on known answers (issue 14, point 4; issue 15, point 6).

Synthetic studies on the default study's grid (the FCN width sweep: widths 8 to 64 at
depth 3, N_D = 128 ... 2048 doubling, 5 seeds) draw every loss from a planted joint law
L(N_D, N_M) = E + A N_M^-a + B N_D^-b times two log-normal factors:

- LACK_OF_FIT, one per cell and shared by its seeds: what a law cannot capture (each
  cell trains on its own prefix of the pool; the loss bends where no power law does).
- SEED_SD, one per realization: the scatter of the seeds within a cell.

Their sizes come from the fit the tracker quotes (issue 14: FCN width 16, J, constant
schedule, alpha_D = 1.34, regression interval [0.80, 1.87] and seed bootstrap
[1.29, 1.38] on five N_D): the seed bootstrap's half-width 0.045 gives 0.055 dex per
realization, the regression's (t with 3 degrees of freedom) a scatter of the cells
about the line of 0.16 dex. No runs table of a study was at hand to measure more; the
calibration uses 0.1 dex for the lack of fit, between none and that worst case (the
README gives the coverage at 0, 0.05, 0.1 and 0.16).

Every draw is fitted as the study fits it (fits.power_law per width, joint.joint_law),
and the 95 % intervals must contain the planted values 90 to 98 % of the time over
DRAWS draws: for alpha_D the planted value is the least-squares slope of the planted
law's log10 loss over the five N_D (the law bends, so that is what a line through it
estimates); for the joint law, a and b themselves.
"""

import numpy as np
import pandas as pd
import pytest
from test_stats import n_params

from regscale import fits, joint

N_D = np.array([128, 256, 512, 1024, 2048])
WIDTHS = (8, 16, 32, 64)
N_M = np.array([n_params("fcn", {"width": width, "depth": 3}) for width in WIDTHS])
SEEDS = 5
SEED_SD = 0.055  # log10 scatter of one realization's loss about its cell
LACK_OF_FIT = 0.1  # log10 scatter of a cell about the law, shared by its seeds
# The loss falls from 0.1 at N_D = 128; the model term is 5e-3 at width 8 and falls
# 24-fold to width 64, so alpha_D runs from 1.0 (width 8, bent by the model term) to
# 1.44 (width 64), about the quoted 1.34 at the middle widths.
LAW = {"E": 1e-4, "A": 5e-3 * N_M[0] ** 1.5, "a": 1.5, "B": 0.1 * 128**1.5, "b": 1.5}
DRAWS = 200
# The study resamples 1000 times; 200 resamples a draw keep the 200 draws in about half
# a minute. Fewer resamples only add noise to the interval's ends, which lowers coverage
# a little: the check is, if anything, harder than the study's intervals.
N_BOOT = 200
CONFIDENCE = 0.95


def draw_cells(rng: np.random.Generator, lack_of_fit: float = LACK_OF_FIT) -> pd.DataFrame:
    """One synthetic width sweep: a row per (n_m, n_d) with its seeds' log10 losses."""
    rows = []
    for n_m in N_M:
        for n_d in N_D:
            centre = np.log10(joint.predict(LAW, n_m, n_d)) + lack_of_fit * rng.standard_normal()
            rows.append({"n_m": n_m, "n_d": n_d, "logs": centre + SEED_SD * rng.standard_normal(SEEDS)})
    return pd.DataFrame(rows)


def planted_alpha(n_m: float) -> float:
    """The slope of the least-squares line through the planted law's log10 loss at n_m."""
    x = np.log10(N_D) - np.log10(N_D).mean()
    return -np.log10(joint.predict(LAW, n_m, N_D)) @ x / (x @ x)


def seed_bootstrap(logs: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """The interval the study gave before: resampling the seeds within each cell alone."""
    x = np.log10(N_D) - np.log10(N_D).mean()
    means = np.stack([values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1) for values in logs], 1)
    alphas = -(means - means.mean(axis=1, keepdims=True)) @ x / (x @ x)
    return tuple(np.quantile(alphas, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]))


def coverage(draws: int, n_boot: int, lack_of_fit: float = LACK_OF_FIT, seed: int = 2025) -> pd.DataFrame:
    """One row per draw and width: whether each interval holds its planted value."""
    rng = np.random.default_rng(seed)
    rows = []
    for draw in range(draws):
        cells = draw_cells(rng, lack_of_fit)
        law = joint.joint_law(cells, CONFIDENCE, n_boot, rng)
        joint_cover = {f"{name}_in": law[f"{name}_boot_lo"] <= LAW[name] <= law[f"{name}_boot_hi"] for name in "ab"}
        for n_m, group in cells.groupby("n_m"):
            row, _ = fits.power_law(group.n_d.to_numpy(), list(group.logs), CONFIDENCE, n_boot, rng)
            truth = planted_alpha(n_m)
            seeds_lo, seeds_hi = seed_bootstrap(list(group.logs), n_boot, rng)
            rows.append(
                {"draw": draw, "n_m": n_m, "alpha_planted": truth} | joint_cover
                | {"boot_in": row["alpha_boot_lo"] <= truth <= row["alpha_boot_hi"]}
                | {"regression_in": row["alpha_lo"] <= truth <= row["alpha_hi"]}
                | {"seeds_in": seeds_lo <= truth <= seeds_hi}
            )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def calibration() -> pd.DataFrame:
    return coverage(DRAWS, N_BOOT)


def test_a_draw_gives_back_the_planted_exponents_within_their_intervals():
    cells = draw_cells(np.random.default_rng(7))
    law = joint.joint_law(cells, CONFIDENCE, 1000, np.random.default_rng(8))
    for name in ("a", "b"):
        assert law[f"{name}_boot_lo"] < LAW[name] < law[f"{name}_boot_hi"], name
    assert law["b"] == pytest.approx(LAW["b"], abs=0.3)
    for n_m, group in cells.groupby("n_m"):
        row, _ = fits.power_law(group.n_d.to_numpy(), list(group.logs), CONFIDENCE, 1000, np.random.default_rng(9))
        assert row["alpha_boot_lo"] < planted_alpha(n_m) < row["alpha_boot_hi"], n_m
        assert row["alpha"] == pytest.approx(planted_alpha(n_m), abs=0.4)


def test_the_exponent_intervals_hold_the_planted_alpha_d(calibration):
    assert len(calibration) == DRAWS * len(WIDTHS)
    # Pooled over the four widths (800 intervals), and at each width (200).
    assert 0.90 <= calibration.boot_in.mean() <= 0.98
    by_width = calibration.groupby("n_m").boot_in.mean()
    assert by_width.between(0.88, 0.99).all(), by_width.to_dict()
    assert 0.90 <= calibration.regression_in.mean() <= 0.98


def test_the_joint_law_intervals_hold_the_planted_a_and_b(calibration):
    per_draw = calibration.drop_duplicates("draw")
    assert len(per_draw) == DRAWS
    assert 0.90 <= per_draw.a_in.mean() <= 0.98, per_draw.a_in.mean()
    assert 0.90 <= per_draw.b_in.mean() <= 0.98, per_draw.b_in.mean()


def test_resampling_seeds_alone_would_not_hold(calibration):
    # The mistake of issue 14: seeds alone ignore the lack of fit.
    assert calibration.seeds_in.mean() < 0.6
