"""Cost-aware guidance: the cheapest (N_D, N_M) that reach a target error under a known
law, costed with the measured throughput of resources/throughput.yaml."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from regscale import guidance, joint, throughput
from regscale.config import load

LAW = {"E": 1e-3, "A": 20.0, "a": 0.5, "B": 10.0, "b": 0.7}
ROW = {"experiment": "fcn_width", "arch": "fcn", "schedule": "plateau", "model_target": "J", "target": "J"}
ROW |= LAW | {"n_m_min": 16_000, "n_m_max": 140_000, "n_d_min": 128, "n_d_max": 2048}


@pytest.fixture(scope="module")
def measured():
    return load(REPO / "config.yaml"), *throughput.load(throughput.FILE, "cpu")


def test_samples_needed_is_the_fewest_that_reach_the_target():
    n_m = np.array([1e5, 1e6, 1e7])
    target = 0.08
    n_d = guidance.samples_needed(LAW, target, n_m)
    assert np.all(joint.predict(LAW, n_m, n_d) <= target)
    assert np.all(joint.predict(LAW, n_m, n_d - 1) > target)
    # Below the floor E + A N_M^-a no amount of data helps.
    assert np.isinf(guidance.samples_needed(LAW, 0.9 * LAW["E"], n_m)).all()
    assert np.isinf(guidance.samples_needed(LAW, 0.02, [1e3])).all()  # A N_M^-a = 0.63 > 0.02


def test_hours_follow_the_measured_rates(measured):
    config, _, rates = measured
    simulate, train = guidance.realization_hours(config, rates, "fcn", "plateau", 1000, 80049)
    spins = 2 * config["physics"]["lattice"]["rows"] * config["physics"]["lattice"]["cols"]
    per_sample = spins * rates["simulate"]["steps_per_sample"] / rates["simulate"]["spin_steps_per_s"]
    assert simulate == pytest.approx(1000 * per_sample / 3600)
    # Past the largest measured FCN the rate falls in proportion to N_M.
    largest = max(entry["n_m"] for entry in rates["train"]["fcn"])
    _, once = guidance.realization_hours(config, rates, "fcn", "plateau", 1000, largest)
    _, twice = guidance.realization_hours(config, rates, "fcn", "plateau", 1000, 2 * largest)
    assert twice == pytest.approx(2 * once)


def test_the_answer_is_the_cheapest_point_of_the_grid(measured):
    config, _, rates = measured
    row = pd.Series(ROW)
    target = 0.06
    best = guidance.cheapest(config, rates, row, target)
    assert best["reachable"] and joint.predict(LAW, best["n_m"], best["n_d"]) <= target * (1 + 1e-9)
    grid = np.geomspace(ROW["n_m_min"], 10 * ROW["n_m_max"], guidance.N_M_GRID)
    costs = [
        sum(guidance.realization_hours(config, rates, "fcn", "plateau", int(n_d), n_m))
        for n_d, n_m in zip(guidance.samples_needed(LAW, target, grid), grid)
        if math.isfinite(n_d)
    ]
    assert best["total_hours"] == pytest.approx(min(costs))
    assert best["total_hours"] == pytest.approx(best["simulate_hours"] + best["train_hours"])
    assert best["extrapolated"] == (best["n_d"] > ROW["n_d_max"] or best["n_m"] > ROW["n_m_max"])


def test_the_table_has_three_targets_per_law_and_marks_the_unreachable(measured):
    config, device, rates = measured
    floor = ROW | {"E": 0.2}  # a floor above the study's best loss / 4
    table = guidance.guidance(pd.DataFrame([ROW, floor]), config, device, rates)
    assert list(table.columns) == guidance.GUIDANCE_COLUMNS and len(table) == 6
    assert list(table.fraction) == [1.0, 0.5, 0.25] * 2 and (table.device == "cpu").all()
    best = joint.predict(LAW, ROW["n_m_max"], ROW["n_d_max"])
    assert table.target_error.iloc[:3].tolist() == pytest.approx([best, best / 2, best / 4])
    assert table.reachable.iloc[:3].all()
    assert not table.reachable.iloc[5] and pd.isna(table.n_d.iloc[5])


def test_the_optimum_of_a_case_solved_by_hand():
    # Free simulation, one epoch over N_D - 1 training samples, and training at a rate
    # inversely proportional to N_M: a realization costs (N_D - 1) N_M / 1e6 seconds.
    # With no floor, minimizing N_D N_M on A N_M^-a + B N_D^-b = L* gives, by a Lagrange
    # multiplier, A N_M^-a = b / (a + b) L* and B N_D^-b = a / (a + b) L*: with
    # a = 0.5, b = 1, A = 20, B = 1e4 and L* = 0.03, 20 N_M^-0.5 = 0.02 and 1e4 / N_D = 0.01,
    # so N_M = N_D = 1e6 (a point of the N_M grid), at 1e12 / 1e6 s = 277.8 hours.
    law = {"E": 0.0, "A": 20.0, "a": 0.5, "B": 1e4, "b": 1.0}
    row = pd.Series(ROW | law | {"schedule": "constant", "n_m_min": 1e5, "n_m_max": 1e6})
    config = {
        "physics": {"lattice": {"rows": 2, "cols": 2}},
        "train": {"validation_fraction": 0.0, "archs": {"fcn": {"batch_size": 32, "max_epochs": 1}}},
        "schedules": {"constant": {"kind": "constant"}},
    }
    rates = {
        "simulate": {"spin_steps_per_s": 1.0, "steps_per_sample": 0.0},
        "train": {"fcn": [{"n_m": 1000, "samples_per_s": 1000.0}]},
    }
    best = guidance.cheapest(config, rates, row, 0.03)
    assert best["reachable"] and best["n_m"] == 1_000_000
    assert best["n_d"] == pytest.approx(1_000_000, abs=1)  # the ceiling of 1e6 in floating point
    assert best["simulate_hours"] == 0 and best["total_hours"] == pytest.approx(1e6 / 3600, rel=1e-5)
    assert law["A"] * best["n_m"] ** -law["a"] == pytest.approx(2 / 3 * 0.03)  # the model's share b / (a + b)
    assert best["extrapolated"]  # far beyond the study's largest N_D (2048) and N_M
