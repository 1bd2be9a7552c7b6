"""Config validation: every shipped config passes; bad ones fail at once, naming the key."""

import copy

import pytest
import yaml

from conftest import REPO, TINY, snakemake
from regscale.config import ConfigError, load, validate, with_overrides

DEFAULT = REPO / "config.yaml"
PAPER = REPO / "configs" / "paper.yaml"


def raw(path=DEFAULT) -> dict:
    return yaml.safe_load(path.read_text())


# Every config in configs/ (the wide study and the variant studies that docs/results.md
# cites) must stay loadable as the schema moves on, or its published result could not
# be remade.
SHIPPED = [DEFAULT, TINY, *sorted((REPO / "configs").glob("*.yaml"))]


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_shipped_configs_are_valid(path):
    config = load(path)
    assert config["physics"]["relax"]["tol_meV"] > 0  # defaults are filled in
    assert set(config["physics"]["ranges"]) == {"theta", "J", "D"}


def test_paper_config_has_the_paper_scale():
    config = load(PAPER)
    assert (config["physics"]["lattice"]["rows"], config["physics"]["lattice"]["cols"]) == (100, 100)
    assert config["data"]["pool_size"] == 114688
    assert config["data"]["test_size"] >= 8192
    assert config["train"]["n_d"] == [224 * 2**k for k in range(10)]


def test_defaults_are_filled():
    config = raw()
    del config["physics"]["relax"]
    del config["physics"]["interlayer"]
    del config["resources"]
    validate(config)
    assert config["physics"]["relax"]["max_steps"] == 5000
    assert config["physics"]["interlayer"]["shells"] == 3
    for rule in ("simulate", "train", "aggregate"):
        assert config["resources"][rule] == {"threads": 1, "mem_mb": 2000, "runtime": 60, "gpu": 0}


@pytest.mark.parametrize(
    "override, message",
    [
        ({"phyiscs": {}}, r"\(top level\): Additional properties are not allowed \('phyiscs' was unexpected\)"),
        ({"physics": {"relax": {"tol": 0.1}}}, r"physics\.relax: Additional properties .*'tol'"),
        ({"data": {"shard_size": "many"}}, r"data\.shard_size: 'many' is not of type 'integer'"),
        ({"physics": {"lattice": {"rows": 33}}}, r"physics\.lattice\.rows: 33 is not a multiple of 2"),
        ({"physics": {"ranges": {"theta": [4.0]}}}, r"physics\.ranges\.theta: \[4\.0\] is too short"),
        ({"physics": {"ranges": {"J": [3.0, 1.5]}}}, r"physics\.ranges\.J: low 3\.0 must be below high 1\.5"),
        ({"physics": {"ranges": {"J": [-1.0, 1.5]}}}, r"physics\.ranges\.J must be positive"),
        ({"physics": {"ranges": {"theta": [1.0, 8.0]}}}, r"physics\.ranges\.theta: at theta = 1\.0 deg the moire period"),
        ({"physics": {"relax": {"dt": 1.0, "dt_max": 0.5}}}, r"physics\.relax\.dt_max \(0\.5\) must be >= physics\.relax\.dt"),
        ({"physics": {"relax": {"method": "fire"}}}, r"physics\.relax\.method: 'fire' is not one of \['lbfgs', 'vp'\]"),
        ({"physics": {"relax": {"max_rotation": 3.0}}}, r"physics\.relax\.max_rotation: 3\.0 is greater than the maximum of 1\.5"),
        ({"physics": {"interlayer": {"table": "nowhere.csv"}}}, r"physics\.interlayer\.table: .*nowhere\.csv does not exist"),
        ({"data": {"atlas": {"D": [0.9]}}}, r"data\.atlas\.D: \[0\.9\] outside physics\.ranges\.D"),
        ({"train": {"n_d": [128, 5000]}}, r"N_D = 5000 is larger than the training pool \(data\.pool_size = 4096\)"),
        ({"train": {"draws": "bootstrap"}}, r"train\.draws: 'bootstrap' is not one of \['prefix', 'realization'\]"),
        ({"train": {"schedule": "warp"}}, r"schedule 'warp' is not defined under `schedules`"),
        ({"experiments": {"vit": {"sizes": [{"patch": 4}]}}}, r"experiments\.vit\.sizes: vit size .* expected exactly the keys"),
        ({"device": "gpu"}, r"device: 'gpu' does not match"),
        # 32 x 16 sites are 51 x 183 A: a 98 A period fits along one side only.
        (
            {"physics": {"lattice": {"rows": 32, "cols": 16}}},
            r"moire period 98 A exceeds the 51 x 183 A sample \(32 x 16 sites\) along its shorter side",
        ),
        ({"analysis": {"fit_nd": [2048, 128]}}, r"analysis\.fit_nd: \[2048, 128\] is empty"),
        ({"train": {"archs": {"fcn": {"lr": float("nan")}}}}, r"train\.archs\.fcn\.lr: nan is not a finite number"),
        ({"physics": {"ranges": {"J": [1.5, float("inf")]}}}, r"physics\.ranges\.J\[1\]: inf is not a finite number"),
    ],
)
def test_bad_config_names_the_problem(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(with_overrides(raw(), override))


@pytest.mark.parametrize(
    "remove, message",
    [
        (("train", "n_d"), r"train\.n_d is missing"),
        ((None, "experiments"), r"experiments: none defined"),
    ],
)
def test_a_study_without_training_is_refused(remove, message):
    config = raw()
    section, key = remove
    del (config[section] if section else config)[key]
    with pytest.raises(ConfigError, match=message):
        validate(config)


def test_shipped_configs_give_small_training_sets_real_epochs():
    """An epoch is the unit of patience and early stopping, so at the smallest N_D it
    must still be many optimizer steps (train.min_epoch_steps), not a handful."""
    from regscale.epochs import epoch_plan
    from regscale.schedules import Schedule

    for path in (DEFAULT, PAPER):
        config = load(path)
        for name, experiment in config["experiments"].items():
            settings = config["train"]["archs"][experiment["arch"]]
            n_d = min(experiment.get("n_d", config["train"]["n_d"]))
            schedule = Schedule.from_config(config["schedules"][config["train"]["schedule"]])
            steps = epoch_plan(n_d, config["train"]["validation_fraction"], settings, schedule).batches
            assert steps >= 8, f"{path.name}: experiments.{name} at N_D = {n_d}: {steps} steps per epoch"


def test_bad_yaml_is_named(tmp_path):
    (tmp_path / "broken.yaml").write_text("seed: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load(tmp_path / "broken.yaml")


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load(tmp_path / "list.yaml")


def test_snakemake_refuses_a_bad_config_before_running_anything(tmp_path):
    config = copy.deepcopy(raw(TINY))
    config["data"]["pool_sise"] = 64
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", configfile=bad, check=False)
    assert result.returncode != 0
    assert "invalid config at data: Additional properties are not allowed ('pool_sise' was unexpected)" in result.stdout + result.stderr
    assert not (tmp_path / "resources").exists()
