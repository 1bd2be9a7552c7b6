"""The study configuration: schema validation (which fills defaults) and the checks
a schema cannot express. Snakemake (workflow/rules/common.smk) and the command-line
tools both go through :func:`validate`, so a bad config fails the same way everywhere.
"""

from __future__ import annotations

import copy
import math
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

    refuse_non_finite(config)
    try:
        validate_schema(config, str(SCHEMA), set_default=True)
    except WorkflowError as error:
        raise ConfigError(_schema_message(error)) from None
    fill_architecture_defaults(config)
    check(config)
    return config


def fill_architecture_defaults(config: dict) -> None:
    """train.archs.<name> for every registered architecture, its keys left out taking
    the architecture's defaults (regscale.archs)."""
    from . import archs

    settings = config["train"]["archs"]
    for name in settings:
        if name not in archs.ARCHITECTURES:
            raise ConfigError(f"train.archs.{name}: unknown architecture; registered: {sorted(archs.ARCHITECTURES)}")
    for name, arch in archs.ARCHITECTURES.items():
        section = settings.setdefault(name, {})
        for key, value in arch.optimizer_defaults().items():
            section.setdefault(key, value)


def refuse_non_finite(value, where: str = "") -> None:
    """ConfigError naming the first NaN or infinite number (YAML's .nan, .inf)."""
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_non_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_non_finite(item, f"{where}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {value} is not a finite number")


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
    from .physics import Physics

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
    from . import archs
    from .study import size_label

    if not config["experiments"]:
        raise ConfigError("experiments: none defined; a study trains at least one (see config.yaml for the form)")
    if "n_d" not in config["train"]:
        raise ConfigError("train.n_d is missing: the training-set sizes N_D of the study, e.g. [224, 448, 896]")
    pool = config["data"]["pool_size"]
    schedules = config["schedules"]
    names = [config["train"]["schedule"]]
    for name, experiment in config["experiments"].items():
        if experiment["arch"] not in archs.ARCHITECTURES:
            raise ConfigError(
                f"experiments.{name}.arch: unknown architecture {experiment['arch']!r}; "
                f"registered: {sorted(archs.ARCHITECTURES)}"
            )
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
    _check_targets(config)
    for n_d in config["train"]["n_d"]:
        if n_d > pool:
            raise ConfigError(f"train.n_d: N_D = {n_d} is larger than the training pool (data.pool_size = {pool})")
    for name in names:
        if name not in schedules:
            raise ConfigError(f"schedule {name!r} is not defined under `schedules` (known: {sorted(schedules)})")
    from .jobspec import check_training  # registered architectures, sizes that fit the image, schedule keys

    try:
        check_training(config)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _check_targets(config: dict) -> None:
    from .targets import TARGETS_BY_NAME

    lists = {"train.targets": config["train"]["targets"]}
    lists.update({f"experiments.{name}.targets": e["targets"] for name, e in config["experiments"].items() if "targets" in e})
    for where, names in lists.items():
        unknown = [name for name in names if name not in TARGETS_BY_NAME]
        if unknown:
            raise ConfigError(f"{where}: unknown target(s) {unknown}; registered: {list(TARGETS_BY_NAME)}")


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
