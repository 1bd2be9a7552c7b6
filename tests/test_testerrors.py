"""Per-sample test errors (regscale.testerrors) from the tiny study's real models, and the
joint law's bootstrap that redraws the test set with them (regscale.joint)."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY
from test_joint import ANALYSIS
from test_stats import EXPERIMENTS, TRAIN, synthetic_runs

from regscale import fits, joint, shards, testerrors


@pytest.fixture(scope="module")
def study(tiny_study):
    runs = pd.read_csv(tiny_study / "results/tables/runs.csv")
    runs["run"] = [str(tiny_study / run) for run in runs["run"]]
    shard_size = yaml.safe_load(TINY.read_text())["data"]["shard_size"]
    test_files = shards.shards_for(int(runs["n_test"].max()), shard_size, "test", tiny_study / "resources/shards")
    return runs, test_files


def test_every_error_row_averages_to_its_run_s_test_mse(study, tiny_study):
    runs, test_files = study
    fcn = runs[(runs.arch == "fcn") & ~runs.excluded].head(12)
    arrays = testerrors.test_errors(fcn, test_files, log=lambda line: None)
    n_test = int(fcn["n_test"].iloc[0])
    assert arrays["errors"].shape == (len(fcn), n_test) and arrays["errors"].dtype == np.float64
    assert (arrays["errors"] >= 0).all()
    _, table = shards.load(test_files, n_test)
    assert list(arrays["sample"]) == list(table["sample"])
    by_key = fcn.set_index(["run", "target"])["test_mse"]
    for run, target, errors in zip(arrays["run"], arrays["target"], arrays["errors"]):
        assert errors.mean() == pytest.approx(by_key[run, target], rel=1e-12)
    # Scaled by float rounding only: the model, evaluated here, gives back its test MSE.
    images, table = shards.load(test_files, n_test)
    raw = testerrors.squared_errors(f"{arrays['run'][0]}/model.pt", images, table)[arrays["target"][0]]
    assert raw == pytest.approx(arrays["errors"][0], rel=1e-4)


def test_the_file_round_trips_by_run_and_target(study, tmp_path):
    runs, test_files = study
    fcn = runs[(runs.arch == "fcn") & ~runs.excluded].head(3)
    arrays = testerrors.test_errors(fcn, test_files, log=lambda line: None)
    testerrors.write(tmp_path / "test_errors.npz", arrays)
    read = testerrors.read(tmp_path / "test_errors.npz")
    assert set(read) == set(zip(fcn["run"], fcn["target"]))
    np.testing.assert_array_equal(read[arrays["run"][1], arrays["target"][1]], arrays["errors"][1])


def test_a_model_that_does_not_match_its_metrics_is_named(study):
    runs, test_files = study
    one = runs[(runs.arch == "fcn") & ~runs.excluded].head(1).copy()
    one["test_mse"] *= 2
    with pytest.raises(ValueError, match=r"nd~\d+/seeds~[\d-]+/seed~\d+: its model.pt gives a test MSE .* re-run"):
        testerrors.test_errors(one, test_files, log=lambda line: None)


def test_the_study_writes_the_errors_of_every_run_it_fits(tiny_study):
    runs = pd.read_csv(tiny_study / "results/tables/runs.csv")
    wanted = runs[~runs["excluded"].astype(bool)]
    assert len(wanted) > 10 and set(wanted["arch"]) == {"fcn", "resnet18", "vit"}
    errors = testerrors.read(tiny_study / "results/tables/test_errors.npz")
    assert set(errors) == set(zip(wanted["run"], wanted["target"]))
    for row in wanted.itertuples():
        assert errors[row.run, row.target].mean() == pytest.approx(row.test_mse, rel=1e-12)


def test_one_test_set_draw_serves_every_cell_of_a_resample():
    rng = np.random.default_rng(0)
    shared = rng.exponential(size=(5, 40))
    same = fits.redrawn_test_losses([shared, shared.copy(), shared.copy()], 30, np.random.default_rng(1))
    assert same.shape == (30, 3)
    np.testing.assert_array_equal(same[:, 0], same[:, 2])
    assert same[:, 0].std() > 0
    flat = fits.redrawn_test_losses([np.full((4, 40), 0.25)], 10, np.random.default_rng(1))
    np.testing.assert_allclose(flat, np.log(0.25))


def synthetic_test_errors(runs: pd.DataFrame, samples: int = 64, seed: int = 0) -> dict:
    """{(run, target): errors} whose mean is the run's test MSE, and whose share on the
    few hard samples grows with N_D, as a real regressor's does."""
    rng = np.random.default_rng(seed)
    hardness = rng.exponential(size=samples) ** 3
    out = {}
    for row in runs.itertuples():
        profile = hardness ** (np.log2(row.n_d / 32) / 4) * rng.exponential(size=samples)
        out[row.run, row.target] = profile * row.test_mse / profile.mean()
    return out


def test_redrawing_the_test_set_widens_the_law_s_data_exponent_and_is_reproducible():
    runs = synthetic_runs(noise=0.1, seed=5)
    errors = synthetic_test_errors(runs)
    cells_only = joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3)
    with_test = joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3, test_errors=errors)
    assert (cells_only.resampled == "cells").all() and (with_test.resampled == "cells, test samples").all()
    # The same point estimates: the test errors only enter the resamples.
    np.testing.assert_allclose(with_test[["a", "b", "E"]], cells_only[["a", "b", "E"]])
    width = {name: (t.b_boot_hi - t.b_boot_lo).to_numpy() for name, t in (("cells", cells_only), ("test", with_test))}
    assert (width["test"] > width["cells"]).all()
    again = joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3, test_errors=errors)
    pd.testing.assert_frame_equal(with_test, again)


def test_a_law_run_without_test_errors_is_named():
    runs = synthetic_runs(noise=0.1, seed=5)
    errors = synthetic_test_errors(runs)
    lost = runs[(runs.arch == "fcn") & (runs.target == "J")].run.iloc[0]
    errors.pop((lost, "J"))
    with pytest.raises(ValueError, match="test_errors.npz lacks 1 runs of the J law, e.g. .*remake it"):
        joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3, test_errors=errors)


def test_redrawing_the_test_set_widens_the_exponents_and_is_reproducible():
    runs = synthetic_runs(noise=0.1, seed=5)
    errors = synthetic_test_errors(runs)
    analysis = dict(ANALYSIS, bootstrap=400)
    plain = fits.fit_all(runs, EXPERIMENTS, TRAIN, analysis, seed=3)
    redrawn = fits.fit_all(runs, EXPERIMENTS, TRAIN, analysis, seed=3, test_errors=errors)
    again = fits.fit_all(runs, EXPERIMENTS, TRAIN, analysis, seed=3, test_errors=errors)
    for before, after in zip(plain, redrawn):
        assert (before.resampled == "residuals").all() and (after.resampled == "residuals, test samples").all()
    exponents, with_test = plain[0], redrawn[0]
    # The same estimates and regression intervals: the test errors enter the resamples alone.
    np.testing.assert_allclose(with_test[["alpha", "alpha_lo", "alpha_hi"]], exponents[["alpha", "alpha_lo", "alpha_hi"]])
    # The hard samples weigh more at large N_D, so a redraw tilts the data exponents.
    data = exponents.axis == "data"
    widths = [(t.alpha_boot_hi - t.alpha_boot_lo)[data].to_numpy() for t in (exponents, with_test)]
    assert np.median(widths[1] / widths[0]) > 1.05, widths
    pd.testing.assert_frame_equal(redrawn[0], again[0])
    pd.testing.assert_frame_equal(redrawn[1], again[1])


def test_a_fitted_run_without_test_errors_is_named():
    runs = synthetic_runs(noise=0.1, seed=5)
    errors = synthetic_test_errors(runs)
    lost = runs[(runs.arch == "fcn") & (runs.target == "D")].run.iloc[0]
    errors.pop((lost, "D"))
    with pytest.raises(ValueError, match=r"test_errors.npz lacks 1 runs, e.g. .* \(D\): remake it"):
        fits.fit_all(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=3, test_errors=errors)


def test_every_fit_of_a_study_shares_its_test_set_draws():
    # Cells with identical errors per test sample: one shared draw moves them alike, so a
    # line through them keeps its slope in every resample, as a single fit shows; the
    # trend, a line through several fits' exponents, is built from the same draws.
    errors = np.random.default_rng(2).exponential(size=(3, 50))
    logs = [np.full(3, -1.0 - 0.5 * k) for k in range(4)]
    x = np.array([16.0, 32.0, 64.0, 128.0])
    draws = fits.test_draws(50, 200, np.random.default_rng(0))
    shared = fits.redrawn_test_losses([errors] * 4, 200, None, draws)
    assert shared.shape == (200, 4) and np.ptp(shared, axis=1).max() == 0
    runs = synthetic_runs(noise=0.1, seed=5)
    test_errors = synthetic_test_errors(runs)
    first = fits._study_test_draws(test_errors, 100, seed=3)
    np.testing.assert_array_equal(first, fits._study_test_draws(test_errors, 100, seed=3))
    assert first.shape == (100, 64) and np.allclose(first.sum(axis=1), 1.0)
    assert fits._study_test_draws(None, 100, seed=3) is None
    row, _ = fits.power_law(x, logs, 0.95, 200, np.random.default_rng(1), [errors] * 4, draws)
    assert row["resampled"] == "residuals, test samples"
