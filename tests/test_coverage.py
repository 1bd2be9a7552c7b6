"""Cross-seed coverage (python -m regscale.coverage): every estimate of each study
against every other study's interval, on studies drawn from one known law with
different seeds, and its errors for folders that hold no finished study."""

import numpy as np
import pandas as pd
import pytest
from test_joint import ANALYSIS
from test_stats import EXPERIMENTS, TRAIN, synthetic_runs

from regscale import coverage, fits, joint


def write_study(folder, seed):
    """The tables a finished study would leave, from synthetic runs drawn with ``seed``."""
    tables = folder / "results" / "tables"
    tables.mkdir(parents=True)
    runs = synthetic_runs(seed=seed, noise=0.1)
    analysis = ANALYSIS | {"bootstrap": 50}
    exponents, trend = fits.fit_all(runs, EXPERIMENTS, TRAIN, analysis, seed)
    exponents.to_csv(tables / "exponents.csv", index=False)
    trend.to_csv(tables / "trend.csv", index=False)
    joint.joint_laws(runs, EXPERIMENTS, TRAIN, analysis, seed).to_csv(tables / "joint_law.csv", index=False)
    return folder


def test_the_expected_cross_coverage_of_exact_intervals_is_83_percent():
    assert coverage.EXPECTED == pytest.approx(0.834, abs=0.001)


def test_every_estimate_meets_every_other_studys_interval(tmp_path, capsys):
    folders = [write_study(tmp_path / f"seed{seed}", seed) for seed in (1, 2, 3)]
    output = tmp_path / "comparisons.csv"
    coverage.main([*map(str, folders), "--output", str(output)])
    table = pd.read_csv(output)
    exponents = pd.read_csv(folders[0] / "results/tables/exponents.csv")
    both = table[(table["table"] == "exponents.csv") & (table["interval"] == "bootstrap")]
    assert len(both) == 6 * len(exponents)  # 3 studies: 6 ordered pairs
    assert set(zip(both["estimate_of"], both["interval_of"])) == {
        (str(a), str(b)) for a in folders for b in folders if a != b
    }
    row = both.iloc[0]
    assert row["inside"] == (row["lo"] <= row["value"] <= row["hi"])
    # The pair's own interval: the same estimate with the roles swapped.
    swapped = both[(both["key"] == row["key"]) & (both["estimate_of"] == row["interval_of"])].iloc[0]
    assert swapped["interval_of"] == row["estimate_of"] and swapped["consistent"] == row["consistent"]
    half = np.hypot(row["hi"] - row["lo"], swapped["hi"] - swapped["lo"]) / 2
    assert row["consistent"] == (abs(row["value"] - swapped["value"]) <= half)
    laws = table[table["table"] == "joint_law.csv"]
    assert set(laws["estimate"]) == {"a", "b"} and len(laws) > 0
    printed = capsys.readouterr().out
    assert "exponents.csv" in printed and "0.834" in printed and "consistent" in printed
    shares = coverage.summary(table)[["coverage", "consistent"]].to_numpy()
    assert ((shares >= 0) & (shares <= 1)).all() and np.isfinite(shares).all()


def test_a_folder_without_a_finished_study_is_named(tmp_path, capsys):
    study = write_study(tmp_path / "done", 1)
    with pytest.raises(SystemExit):
        coverage.main([str(study), str(tmp_path / "missing")])
    assert "missing: no results/tables/exponents.csv" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        coverage.main([str(study)])
    assert "at least two studies" in capsys.readouterr().err
