# Helpers shared by the rules: config validation, paths, params and resources.
# Code versions are not here: the Snakefile gives every script rule its own.

import json
from pathlib import Path

from regscale import config as study_config
from regscale import shards, study

study_config.validate(config)  # fills every default: the rules read the resolved config
# The training jobs of the config's experiments, expanded once (regscale.study.jobs).
TRAINING_JOBS = study.jobs(config)

REPO = Path(workflow.basedir)


def canonical(value):
    """A rule param as sorted JSON. Snakemake's params rerun trigger compares params
    as text, so a dict whose keys merely come in another order (as after a YAML
    round trip) would otherwise mark the job stale."""
    return json.dumps(value, sort_keys=True)


# Everything that fixes the content of a shard besides its index.
SHARD_SPEC = canonical(
    {
        "physics": config["physics"],
        "seed": config["seed"],
        "shard_size": config["data"]["shard_size"],
    }
)


wildcard_constraints:
    split="pool|test",
    index=r"\d{5}",


def split_size(split):
    return config["data"]["pool_size" if split == "pool" else "test_size"]


def shard_outputs(split, kind):
    """All shard files of one kind ("images", "table" or "meta") of a split."""
    n = shards.shard_count(split_size(split), config["data"]["shard_size"])
    return [str(shards.shard_files(split, i)[kind]) for i in range(n)]


def interlayer_table():
    return REPO / config["physics"]["interlayer"]["table"]


def rule_resources(rule_name, key):
    """config["resources"][rule_name][key]; runtime and mem_mb as a function of the
    attempt, so that a job that ran out of time or memory gets twice as much on its
    first retry (retries are set by the cluster profile)."""
    value = config["resources"][rule_name][key]
    if key not in ("runtime", "mem_mb"):
        return value

    def per_attempt(wildcards, attempt):
        return value * attempt

    return per_attempt


def script_path(script_rule):
    """The file a rule's `script:` names (relative to the rules file that defines it;
    {params.name} filled in as Snakemake does when the job runs)."""
    script = str(script_rule.script).format(params=script_rule.params)
    return Path(script_rule.snakefile).parent / script


def rule_resources_of(rule_name):
    """Every resource of config["resources"][rule_name] but threads, for `resources:`."""
    return {
        key: rule_resources(rule_name, key)
        for key in config["resources"][rule_name]
        if key != "threads"
    }


# Inputs and params of the generated figure rules (workflow/rules/analysis.smk).
def figure_inputs(figure):
    inputs = {}
    for name in figure.inputs:
        if name == "test_shard":
            inputs.update(DATASET_SHARD)
        elif name == "histories":
            inputs["histories"] = list(SCHEDULE_HISTORIES.values())
        else:
            producer, key = figure_registry.TABLE_PRODUCERS[name]
            inputs[name] = getattr(rules, producer).output[key]
    return inputs


def figure_params(figure):
    # The order of the inputs too: the scripts read the tables in that order.
    params = {
        "script": figure.script,
        "draw": figure.draw,
        "inputs": list(figure.inputs),
    }
    params.update({name: FIGURE_SETTINGS[name] for name in figure.settings})
    if "histories" in figure.inputs:
        params["histories"] = list(SCHEDULE_HISTORIES)
    return params
