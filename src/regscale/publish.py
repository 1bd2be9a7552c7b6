"""Publish a finished study's tables and figures under docs/results/<name>/.

    python -m regscale.publish results/wide docs/results/wide --config configs/wide.yaml

copies the tables (CSV) and the figures (PNG) of the study in the work folder, its
config, and writes provenance.yaml: the git commit of the code, the training code
version of its runs, when and by what command it was published. An existing
destination is never overwritten unless --replace is given. tests/test_published.py
recomputes the fits of every published study from its runs table.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from . import throughput
from .config import REPO, load

TABLES = [
    "runs.csv", "cells.csv", "geomean_subsets.csv", "exponents.csv", "trend.csv",
    "joint_law.csv", "forecast.csv", "guidance.csv",
]  # fmt: skip


THROUGHPUT = throughput.FILE  # what the guidance rule reads


def git_commit() -> str:
    """HEAD's commit, with "-dirty" when tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def publish(study: Path, destination: Path, config_path: Path, replace: bool = False) -> list[Path]:
    """Copy the study's tables, PNG figures, config and the throughput file its guidance
    was costed with to ``destination``; returns the files written. Raises
    FileExistsError (nothing written) when ``destination`` exists and ``replace`` is
    false, FileNotFoundError when a table is missing."""
    tables, figures = study / "results" / "tables", study / "results" / "figures"
    missing = [name for name in TABLES if not (tables / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{tables}: missing {', '.join(missing)} (has the study run to the end?)")
    load(config_path)  # a config that does not validate is not published
    if destination.exists() and not replace:
        raise FileExistsError(f"{destination} exists; pass --replace to overwrite it")
    # Read before anything is written: --replace of a tracked folder would otherwise mark
    # the commit that made the study "-dirty" by the publication's own files.
    commit = git_commit()
    if destination.exists():
        shutil.rmtree(destination)
    (destination / "figures").mkdir(parents=True)
    written = [Path(shutil.copy2(tables / name, destination / name)) for name in TABLES]
    written += [Path(shutil.copy2(png, destination / "figures" / png.name)) for png in sorted(figures.glob("*.png"))]
    written.append(Path(shutil.copy2(config_path, destination / "config.yaml")))
    # The measured rates guidance.csv was costed with: a later --record must not move
    # the published hours.
    written.append(Path(shutil.copy2(THROUGHPUT, destination / "throughput.yaml")))
    runs = pd.read_csv(tables / "runs.csv")
    provenance = {
        "git_commit": commit,
        "train_code_versions": sorted(runs["code_digest"].dropna().unique().tolist()) if "code_digest" in runs else [],
        "config": str(config_path),
        "study_folder": str(study),
        "published": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m regscale.publish", *sys.argv[1:]]),
    }
    (destination / "provenance.yaml").write_text(yaml.safe_dump(provenance, sort_keys=False))
    return [*written, destination / "provenance.yaml"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="the study's work folder (holding results/tables)")
    parser.add_argument("destination", type=Path, help="for example docs/results/wide")
    parser.add_argument("--config", type=Path, required=True, help="the config the study ran with")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing destination")
    args = parser.parse_args(argv)
    try:
        written = publish(args.study, args.destination, args.config, args.replace)
    except (FileExistsError, FileNotFoundError) as error:
        parser.exit(1, f"error: {error}\n")
    print(f"published {len(written)} files to {args.destination}")


if __name__ == "__main__":
    main()
