# Helpers shared by the rules: config validation, paths, digests and resources.

import json
from pathlib import Path

from regscale import config as study_config
from regscale import shards

study_config.validate(config)

REPO = Path(workflow.basedir)


def library_digest(*modules):
    """A digest of library modules (paths under src/regscale/). Snakemake tracks a
    rule's script but not the modules it imports: passed as a param, the digest makes
    a change to them mark the rule's outputs stale (rerun trigger "params")."""
    return study_config.files_digest(
        [REPO / "src" / "regscale" / name for name in modules]
    )


# shards.py draws each shard's labels and writes its files.
SIMULATOR_CODE = library_digest(
    "lattice.py", "interlayer.py", "spins.py", "simulate.py", "shards.py"
)


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
