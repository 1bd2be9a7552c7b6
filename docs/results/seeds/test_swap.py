"""How much of the joint law's b moves with the test set, and how much with the models?
(docs/results.md, "Intervals that hold".) Analysis only, on default
studies already run with different top-level seeds, for example

    make study && make seed-coverage COVERAGE_SEEDS="2028 2029"
    .venv/bin/python docs/results/seeds/test_swap.py . results/coverage/seed2028 results/coverage/seed2029

Every study's joint-law models (their model.pt) are scored on every study's test set,
and the width sweep's law refitted: a table of b per target, one row per study's
models, one column per test set. The spread along a row is what the test set alone
moves; the spread down a column is what the models move (their training pool, its
validation split and the initializations), with the test set held fixed.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from regscale import config as study_config
from regscale import joint, shards, testerrors

REPO = Path(__file__).parents[3]


def test_set(study: Path, config: dict):
    size = config["data"]["test_size"]
    return shards.load(shards.shards_for(size, config["data"]["shard_size"], "test", study / "resources/shards"), size)


def laws_on(study: Path, images, table, config: dict, train: dict) -> pd.DataFrame:
    """The width sweep's joint laws of ``study``'s models scored on (images, table)."""
    runs = pd.read_csv(study / "results/tables/runs.csv")
    mse = {}
    series = joint.law_series(runs, config["experiments"], train, config["analysis"])
    for run in sorted({run for _, cells in series for cell in cells["runs"] for run in cell}):
        for target, errors in testerrors.squared_errors(study / run / "model.pt", images, table).items():
            mse[run, target] = errors.mean()
    runs["test_mse"] = [mse.get(key, value) for key, value in zip(zip(runs.run, runs.target), runs.test_mse)]
    analysis = config["analysis"] | {"bootstrap": 1}  # the point estimates only
    laws = joint.joint_laws(runs, config["experiments"], train, analysis, config["seed"])
    return laws[laws.experiment == "fcn_width"]


def name(study: Path) -> str:
    return study.resolve().name


def main(studies: list[Path]) -> None:
    config = study_config.load(REPO / "config.yaml")
    train = {key: config["train"][key] for key in ("targets", "n_d", "seeds", "schedule", "joint")}
    tests = {study: test_set(study, config) for study in studies}
    rows = []
    for models in studies:
        for scored_on, (images, table) in tests.items():
            for law in laws_on(models, images, table, config, train).itertuples():
                rows.append({"models": name(models), "test set": name(scored_on), "target": law.target, "b": law.b})
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    for target, group in frame.groupby("target"):
        b = group.pivot(index="models", columns="test set", values="b")
        print(f"\nb, {target}: models (rows) on test sets (columns)\n{b.round(3)}")
        print(f"  spread (sd) along rows, the test set: {np.round(b.std(axis=1, ddof=1).to_numpy(), 3)}")
        print(f"  spread (sd) down columns, the models: {np.round(b.std(axis=0, ddof=1).to_numpy(), 3)}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main([Path(arg) for arg in sys.argv[1:]])
