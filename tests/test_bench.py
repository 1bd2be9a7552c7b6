"""The benchmark command's contract: progress on stderr, one JSON object as the last
line of stdout (speed itself is measured by running it, not by the tests), and --record,
which writes the measurement where the planner reads it."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, TINY
from regscale import crosscheck, plan, throughput
from regscale.config import load
from regscale.archs import build_model
from regscale.models import count_parameters

REQUIRED = {"device", "sites_per_sample", "batch", "steps_mean", "seconds_per_sample", "site_steps_per_s"}


def test_simulate_benchmark_prints_one_json_line():
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", str(TINY), "--sites", "512"]
    result = subprocess.run(command + ["--batch", "3", "--device", "cpu"], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED <= set(report)
    assert report["sites_per_sample"] == 512 and report["batch"] == 3 and report["device"].startswith("cpu")
    assert report["steps_mean"] > 0 and report["seconds_per_sample"] > 0
    assert report["site_steps_per_s"] * report["seconds_per_sample"] == pytest.approx(512 * report["steps_mean"])
    assert "relaxed" in result.stderr


def test_simulate_benchmark_times_a_baseline_minimiser_on_the_same_samples():
    """--baseline vp: both minimisers in one run, the ratio of their times, and the
    memory traffic of a step against the copy bandwidth measured in the same run."""
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", str(TINY), "--sites", "512"]
    result = subprocess.run(
        command + ["--batch", "3", "--device", "cpu", "--method", "lbfgs", "--baseline", "vp"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["method"] == "lbfgs" and report["baseline"]["method"] == "vp"
    assert report["speedup_vs_baseline"] == pytest.approx(report["baseline"]["seconds_per_sample"] / report["seconds_per_sample"])
    assert report["steps_mean"] < report["baseline"]["steps_mean"]
    # Per sample of 2 x 16 x 16 float32 spins: spins, field, force and 2 x 3 L-BFGS pairs
    # (6 floats a site each), and the interlayer map (1 float a site).
    assert report["step_state_bytes"] == (9 * 6 + 1) * 16 * 16 * 4
    assert report["memory_traffic_GBps"] == pytest.approx(
        2 * report["step_state_bytes"] * report["steps_mean"] * report["samples"] / report["seconds_per_sample"] / report["samples"] / 1e9
    )
    assert report["memory_traffic_fraction"] == pytest.approx(report["memory_traffic_GBps"] / report["copy_bandwidth_GBps"])
    assert 1 < report["copy_bandwidth_GBps"] < 1e4


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "--config", "no/such.yaml"], "config file no/such.yaml does not exist"),
        (["train", "--config", "no/such.yaml"], "config file no/such.yaml does not exist"),
        (["simulate", "--device", "gpu"], "unknown device 'gpu'; expected auto, cpu, cuda or cuda:N"),
        (["simulate", "--sites", "-50"], "argument --sites: -50 is below the minimum 8"),
        (["simulate", "--sites", "64"], "moire period 98 A exceeds the"),
        (["train", "--threads", "0"], "argument --threads: 0 is below the minimum 1"),
        (["simulate", "--record", "no/such/folder/rates.yaml"], "folder no/such/folder does not exist"),
        (["simulate", "--against", "spirit", "--record"], "--record measures our simulator alone"),
        (["simulate", "--baseline", "vp", "--record"], "leave out --against and --baseline"),
        (["train", "--denormals", "--record"], "--record measures training throughput; leave out --denormals"),
        (["simulate", "--method", "fire"], "argument --method: invalid choice: 'fire'"),
        (["simulate", "--against", "spirit", "--spirit-solver", "SIB"], "argument --spirit-solver: invalid choice"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message):
    """Named on one line, exit status 2, before any benchmark runs: no traceback."""
    result = subprocess.run([sys.executable, "-m", "regscale.bench", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_simulate_against_spirit_prints_the_comparison():
    """Issue 16.2: the same samples relaxed by ours and by Spirit; the last line holds both
    timings, their ratio and how far the relaxed energies differ."""
    if not crosscheck.available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, and the comparison with Spirit must run there: {crosscheck.MISSING}", pytrace=False)
        pytest.skip(crosscheck.MISSING)
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", str(TINY), "--sites", "512"]
    result = subprocess.run(
        command + ["--batch", "2", "--device", "cpu", "--against", "spirit"], capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    contract = {"seconds_per_sample", "spirit_seconds_per_sample", "speedup_vs_spirit", "energy_rel_diff_max", "sites"}
    assert contract | {"device"} <= set(report)
    assert report["sites"] == 512 and report["samples"] == 2 and report["device"].startswith("cpu")
    assert report["threads"] == 1 and report["spirit_threads"] == 1
    assert report["seconds_per_sample"] > 0 and report["spirit_seconds_per_sample"] > 0
    assert report["speedup_vs_spirit"] == pytest.approx(
        report["spirit_seconds_per_sample"] / report["seconds_per_sample"]
    )
    assert report["spirit_solver"] in crosscheck.MINIMISERS and set(report["spirit_screening_s"]) == set(
        crosscheck.MINIMISERS
    )
    assert report["spirit_converged_fraction"] == 1.0 and report["converged_fraction"] == 1.0
    # The same samples from the same start to the same tolerance: the same minima, nearly.
    assert 0 <= report["energy_rel_diff_max"] < 1e-3 and report["mz_sign_agreement_min"] > 0.95
    assert "relaxed" in result.stderr and f"spirit {report['spirit_solver']} sample 1" in result.stderr


def bench(*args):
    result = subprocess.run([sys.executable, "-m", "regscale.bench", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_recorded_measurements_are_what_the_plan_uses(tmp_path):
    """Issue 5.5: device-hours come from measured throughput, written by the benchmark
    itself. Recording on the CPU replaces the cpu block's numbers, keeps the header, the
    gpu block and the other measurement, and the plan computes with the new numbers."""
    path = tmp_path / "throughput.yaml"
    shutil.copy(REPO / "resources" / "throughput.yaml", path)
    header = [line for line in path.read_text().splitlines() if line.startswith("#")][:5]
    before = yaml.safe_load(path.read_text())

    sim, log = bench(
        "simulate", "--config", str(TINY), "--sites", "512", "--batch", "3", "--device", "cpu", "--record", str(path)
    )
    assert "replacing the cpu simulate measurement" in log and f"recorded the cpu simulate measurement in {path}" in log
    after = yaml.safe_load(path.read_text())
    assert path.read_text().splitlines()[:5] == header
    assert after["gpu"] is None and after["cpu"]["train"] == before["cpu"]["train"]
    assert after["cpu"]["name"] == sim["device"]
    measured = after["cpu"]["simulate"]
    assert measured["spin_steps_per_s"] == round(sim["site_steps_per_s"])
    assert measured["steps_per_sample"] == round(sim["steps_mean"], 1)
    assert measured["source"].startswith("python -m regscale.bench simulate --config")

    config = load(TINY)
    _, rates = throughput.load(path, "cpu")
    per_sample = 2 * 16 * 16 * measured["steps_per_sample"] / measured["spin_steps_per_s"]
    samples = plan.simulated_samples(config) + plan.atlas_samples(config)
    assert plan.simulation_seconds(config, rates) == pytest.approx(samples * per_sample)

    train, log = bench("train", "--config", str(TINY), "--device", "cpu", "--record", str(path))
    rates = yaml.safe_load(path.read_text())["cpu"]
    assert rates["simulate"] == measured  # a train record leaves the simulate measurement alone
    shape = tuple(train["image_shape"])
    for ensemble in train["ensembles"]:
        n_m = count_parameters(build_model("fcn", {"width": ensemble["width"], "depth": 3}, shape, 1))
        entry = next(e for e in rates["train"]["fcn"] if e.get("members") and e["width"] == ensemble["width"])
        assert entry["n_m"] == ensemble["n_m"] == n_m
        assert entry["samples_per_s"] == ensemble["ensemble_samples_per_s"]
        assert plan.samples_per_second(rates["train"]["fcn"], n_m) == entry["samples_per_s"]
    for model in train["models"]:
        if model["arch"] == "fcn" and model["n_m"] in {e["n_m"] for e in train["ensembles"]}:
            continue  # planned at its ensemble's rate, as the study trains it
        assert {"n_m": model["n_m"], "samples_per_s": model["samples_per_s"]}.items() <= next(
            e for e in rates["train"][model["arch"]] if e["n_m"] == model["n_m"]
        ).items()
    # A model twice the largest measured one is planned at half its rate.
    largest = max(rates["train"]["vit"], key=lambda e: e["n_m"])
    assert plan.samples_per_second(rates["train"]["vit"], 2 * largest["n_m"]) == pytest.approx(
        largest["samples_per_s"] / 2
    )

    command = [sys.executable, "-m", "regscale.plan", "--configfile", str(TINY), "--throughput", str(path)]
    result = subprocess.run(command + ["--device", "cpu"], capture_output=True, text=True, check=True)
    assert f"compute: hours on {train['device']}, from {path}" in result.stdout


def test_a_half_measured_gpu_is_named(tmp_path):
    path = tmp_path / "throughput.yaml"
    path.write_text(yaml.safe_dump({"gpu": {"name": "x", "simulate": {"spin_steps_per_s": 1, "steps_per_sample": 1}}}))
    with pytest.raises(SystemExit, match="the gpu block has no train measurement.*bench train --record"):
        throughput.load(path)
    with pytest.raises(SystemExit, match="no measurements for device 'cpu'"):
        throughput.load(path, "cpu")


def test_a_broken_record_file_fails_before_the_benchmark(tmp_path):
    path = tmp_path / "throughput.yaml"
    original = "gpu: [1, 2]\n"
    path.write_text(original)
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", str(TINY), "--sites", "512"]
    result = subprocess.run(command + ["--record", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{path}: expected device blocks" in result.stderr and "relaxed" not in result.stderr
    assert path.read_text() == original


def test_record_refuses_an_unknown_stage(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'evaluate'"):
        throughput.record(tmp_path / "t.yaml", "evaluate", "cpu", {}, "x")
    assert not (tmp_path / "t.yaml").exists()


DENORMALS = [sys.executable, "-m", "regscale.bench", "train", "--config", str(TINY), "--device", "cpu", "--denormals"]


def test_denormal_benchmark_trains_a_real_job_both_ways_to_the_same_weights(tiny_shards):
    """--denormals: the tiny study's largest FCN job on its own shards, subnormals flushed
    (as the trainer runs) and kept; the weights must not depend on it."""
    result = subprocess.run(DENORMALS, capture_output=True, text=True, check=True, cwd=tiny_shards)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    config = load(TINY)
    widths = [size["width"] for e in config["experiments"].values() if e["arch"] == "fcn" for size in e["sizes"]]
    assert f"width~{max(widths)}/" in report["job"] and f"/nd~{max(config['train']['n_d'])}/" in report["job"]
    assert report["same_weights"] is True and report["flush_supported"] is True
    assert report["flushed_s"] > 0 and report["kept_s"] > 0
    assert report["speedup"] == pytest.approx(report["kept_s"] / report["flushed_s"])
    assert "denormals kept" in result.stderr


def test_denormal_benchmark_without_shards_says_to_run_the_study(tmp_path):
    result = subprocess.run(DENORMALS, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--denormals trains on the study's shards" in result.stderr and "run the study first" in result.stderr
