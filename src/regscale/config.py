"""The study configuration: schema validation (which fills defaults) and the checks
a schema cannot express. Snakemake (workflow/rules/common.smk) and the command-line
tools both go through :func:`validate`, so a bad config fails the same way everywhere.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that cannot describe a study; the message names the key."""


def load(path: Path | str) -> dict:
    """Read, validate and complete a config file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(config).__name__}")
    return validate(config)


def validate(config: dict) -> dict:
    """Validate against the schema (filling defaults in place) and check the semantics."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as validate_schema

    try:
        validate_schema(config, str(SCHEMA), set_default=True)
    except WorkflowError as error:
        raise ConfigError(_schema_message(error)) from None
    check(config)
    return config


def _schema_message(error: Exception) -> str:
    """The first line of jsonschema's message plus where in the config it applies."""
    cause = error
    while cause is not None and not hasattr(cause, "absolute_path"):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return f"invalid config: {error}"
    where = ".".join(str(part) for part in cause.absolute_path) or "(top level)"
    return f"invalid config at {where}: {cause.message}"


def check(config: dict) -> None:
    """Raise ConfigError naming the first setting that cannot work."""
    from .simulate import Physics

    physics = Physics.from_config(config["physics"], base=REPO)
    try:
        physics.check()
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not physics.interlayer_table.exists():
        raise ConfigError(f"physics.interlayer.table: {physics.interlayer_table} does not exist")
    relax = config["physics"]["relax"]
    if relax["dt_max"] < relax["dt"]:
        raise ConfigError(f"physics.relax.dt_max ({relax['dt_max']}) must be >= physics.relax.dt ({relax['dt']})")
    for name, values in config["data"]["atlas"].items():
        low, high = config["physics"]["ranges"][name]
        outside = [v for v in values if not low <= v <= high]
        if outside:
            raise ConfigError(f"data.atlas.{name}: {outside} outside physics.ranges.{name} = {[low, high]}")
    _check_training(config)
    for axis in ("fit_nd", "fit_nm"):
        low, high = config["analysis"][axis]
        if low is not None and high is not None and low > high:
            raise ConfigError(f"analysis.{axis}: [{low}, {high}] is empty; give [min, max] (null for open)")


def _check_training(config: dict) -> None:
    from .study import size_label

    if not config["experiments"]:
        raise ConfigError("experiments: none defined; a study trains at least one (see config.yaml for the form)")
    if "n_d" not in config["train"]:
        raise ConfigError("train.n_d is missing: the training-set sizes N_D of the study, e.g. [224, 448, 896]")
    pool = config["data"]["pool_size"]
    schedules = config["schedules"]
    names = [config["train"]["schedule"]]
    for name, experiment in config["experiments"].items():
        for size in experiment["sizes"]:
            try:
                size_label(experiment["arch"], size)
            except ValueError as error:
                raise ConfigError(f"experiments.{name}.sizes: {error}") from None
        for n_d in experiment.get("n_d", config["train"]["n_d"]):
            if n_d > pool:
                raise ConfigError(
                    f"experiments.{name}: N_D = {n_d} is larger than the training pool "
                    f"(data.pool_size = {pool}); raise the pool or drop that N_D"
                )
        names += experiment.get("schedules", [])
    for n_d in config["train"]["n_d"]:
        if n_d > pool:
            raise ConfigError(f"train.n_d: N_D = {n_d} is larger than the training pool (data.pool_size = {pool})")
    for name in names:
        if name not in schedules:
            raise ConfigError(f"schedule {name!r} is not defined under `schedules` (known: {sorted(schedules)})")
    from .jobspec import check_training  # sizes that fit the image, schedule keys, optimizer settings

    try:
        check_training(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def with_overrides(config: dict, overrides: dict) -> dict:
    """A deep copy of ``config`` with nested ``overrides`` applied (for tests and tools)."""
    merged = copy.deepcopy(config)
    stack = [(merged, overrides)]
    while stack:
        target, source = stack.pop()
        for key, value in source.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                stack.append((target[key], value))
            else:
                target[key] = copy.deepcopy(value)
    return merged
