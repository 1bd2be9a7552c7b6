"""One entry per concept (issue 13, point 2): an architecture registered in
regscale.archs, and nothing else edited, goes through a real tiny study end to end:
config check, training jobs, runs table, fits and the figures."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from conftest import TINY, planned_job_set, snakemake
from regscale import archs, targets
from regscale.figures import registry

pytestmark = pytest.mark.slow

# A linear map from the image to the targets through a bottleneck of `rank` units.
TOY = '''

def _build_toy(size, image_shape, n_outputs):
    from torch import nn

    inputs = image_shape[0] * image_shape[1] * image_shape[2]
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, size["rank"]), nn.Linear(size["rank"], n_outputs))


register(Architecture("toy", ("rank",), _build_toy, "Toy", "tab:purple", "v", optimizer={"batch_size": 8, "max_epochs": 3}))
'''


def test_the_registries_list_the_study_s_concepts():
    assert list(archs.ARCHITECTURES) == ["fcn", "resnet18", "vit"]
    assert archs.get("fcn").ensemble and not archs.get("vit").ensemble
    assert archs.size_columns() == ["width", "depth", "patch", "dim", "heads"]
    assert targets.names() == ("theta", "J", "D")
    assert len({figure.rule for figure in registry.FIGURES}) == len(registry.FIGURES)
    with pytest.raises(ValueError, match="unknown architecture 'mlp'; registered"):
        archs.get("mlp")
    with pytest.raises(ValueError, match="registered twice"):
        archs.register(archs.get("fcn"))


def test_a_registered_architecture_runs_through_a_tiny_study(complete_study, tmp_path):
    code, complete = complete_study
    work = tmp_path / "work"
    shutil.copytree(complete, work, symlinks=True)  # its shards are reused: the simulator does not read archs
    config = yaml.safe_load(TINY.read_text())
    config["experiments"] = {
        "fcn_width": {"arch": "fcn", "sizes": [{"width": 4, "depth": 3}], "targets": ["J"]},
        "toy": {"arch": "toy", "sizes": [{"rank": 2}, {"rank": 8}], "targets": ["J"], "seeds": 2},
    }
    configfile = tmp_path / "toy.yaml"
    configfile.write_text(yaml.safe_dump(config))
    registry_file = code / "src" / "regscale" / "archs.py"
    original = registry_file.read_text()
    try:
        registry_file.write_text(original + TOY)
        planned = planned_job_set(work, configfile=configfile, code=code)
        assert not {rule for rule, _ in planned} & {"simulate_shard", "shard_manifest", "atlas_images"}
        # Registering an architecture leaves the others' trained jobs alone (the FCN
        # job of this config was trained by the complete study): only the toy trains.
        trained = sorted(output for rule, output in planned if rule == "train")
        assert len(trained) == 2 * len(config["train"]["n_d"]), trained
        assert all(output.startswith("results/runs/arch~toy/") for output in trained), trained
        snakemake(work, configfile=configfile, code=code)
    finally:
        registry_file.write_text(original)
    runs = pd.read_csv(work / "results/tables/runs.csv")
    toy = runs[runs.arch == "toy"]
    assert sorted(toy["rank"].unique()) == [2, 8] and len(toy) == 2 * 2 * len(config["train"]["n_d"])
    assert toy["size_label"].str.fullmatch(r"rank~\d+").all() and (toy.test_mse > 0).all()
    exponents = pd.read_csv(work / "results/tables/exponents.csv")
    data = exponents[exponents.axis == "data"]
    assert sorted(data[data.arch == "toy"]["size"]) == ["rank~2", "rank~8"] and "fcn" in set(data.arch)
    assert (work / "results/figures/fig1_architectures.png").stat().st_size > 0
    assert (work / "results/runs/arch~toy/rank~8/schedule~plateau/target~J/nd~64/seeds~0-1/seed~1/model.pt").exists()
