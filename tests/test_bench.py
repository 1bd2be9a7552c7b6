"""The benchmark command's contract: progress on stderr, one JSON object as the last
line of stdout (speed itself is measured by running it, not by the tests)."""

import json
import subprocess
import sys

import pytest

from conftest import TINY

REQUIRED = {"device", "sites_per_sample", "batch", "steps_mean", "seconds_per_sample", "site_steps_per_s"}


def test_simulate_benchmark_prints_one_json_line():
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", str(TINY), "--sites", "512"]
    result = subprocess.run(command + ["--batch", "3", "--device", "cpu"], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED <= set(report)
    assert report["sites_per_sample"] == 512 and report["batch"] == 3 and report["device"] == "cpu"
    assert report["steps_mean"] > 0 and report["seconds_per_sample"] > 0
    assert report["site_steps_per_s"] * report["seconds_per_sample"] == pytest.approx(512 * report["steps_mean"])
    assert "relaxed" in result.stderr


def test_a_bad_config_is_named():
    command = [sys.executable, "-m", "regscale.bench", "simulate", "--config", "no/such.yaml"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0 and "no/such.yaml does not exist" in result.stderr
