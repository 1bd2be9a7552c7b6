"""Known-answer tests of the power-law fits: losses drawn from eps = A N_D^-alpha(N_M)
with log-normal seed noise (see test_stats.synthetic_records) must give back alpha,
the model-size exponent a log10(N_D) and the trend's a and b; the residual bootstrap
must see the lack of fit that resampling seeds misses (tests/test_calibration.py checks
its coverage over many draws)."""

import math

import numpy as np
import pandas as pd
import pytest
from test_stats import EXPERIMENTS, LAW, TRAIN, n_params, synthetic_runs, true_alpha

from regscale import fits, study

ANALYSIS = {"fit_nd": [None, None], "fit_nm": [None, None], "bootstrap": 400, "confidence": 0.95}


@pytest.fixture(scope="module")
def runs():
    return synthetic_runs(noise=0.3, seed=5)


@pytest.fixture(scope="module")
def fitted(runs):
    return fits.fit_all(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=1)


def test_line_fit_is_exact_on_a_line_and_refuses_two_points():
    fit = fits.line_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1) and fit["r2"] == pytest.approx(1)
    with pytest.raises(ValueError, match="at least 3 points"):
        fits.line_fit([0, 1], [1, 3])


def test_data_exponents_recover_the_true_alpha(fitted):
    exponents, _ = fitted
    data = exponents[exponents.axis == "data"]
    # Every series with >= 3 N_D: 5 widths x 3 targets, 2 depths, 2 schedules, ResNet, ViT x 3 targets.
    assert len(data) == 15 + 2 + 2 + 3 + 3
    inside_regression = inside_boot = 0
    for row in data.itertuples():
        truth = true_alpha(row.n_m, row.target, row.schedule)
        # The exponent's sampling spread: seed noise of the mean log10 loss over the spread of log10 N_D.
        seeds = 1 if row.arch in ("resnet18", "vit") else 5
        spread = 0.3 / math.log(10) / math.sqrt(seeds) / np.log10([64, 128, 256, 512, 1024]).std() / math.sqrt(5)
        assert row.alpha == pytest.approx(truth, abs=4 * spread), row
        assert row.alpha_lo < row.alpha < row.alpha_hi
        assert row.alpha_boot_lo < row.alpha < row.alpha_boot_hi
        inside_regression += row.alpha_lo <= truth <= row.alpha_hi
        inside_boot += row.alpha_boot_lo <= truth <= row.alpha_boot_hi
        assert (row.fit_min, row.fit_max, row.n_points) == (64, 1024, 5)
        assert row.r2 > 0.9
    # 95% intervals: most of the 25 series cover the truth (binomial: >= 20 is near certain).
    assert inside_regression >= 20 and inside_boot >= 18


def test_bootstrap_interval_shrinks_with_less_noise():
    quiet = fits.data_exponents(synthetic_runs(noise=0.05, seed=5), n_boot=200, seed=1)
    noisy = fits.data_exponents(synthetic_runs(noise=0.5, seed=5), n_boot=200, seed=1)
    width = lambda frame: (frame.alpha_boot_hi - frame.alpha_boot_lo).median()  # noqa: E731
    assert width(quiet) < width(noisy) / 5


def test_single_realization_cells_still_have_an_interval(fitted):
    exponents, _ = fitted
    resnet = exponents[(exponents.arch == "resnet18") & (exponents.axis == "data")]
    # One seed per cell: resampling seeds would return the data itself, a zero-width
    # interval; the residuals still show how far the cells scatter about the line.
    assert len(resnet) == 3 and (resnet.alpha_boot_hi - resnet.alpha_boot_lo > 0.05).all()


def test_the_bootstrap_sees_the_lack_of_fit_that_seeds_miss():
    # Five cells whose five seeds agree to 0.01 dex, but whose means scatter about the
    # line by 0.1 dex (a cell-level effect shared by its seeds, as from one training set).
    rng = np.random.default_rng(3)
    n_d = np.array([128, 256, 512, 1024, 2048])
    offsets = np.array([0.08, -0.12, 0.1, -0.05, 0.03])
    logs = [1 - 1.3 * np.log10(n) + offset + 0.01 * rng.standard_normal(5) for n, offset in zip(n_d, offsets)]
    row, alphas = fits.power_law(n_d, logs, 0.95, 2000, np.random.default_rng(4))
    regression, boot = row["alpha_hi"] - row["alpha_lo"], row["alpha_boot_hi"] - row["alpha_boot_lo"]
    assert 0.7 < boot / regression < 1.3  # both see the scatter of the cells (t with 3 df)
    seeds_only = 2 * 1.96 * 0.01 / np.sqrt(5) / np.log10(n_d).std() / np.sqrt(5)  # what resampling seeds sees
    assert boot > 20 * seeds_only
    assert alphas.shape == (2000,) and row["n_boot"] == 2000


def test_residual_resamples_have_the_unbiased_spread_and_t_tails():
    residuals = np.array([0.3, -0.1, -0.4, 0.2, 0.0])  # five residuals of a line: 3 degrees of freedom
    draws = fits.residual_resamples(residuals, 2, 200_000, np.random.default_rng(0))
    assert draws.shape == (200_000, 5)
    # Without the drawn scale the spread is s^2 = sum(e^2) / 3; the scale's chi-square
    # draw multiplies the variance by df / (df - 2) = 3 on average (Student's t, 3 df).
    s2 = (residuals**2).sum() / 3
    assert draws.var() == pytest.approx(3 * s2, rel=0.1)
    assert np.median(np.abs(draws)) < np.sqrt(s2)  # heavy tails: most draws are inside s
    with pytest.raises(ValueError, match="more points"):
        fits.residual_resamples(residuals[:2], 2, 10, np.random.default_rng(0))


def test_bootstrap_and_regression_intervals_agree_without_lack_of_fit(fitted):
    # A straight line with normal scatter: the t-calibrated bootstrap is the regression
    # interval up to the shape of five resampled residuals.
    exponents, _ = fitted
    data = exponents[(exponents.axis == "data") & (exponents.arch == "fcn")]
    ratio = (data.alpha_boot_hi - data.alpha_boot_lo) / (data.alpha_hi - data.alpha_lo)
    assert 0.8 < ratio.median() < 1.2


def test_model_exponents_follow_a_log10_nd(fitted):
    exponents, _ = fitted
    model = exponents[(exponents.axis == "model") & (exponents.experiment == "fcn_width")]
    assert len(model) == 3 * 5 and model["size"].isna().all() and model.n_m.isna().all()
    for row in model.itertuples():
        truth = LAW[row.target][0] * math.log10(row.n_d)
        assert row.alpha == pytest.approx(truth, abs=5 * row.alpha_se + 0.02), row
    # Not fitted: the depth sweep (3 sizes, but N_M within 2% of each other: a slope
    # across them would be noise), statistics (2 sizes) and single sizes.
    assert set(exponents[exponents.axis == "model"].experiment) == {"fcn_width"}


def test_trend_recovers_a_and_b_without_the_largest_model():
    # Little noise: with 4 sizes the trend's own interval is wide at the default noise.
    _, trend = fits.fit_all(synthetic_runs(noise=0.1, seed=5), EXPERIMENTS, TRAIN, ANALYSIS, seed=1)
    width = trend[trend.experiment == "fcn_width"].set_index("target")
    assert set(width.index) == {"theta", "J", "D"} and set(trend.experiment) == {"fcn_width"}
    largest = n_params("fcn", {"width": 64, "depth": 3})
    for target, (a, b) in LAW.items():
        row = width.loc[target]
        assert row.left_out_n_m == largest and row.fit_max < largest and row.n_points == 4
        assert row.a == pytest.approx(a, abs=0.05) and row.b == pytest.approx(b, abs=0.05)
        assert row.a_boot_lo < a < row.a_boot_hi and row.b_lo < b < row.b_hi and row.a_lo < a < row.a_hi


def test_no_trend_across_a_depth_sweep():
    # Five depths at width 16, as in configs/paper.yaml: enough sizes for a trend, but
    # N_M moves by under 1% across them, so a slope of alpha_D in log N_M is noise.
    experiments = EXPERIMENTS | {
        "fcn_depth": {"arch": "fcn", "sizes": [{"width": 16, "depth": d} for d in range(1, 6)], "targets": ["J"]}
    }
    runs = synthetic_runs(config={"seed": 11, "train": TRAIN, "experiments": experiments}, noise=0.1, seed=5)
    exponents, trend = fits.fit_all(runs, experiments, TRAIN, ANALYSIS | {"bootstrap": 50}, seed=1)
    assert set(trend.experiment) == {"fcn_width"}
    depth = exponents[(exponents.axis == "data") & (exponents.arch == "fcn") & (exponents.target == "J")]
    assert {"depth~1", "depth~5"} <= {label.split("/")[-1] for label in depth["size"]}  # alpha_D per depth stays


def test_fit_ranges_are_applied_and_recorded(runs):
    analysis = ANALYSIS | {"fit_nd": [100, None], "fit_nm": [None, 50_000]}
    exponents, _ = fits.fit_all(runs, EXPERIMENTS, TRAIN, analysis, seed=1)
    data = exponents[exponents.axis == "data"]
    assert (data.fit_min == 128).all() and (data.n_points == 4).all()
    model = exponents[(exponents.axis == "model") & (exponents.experiment == "fcn_width")]
    assert (model.fit_max <= 50_000).all() and (model.n_points == 3).all()
    # Too narrow a range: no fit, no row, no error.
    narrow = fits.data_exponents(runs, fit_nd=[500, None])
    assert narrow.empty and list(narrow.columns) == fits.EXPONENT_COLUMNS


def test_fits_are_reproducible_and_exclude_diverged_runs(runs, fitted):
    again, _ = fits.fit_all(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=1)
    pd.testing.assert_frame_equal(again, fitted[0])
    # A diverged run with an absurd loss changes nothing once flagged.
    broken = runs.copy()
    broken.loc[0, ["test_mse", "excluded"]] = [1e9, True]
    refit = fits.data_exponents(broken, n_boot=50, seed=1)
    clean = fits.data_exponents(runs.drop(index=0), n_boot=50, seed=1)
    pd.testing.assert_frame_equal(refit, clean)


def test_tables_html_lists_every_exponent(fitted):
    html = fits.tables_html(*fitted)
    assert html.count("<tr>") >= len(fitted[0]) + len(fitted[1])
    assert "bootstrap" in html and "largest N_M left out" in html


def test_jobs_of_the_synthetic_study_cover_the_experiments():
    # Guard for the helper itself: the study lists the statistics seeds in blocks of 5.
    jobs = study.jobs({"train": TRAIN, "experiments": EXPERIMENTS}, ["statistics"])
    assert {(job.first_seed, job.last_seed) for job in jobs} == {(0, 4), (5, 9), (10, 14), (15, 19), (20, 24)}
