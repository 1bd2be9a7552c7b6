"""The joint law L(N_D, N_M) = E + A N_M^-a + B N_D^-b: recovered from cells drawn from
a known law, robust to an outlying cell, intervals that see the lack of fit, the batched
refit against least_squares, held-out check, and the table of a study
(tests/test_calibration.py checks the intervals' coverage over many draws)."""

import numpy as np
import pandas as pd
import pytest
from test_stats import EXPERIMENTS, TRAIN, synthetic_runs

from regscale import joint

TRUE = {"E": 0.03, "A": 20.0, "a": 0.5, "B": 10.0, "b": 0.7}
N_M = [1e3, 4e3, 1.6e4, 6.4e4, 2.56e5, 1.024e6, 4.096e6]
N_D = [224, 448, 896, 1792, 3584, 7168, 14336, 28672]
ANALYSIS = {"fit_nd": [None, None], "fit_nm": [None, None], "bootstrap": 200, "confidence": 0.95}


def cells_from(law: dict, noise: float = 0.03, realizations: int = 5, seed: int = 0, cell_noise=0.0) -> pd.DataFrame:
    """One row per (N_M, N_D): the log10 losses of its realizations around the law, each
    cell shifted by ``cell_noise`` x a normal draw shared by its realizations."""
    rng = np.random.default_rng(seed)
    rows = []
    for n_m in N_M:
        for n_d in N_D:
            centre = np.log10(joint.predict(law, n_m, n_d))
            if cell_noise:
                centre += cell_noise * rng.standard_normal()
            rows.append({"n_m": n_m, "n_d": n_d, "logs": centre + noise * rng.standard_normal(realizations)})
    return pd.DataFrame(rows)


def test_a_known_law_is_recovered_with_intervals_that_cover_it():
    law = joint.joint_law(cells_from(TRUE), 0.95, 200, np.random.default_rng(1))
    assert law["a"] == pytest.approx(TRUE["a"], abs=0.05) and law["b"] == pytest.approx(TRUE["b"], abs=0.05)
    assert law["E"] == pytest.approx(TRUE["E"], rel=0.15)
    for name in joint.PARAMETERS:
        assert law[f"{name}_boot_lo"] <= TRUE[name] <= law[f"{name}_boot_hi"], name
        assert law[f"{name}_boot_lo"] < law[f"{name}_boot_hi"]
    # The 0.03 log10 noise averages over 5 realizations per cell.
    assert law["rms_log10_residual"] < 0.03
    assert law["held_out_n_d"] == max(N_D) and law["held_out_cells"] == len(N_M)
    assert law["held_out_log10_error_max"] < 0.05
    assert (law["n_cells"], law["n_m_min"], law["n_d_max"]) == (len(N_M) * len(N_D), 1000, 28672)


def test_one_outlying_cell_barely_moves_the_law():
    clean = cells_from(TRUE)
    spoiled = clean.copy()
    spoiled.at[7, "logs"] = spoiled.at[7, "logs"] + 1.0  # that cell ten times too lossy
    fits = {}
    for name, cells in (("clean", clean), ("spoiled", spoiled)):
        fits[name], _ = joint.fit_law(cells.n_m, cells.n_d, [np.log(10) * v.mean() for v in cells.logs])
    for name in ("a", "b"):
        assert fits["spoiled"][name] == pytest.approx(fits["clean"][name], abs=0.03), name


def test_a_missing_floor_sits_at_its_bound_not_at_a_wrong_value():
    law = joint.joint_law(cells_from({**TRUE, "E": 0.0}), 0.95, 50, np.random.default_rng(2))
    smallest = 10 ** min(values.mean() for values in cells_from({**TRUE, "E": 0.0}).logs)
    assert law["E"] < 1e-3 * smallest
    assert law["a"] == pytest.approx(TRUE["a"], abs=0.1) and law["b"] == pytest.approx(TRUE["b"], abs=0.1)


def test_the_intervals_widen_with_the_lack_of_fit_not_only_the_seeds():
    # The same tight seeds (0.005 dex), with and without a cell-level scatter of 0.05 dex
    # about the law: resampling seeds would give both the same narrow intervals.
    tight = joint.joint_law(cells_from(TRUE, noise=0.005), 0.95, 200, np.random.default_rng(1))
    loose = joint.joint_law(cells_from(TRUE, noise=0.005, cell_noise=0.05), 0.95, 200, np.random.default_rng(1))
    for name in ("a", "b"):
        narrow, wide = (law_[f"{name}_boot_hi"] - law_[f"{name}_boot_lo"] for law_ in (tight, loose))
        assert wide > 4 * narrow, name
        assert loose[f"{name}_boot_lo"] <= TRUE[name] <= loose[f"{name}_boot_hi"], name
    assert loose["rms_log10_residual"] > 5 * tight["rms_log10_residual"]


def test_the_batched_refit_finds_the_minimum_least_squares_finds():
    cells = cells_from(TRUE, cell_noise=0.05)
    n_m, n_d = cells.n_m.to_numpy(), cells.n_d.to_numpy()
    log_loss = np.log(10) * np.array([values.mean() for values in cells.logs])
    _, theta = joint.fit_law(n_m, n_d, log_loss)
    resampled = log_loss + 0.1 * np.random.default_rng(0).standard_normal((40, len(log_loss)))
    batched, settled = joint.refit_many(theta, n_m, n_d, resampled)
    assert settled.all()
    lower = resampled.min(axis=1) - np.log(1e6)
    assert (batched[:, 0] >= lower - 1e-12).all() and (batched[:, [2, 4]] >= 0).all()
    assert (batched[:, [2, 4]] <= joint.MAX_EXPONENT).all()
    for row, losses in zip(batched, resampled):
        reference = joint._fit_from(theta, np.log(n_m), np.log(n_d), losses)
        cost = joint._huber(np.log(joint.predict(dict(zip(joint.PARAMETERS, _natural(row))), n_m, n_d)) - losses).sum()
        assert cost <= reference.cost * (1 + 1e-6)
        np.testing.assert_allclose(row[[2, 4]], reference.x[[2, 4]], atol=2e-3)
    # A resample of the cells: a cell drawn k times weighs as k copies of it.
    counts = np.random.default_rng(1).multinomial(len(log_loss), np.full(len(log_loss), 1 / len(log_loss)), 5)
    batched, settled = joint.refit_many(theta, n_m, n_d, np.broadcast_to(log_loss, counts.shape), counts)
    assert settled.all()
    for row, repeat in zip(batched, counts):
        copies = [np.repeat(values, repeat) for values in (np.log(n_m), np.log(n_d), log_loss)]
        np.testing.assert_allclose(row[[2, 4]], joint._fit_from(theta, *copies).x[[2, 4]], atol=2e-3)


def _natural(theta):
    log_e, log_a, a, log_b, b = theta
    return np.exp(log_e), np.exp(log_a), a, np.exp(log_b), b


def test_too_few_cells_are_refused_by_name():
    few = cells_from(TRUE)
    few = few[few.n_d.isin(N_D[:2])]
    with pytest.raises(ValueError, match=r"at least 8 cells over 3 N_D and 2 N_M values; got 14 cells, 2 N_D"):
        joint.joint_law(few, 0.95, 10, np.random.default_rng(0))


def test_the_table_has_one_law_per_width_sweep_target_and_is_reproducible():
    runs = synthetic_runs(noise=0.1, seed=5)
    first = joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3)
    # Only the width sweep spans N_M over enough cells: the depth sweep hardly moves N_M,
    # ResNet-18, the ViT and the schedules have one size, the statistics cells are 4.
    assert list(first.columns) == joint.JOINT_COLUMNS
    assert set(first.experiment) == {"fcn_width"} and sorted(first.target) == ["D", "J", "theta"]
    assert (first.n_cells == 25).all() and (first.held_out_n_d == 1024).all()
    assert np.isfinite(first[["a", "b", "a_boot_lo", "b_boot_hi", "held_out_log10_error_mean"]].to_numpy()).all()
    pd.testing.assert_frame_equal(first, joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3))
    narrower = joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS | {"fit_nd": [128, None]}, seed=3)
    assert (narrower.n_cells == 20).all() and (narrower.n_d_min == 128).all()
