"""The published studies (docs/results/<name>/) are reproducible from their runs table:
today's analysis code, given the committed runs.csv and config, recomputes the committed
exponents, trend, joint laws and forecast. A change to the analysis that moves a
published number fails here, and the study must be republished (python -m
regscale.publish) with the change explained."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from regscale import config as study_config
from regscale import fits, forecast, joint

PUBLISHED = sorted(path.parent for path in (REPO / "docs" / "results").glob("*/provenance.yaml"))


def test_the_wide_study_is_published_with_its_provenance():
    folder = REPO / "docs" / "results" / "wide"
    assert folder in PUBLISHED
    provenance = yaml.safe_load((folder / "provenance.yaml").read_text())
    assert len(provenance["git_commit"]) >= 40 and provenance["train_code_versions"]
    assert (folder / "figures" / "fig1_architectures.png").is_file()


@pytest.fixture(scope="module", params=PUBLISHED, ids=[path.name for path in PUBLISHED])
def recomputed(request) -> tuple[Path, dict]:
    folder = request.param
    config = study_config.load(folder / "config.yaml")
    runs = pd.read_csv(folder / "runs.csv")
    train = {key: config["train"][key] for key in ("targets", "n_d", "seeds", "schedule", "joint")}
    settings = (config["experiments"], train, config["analysis"], config["seed"])
    exponents, trend = fits.fit_all(runs, *settings)
    tables = {
        "exponents.csv": exponents,
        "trend.csv": trend,
        "joint_law.csv": joint.joint_laws(runs, *settings),
        "forecast.csv": forecast.forecasts(runs, *settings),
    }
    return folder, tables


@pytest.mark.parametrize("name", ["exponents.csv", "trend.csv", "joint_law.csv", "forecast.csv"])
def test_the_committed_fits_follow_from_the_committed_runs(recomputed, name):
    folder, tables = recomputed
    committed = pd.read_csv(folder / name)
    assert len(committed) > 0, f"{folder.name}/{name} is empty"
    # Through a CSV round trip, as the committed table went.
    fresh = pd.read_csv(io.StringIO(tables[name].to_csv(index=False)))
    # Columns added since a study was published are not in its tables; the rest must agree.
    assert set(committed.columns) <= set(fresh.columns), f"{folder.name}/{name} has columns no longer made"
    columns = list(committed.columns)
    if committed.get("resampled", pd.Series([""])).astype(str).str.contains("test samples").any():
        # Intervals that redrew the test set need each run's error per test sample, which
        # is not published (megabytes): the estimates, the regression intervals and the
        # law's held-out check still must agree.
        columns = [c for c in columns if not c.endswith(("_boot_lo", "_boot_hi")) and c != "resampled"]
    pd.testing.assert_frame_equal(fresh[columns], committed[columns], check_exact=False, rtol=1e-6, atol=1e-12)


WIDE = REPO / "docs" / "results" / "wide"


def test_the_wide_joint_laws_rest_on_every_cell_and_bracket_their_estimates():
    laws = pd.read_csv(WIDE / "joint_law.csv")
    config = study_config.load(WIDE / "config.yaml")
    width_sweep = laws[laws["experiment"] == "fcn_width"]
    assert sorted(width_sweep["target"]) == sorted(config["train"]["targets"])
    cells = len(config["experiments"]["fcn_width"]["sizes"]) * len(config["train"]["n_d"])
    assert (width_sweep["n_cells"] == cells).all()
    for name in joint.PARAMETERS:
        assert (laws[f"{name}_boot_lo"] <= laws[name]).all() and (laws[name] <= laws[f"{name}_boot_hi"]).all(), name
    assert laws[["a", "b"]].ge(0).all().all() and laws[["a", "b"]].le(joint.MAX_EXPONENT).all().all()
    # The law explains most of the spread of the cells' losses (over 2.4 decades of N_D
    # they span about three decades).
    cells_table = pd.read_csv(WIDE / "cells.csv")
    for _, law in width_sweep.iterrows():
        spread = np.log10(cells_table.loc[
            (cells_table["target"] == law["target"]) & (cells_table["schedule"] == law["schedule"])
            & cells_table["size_label"].str.endswith("depth~3") & (cells_table["arch"] == "fcn"), "geomean"
        ]).std()  # fmt: skip
        assert law["rms_log10_residual"] < spread / 3, (law["target"], law["rms_log10_residual"], spread)


def test_the_wide_guidance_reaches_each_target_at_the_cost_it_states():
    from regscale import guidance, plan, throughput

    laws = pd.read_csv(WIDE / "joint_law.csv")
    table = pd.read_csv(WIDE / "guidance.csv")
    config = study_config.load(WIDE / "config.yaml")
    device, rates = throughput.load(WIDE / "throughput.yaml")  # the rates it was costed with
    assert len(table) == len(guidance.TARGET_FRACTIONS) * len(laws)
    reachable = table[table["reachable"]]
    assert len(reachable) > 0
    for _, row in reachable.iterrows():
        law = laws[(laws["experiment"] == row["experiment"]) & (laws["target"] == row["target"])].iloc[0]
        # The answer reaches its target error ...
        assert joint.predict(law, row["n_m"], row["n_d"]) <= row["target_error"] * (1 + 1e-6)
        # ... at the cost the planner gives that realization.
        hours = guidance.realization_hours(config, rates, row["arch"], row["schedule"], int(row["n_d"]), row["n_m"])
        assert sum(hours) == pytest.approx(row["total_hours"], rel=1e-3)
        assert row["total_hours"] == pytest.approx(row["simulate_hours"] + row["train_hours"])
    for _, series in reachable.groupby(["experiment", "target"]):
        ordered = series.sort_values("fraction", ascending=False)
        assert ordered["total_hours"].is_monotonic_increasing  # a smaller error costs more


def test_publish_copies_the_study_with_its_rates_and_refuses_to_overwrite(tiny_study, tmp_path, monkeypatch):
    from regscale import publish

    destination = tmp_path / "published"
    written = publish.publish(tiny_study, destination, REPO / "tests" / "configs" / "tiny.yaml")
    assert {path.name for path in written} >= {*publish.TABLES, "config.yaml", "throughput.yaml", "provenance.yaml"}
    assert (destination / "throughput.yaml").read_text() == publish.THROUGHPUT.read_text()
    assert (destination / "runs.csv").read_bytes() == (tiny_study / "results" / "tables" / "runs.csv").read_bytes()
    assert any(path.suffix == ".png" for path in (destination / "figures").iterdir())
    provenance = yaml.safe_load((destination / "provenance.yaml").read_text())
    assert provenance["git_commit"].split("-")[0] and provenance["train_code_versions"]
    (destination / "note.txt").write_text("kept")
    with pytest.raises(FileExistsError, match="exists; pass --replace to overwrite it"):
        publish.publish(tiny_study, destination, REPO / "tests" / "configs" / "tiny.yaml")
    assert (destination / "note.txt").read_text() == "kept"  # nothing touched
    # --replace: the commit is read while the old publication is still in place
    seen = []
    monkeypatch.setattr(publish, "git_commit", lambda: seen.append((destination / "note.txt").exists()) or "c0ffee")
    publish.publish(tiny_study, destination, REPO / "tests" / "configs" / "tiny.yaml", replace=True)
    assert seen == [True] and not (destination / "note.txt").exists()
    assert yaml.safe_load((destination / "provenance.yaml").read_text())["git_commit"] == "c0ffee"
    with pytest.raises(FileNotFoundError, match=r"missing runs\.csv"):
        publish.publish(tmp_path / "no-study", tmp_path / "elsewhere", REPO / "tests" / "configs" / "tiny.yaml")
