"""The forecast of the two largest N_D (forecast.csv): on cells drawn from a known law
the joint law's forecast is close and its predictive intervals hold the observations
about as often as they claim; a floor makes the pure power law miss high while the
joint law, which has the floor in it, does not."""

import numpy as np
import pytest
from test_joint import ANALYSIS, N_D, N_M, TRUE, cells_from
from test_stats import EXPERIMENTS, TRAIN, synthetic_runs

from regscale import forecast


def test_a_known_law_forecasts_its_largest_n_d_inside_the_interval():
    table = forecast.forecast(cells_from(TRUE, cell_noise=0.02), 0.95, 300, np.random.default_rng(3))
    assert sorted(table["n_d"].unique()) == N_D[-2:]
    assert len(table) == 2 * len(N_M) and (table["fit_n_d_max"] == N_D[-3]).all()
    assert table["law_error_dex"].abs().median() < 0.05
    assert (table["law_lo"] < table["law_log10"]).all() and (table["law_log10"] < table["law_hi"]).all()
    assert table["law_inside"].mean() >= 0.85


def test_the_predictive_interval_holds_about_95_percent_of_new_cells():
    inside = []
    for seed in range(40):
        cells = cells_from(TRUE, noise=0.03, cell_noise=0.03, seed=100 + seed)
        inside.append(forecast.forecast(cells, 0.95, 200, np.random.default_rng(seed))["law_inside"].to_numpy())
    coverage = np.concatenate(inside).mean()
    assert 0.88 <= coverage <= 0.995, coverage


def test_a_floor_bends_the_power_law_and_the_joint_law_sees_it():
    floored = {**TRUE, "E": 0.2}  # B N_D^-b falls below E from N_D of a few thousand on
    table = forecast.forecast(cells_from(floored, noise=0.01), 0.95, 200, np.random.default_rng(4))
    widest = table[table["n_m"] == max(N_M)]
    assert (widest["line_error_dex"] < -0.05).all()  # the line predicts too small a loss
    assert not widest.loc[widest["n_d"] == max(N_D), "line_inside"].any()
    assert widest["law_error_dex"].abs().max() < 0.05 and widest["law_inside"].all()


def test_too_few_n_d_are_refused_by_name():
    cells = cells_from(TRUE)
    with pytest.raises(ValueError, match="a forecast of 2 N_D values needs 4"):
        forecast.forecast(cells[cells["n_d"] <= N_D[2]], 0.95, 10, np.random.default_rng(0))


def test_the_table_has_every_held_out_cell_of_every_law_and_is_reproducible():
    runs = synthetic_runs()
    tables = [forecast.forecasts(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=7) for _ in range(2)]
    assert list(tables[0].columns) == forecast.FORECAST_COLUMNS
    assert len(tables[0]) > 0
    assert tables[0].equals(tables[1])
    for _, series in tables[0].groupby(["experiment", "target"]):
        assert series["n_d"].nunique() == forecast.HELD_OUT


def test_the_backtest_repeats_the_forecast_inside_the_kept_cells():
    table = forecast.forecast(cells_from(TRUE, noise=0.01), 0.95, 50, np.random.default_rng(5))
    # Kept: the first six N_D. Origins 3, 4 and 5 (three N_D to fit at least) forecast
    # one N_D on (three origins) and two on (two origins), every N_M each time.
    assert (table.loc[table["horizon"] == 1, "n_d"] == N_D[-2]).all()
    assert (table.loc[table["horizon"] == 1, "n_backtest"] == 3 * len(N_M)).all()
    assert (table.loc[table["horizon"] == 2, "n_backtest"] == 2 * len(N_M)).all()
    half = (table["law_backtest_hi"] - table["law_backtest_lo"]) / 2
    assert np.allclose(table["law_backtest_hi"] - half, table["law_log10"])
    # The right law misses its own kept cells by little, so the interval is narrow and holds.
    assert half.max() < 0.1 and table["law_backtest_inside"].all()


def test_the_backtest_interval_holds_a_swinging_slope_that_the_bootstrap_misses():
    """A loss whose local slope in N_D swings (log L wobbles by 0.15 dex with a period
    of four doublings) breaks the law's assumption: its bootstrap interval misses some
    held-out cells. The backtest has seen the law miss like that below, and holds them.
    (A swing slower than the kept range shows, six doublings say, it does not foresee.)"""
    cells = cells_from(TRUE, noise=0.01)
    wobble = 0.15 * np.sin(2 * np.pi * np.log2(cells["n_d"] / N_D[0]) / 4)
    cells["logs"] = [logs + shift for logs, shift in zip(cells["logs"], wobble)]
    table = forecast.forecast(cells, 0.95, 200, np.random.default_rng(6))
    assert (~table["law_inside"]).sum() >= 2
    assert table["law_backtest_inside"].all()


def test_too_few_n_d_to_backtest_leave_the_interval_empty():
    cells = cells_from(TRUE)
    table = forecast.forecast(cells[cells["n_d"] <= N_D[4]], 0.95, 20, np.random.default_rng(0))
    assert (table["n_backtest"] == 0).all()
    assert table[["law_backtest_lo", "law_backtest_hi"]].isna().all().all()
    assert table["law_backtest_inside"].isna().all() and table["law_inside"].notna().all()
