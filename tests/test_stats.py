"""The runs table and the per-cell statistics, on metrics drawn from known laws.

``synthetic_records`` is shared with test_fits.py and test_figures.py: every run's
loss is A_t N_D^-alpha(N_M) times log-normal seed noise, with alpha(N_M) =
a log10(N_M / 1e6) + b, so the fits have known answers.
"""

import math

import numpy as np
import pandas as pd
import pytest

from regscale import aggregate, stats, study

TRAIN = {"targets": ["theta", "J", "D"], "n_d": [64, 128, 256, 512, 1024], "seeds": 5, "seeds_per_job": 5}
TRAIN |= {"schedule": "plateau", "joint": False, "archs": {}}
EXPERIMENTS = {
    "fcn_width": {"arch": "fcn", "sizes": [{"width": w, "depth": 3} for w in (4, 8, 16, 32, 64)]},
    "fcn_depth": {"arch": "fcn", "sizes": [{"width": 16, "depth": d} for d in (1, 2, 3)], "targets": ["J"]},
    "resnet18": {"arch": "resnet18", "sizes": [{"width": 16}], "seeds": 1},
    "vit": {"arch": "vit", "sizes": [{"patch": 4, "dim": 64, "depth": 2, "heads": 4}], "seeds": 1},
    "statistics": {
        "arch": "fcn",
        "sizes": [{"width": 4, "depth": 3}, {"width": 16, "depth": 3}],
        "targets": ["J"],
        "n_d": [256, 1024],
        "seeds": 25,
    },
    "schedules": {
        "arch": "fcn",
        "sizes": [{"width": 16, "depth": 3}],
        "targets": ["J"],
        "schedules": ["constant", "plateau", "onecycle"],
    },
}
CONFIG = {"seed": 11, "train": TRAIN, "experiments": EXPERIMENTS}
LAW = {"theta": (0.10, 1.2), "J": (0.20, 1.5), "D": (0.05, 1.0)}  # a, b of alpha(N_M) per target
PREFACTOR = {"theta": 30.0, "J": 80.0, "D": 10.0}
SCHEDULE_SHIFT = {"constant": 0.2, "plateau": 0.0, "onecycle": -0.1}  # alpha offsets
INPUT = 2 * 32 * 32


def n_params(arch: str, size: dict) -> int:
    if arch == "fcn":
        w, d = size["width"], size["depth"]
        return (INPUT + 1) * w + (d - 1) * (w + 1) * w + w + 1
    return {"resnet18": 11_000_000, "vit": 110_000}[arch]


def true_alpha(n_m: int, target: str, schedule: str = "plateau") -> float:
    a, b = LAW[target]
    return a * math.log10(n_m / 1e6) + b + SCHEDULE_SHIFT[schedule]


def synthetic_records(config=CONFIG, noise=0.3, seed=0, joint=False):
    """(run folder, metrics) for every realization of every job of the config."""
    rng = np.random.default_rng(seed)
    records = []
    for job in study.jobs(config):
        size = study.parse_size(job.size)
        n_m = n_params(job.arch, size)
        targets = ["theta", "J", "D"] if job.target == "joint" else [job.target]
        for s in job.seeds:
            mse = {
                t: PREFACTOR[t] * job.n_d ** -true_alpha(n_m, t, job.schedule) * math.exp(noise * rng.standard_normal())
                for t in targets
            }
            metrics = {
                "arch": job.arch,
                "size": size,
                "size_label": job.size,
                "schedule": job.schedule,
                "target": job.target,
                "targets": targets,
                "n_d": job.n_d,
                "n_train": job.n_d - job.n_d // 8,
                "n_val": job.n_d // 8,
                "n_test": 256,
                "seed": s,
                "n_m": n_m,
                "test_mse": mse,
                "test_mse_units": {t: value * 0.2 for t, value in mse.items()},
                "val_mse": {t: value * 1.1 for t, value in mse.items()},
                "epochs": 10,
                "steps": 100,
                "wall_s": 1.0,
                "device": "cpu",
                "final_lr": 1e-4,
                "diverged": False,
                "config_digest": "abc",
            }
            records.append((job.seed_folder(s), metrics))
    return records


def synthetic_runs(**kwargs) -> pd.DataFrame:
    return aggregate.runs_table(synthetic_records(**kwargs))


def test_runs_table_has_one_row_per_run_and_target_with_flat_columns():
    records = synthetic_records()
    runs = aggregate.runs_table(records)
    assert len(runs) == len(records)
    assert list(runs.columns[: len(aggregate.COLUMNS)]) == aggregate.COLUMNS
    row = runs[(runs.arch == "vit")].iloc[0]
    assert (row.patch, row.dim, row.depth, row.heads) == (4, 64, 2, 4) and pd.isna(row.width)
    assert runs.run.str.contains("/seed~").all()
    assert not runs.excluded.any()
    # Scalar losses of the row's own target.
    run, metrics = records[0]
    first = runs[runs.run == run].iloc[0]
    assert first.test_mse == pytest.approx(metrics["test_mse"][metrics["target"]])


def test_joint_model_gives_three_rows_sharing_the_run():
    config = {**CONFIG, "train": {**TRAIN, "joint": True}}
    runs = synthetic_runs(config=config)
    assert set(runs.model_target) == {"joint"}
    per_run = runs.groupby("run").target.apply(sorted)
    assert all(targets == ["D", "J", "theta"] for targets in per_run)


def test_diverged_and_nonfinite_runs_are_flagged_and_counted():
    records = synthetic_records()
    cell = [(run, m) for run, m in records if m["arch"] == "fcn" and m["size"]["width"] == 4 and m["target"] == "J"]
    cell = [(run, m) for run, m in cell if m["n_d"] == 256]
    cell[0][1]["diverged"] = True
    cell[1][1]["test_mse"] = {"J": float("nan")}
    runs = aggregate.runs_table(records)
    assert runs.excluded.sum() == 2 and runs.diverged.sum() == 1
    cells = stats.cell_statistics(runs)
    row = cells[(cells.size_label == "width~4/depth~3") & (cells.target == "J") & (cells.n_d == 256)].iloc[0]
    assert (row.n_runs, row.n_excluded, row.n_r) == (25, 2, 23)
    assert np.isfinite(row.geomean)


def test_runs_that_did_not_learn_are_flagged_counted_and_kept():
    records = synthetic_records()
    cell = [(run, m) for run, m in records if m["arch"] == "fcn" and m["size"]["width"] == 4 and m["target"] == "J"]
    cell = [(run, m) for run, m in cell if m["n_d"] == 512]
    # A net that never learned scores about the prior's variance, 1 in standardized units.
    cell[0][1]["val_mse"] = {"J": 1.02}
    cell[0][1]["test_mse"] = {"J": 0.98}
    cell[1][1]["val_mse"] = {"J": stats.UNTRAINED_VAL_MSE}  # the threshold counts
    cell[2][1]["val_mse"] = {"J": 0.89}
    runs = aggregate.runs_table(records)
    flagged = stats.untrained(runs)
    assert flagged.dtype == bool and not runs.excluded.any()
    assert np.array_equal(flagged, runs.val_mse >= stats.UNTRAINED_VAL_MSE)
    in_cell = runs.run.isin([run for run, _ in cell]).to_numpy()
    assert set(runs.run[flagged & in_cell]) == {cell[0][0], cell[1][0]}
    cells = stats.cell_statistics(runs)
    row = cells[(cells.size_label == "width~4/depth~3") & (cells.target == "J") & (cells.n_d == 512)].iloc[0]
    assert (row.n_runs, row.n_excluded, row.n_untrained, row.n_r) == (len(cell), 0, 2, len(cell))
    # Kept in the statistics: the geometric mean is that of all 25 test losses.
    losses = runs[(runs.size_label == "width~4/depth~3") & (runs.target == "J") & (runs.n_d == 512)].test_mse
    assert row.geomean == pytest.approx(np.exp(np.log(losses).mean()))
    assert cells.n_untrained.sum() - row.n_untrained == (flagged & ~in_cell).sum()


def test_a_runs_table_without_validation_losses_flags_no_run():
    runs = synthetic_runs().drop(columns="val_mse")
    assert not stats.untrained(runs).any()
    assert stats.cell_statistics(runs).n_untrained.eq(0).all()


def test_bad_metrics_are_named():
    with pytest.raises(ValueError, match="no runs"):
        aggregate.runs_table([])
    run, metrics = synthetic_records()[0]
    del metrics["n_m"]
    with pytest.raises(ValueError, match=r"seed~0: metrics.json lacks the keys \['n_m'\]"):
        aggregate.runs_table([(run, metrics)])
    with pytest.raises(ValueError, match="empty"):
        stats.cell_statistics(pd.DataFrame())
    assert list(aggregate.job_seeds("results/runs/x/seeds~5-9")) == [5, 6, 7, 8, 9]


def test_cell_statistics_match_direct_computation():
    runs = synthetic_runs()
    cells = stats.cell_statistics(runs)
    assert len(cells) == len(runs.groupby(stats.CELL))
    key = ("fcn", "width~16/depth~3", "plateau", "J", "J", 1024)
    losses = runs.set_index(stats.CELL).loc[key, "test_mse"].to_numpy()
    row = cells.set_index(stats.CELL).loc[key]
    n = len(losses)
    assert row.n_r == n == 25
    assert row["mean"] == pytest.approx(losses.mean())
    assert row["sem"] == pytest.approx(losses.std(ddof=1) / math.sqrt(n))
    assert row["geomean"] == pytest.approx(math.exp(np.log(losses).mean()))
    assert row["median"] == pytest.approx(np.median(losses))
    assert row["mad"] == pytest.approx(np.median(np.abs(losses - np.median(losses))))
    log_se = np.log(losses).std(ddof=1) / math.sqrt(n)
    assert row["geomean_lo"] == pytest.approx(row["geomean"] * math.exp(-log_se))
    assert row["geomean_se"] == pytest.approx(row["geomean"] * log_se)
    assert row["geomean_units"] == pytest.approx(0.2 * row["geomean"])
    # A single realization: the value itself, no spread.
    single = cells[cells.arch == "resnet18"].iloc[0]
    assert single.n_r == 1 and single["mean"] == single["geomean"] == single["median"] and np.isnan(single["sem"])


def test_geomean_subsets_converge_to_the_full_geometric_mean():
    runs = synthetic_runs()
    cells = stats.cell_statistics(runs).set_index(stats.CELL)
    subsets = stats.geomean_subsets(runs, n_subsets=50, seed=3)
    key = ("fcn", "width~4/depth~3", "plateau", "J", "J", 256)
    curve = subsets.set_index(stats.CELL).loc[key].sort_values("n")
    assert list(curve.n) == list(range(1, 26))
    full = curve.iloc[-1]
    assert full.geomean_mean == pytest.approx(cells.loc[key, "geomean"]) and full.geomean_sd == pytest.approx(0)
    assert curve.geomean_sd.iloc[0] > curve.geomean_sd.iloc[12] > 0  # the spread shrinks with n
    # n = 1 subsets are single realizations: their mean is near the arithmetic mean.
    assert curve.geomean_mean.iloc[0] == pytest.approx(cells.loc[key, "mean"], rel=0.25)
    # Reproducible, and a cell's draws do not depend on the other cells.
    again = stats.geomean_subsets(runs[runs.n_d == 256], n_subsets=50, seed=3).set_index(stats.CELL).loc[key]
    np.testing.assert_array_equal(again.sort_values("n").geomean_mean, curve.geomean_mean)


def test_experiment_selection():
    runs = synthetic_runs()
    spec = stats.experiment(EXPERIMENTS, TRAIN, "statistics")
    chosen = stats.select(runs, spec)
    assert set(chosen.n_d) == {256, 1024} and set(chosen.target) == {"J"}
    assert set(chosen.size_label) == {"width~4/depth~3", "width~16/depth~3"}
    assert len(chosen) == 2 * 2 * 25
    with pytest.raises(KeyError, match="not in the config"):
        stats.experiment(EXPERIMENTS, TRAIN, "nope")
