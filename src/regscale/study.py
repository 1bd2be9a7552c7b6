"""The runs a config asks for, and where each one lives.

A *job* trains the realizations (seeds) of one cell together: one architecture and
size, schedule, target and N_D. Its folder names every parameter::

    results/runs/arch~fcn/width~16/depth~3/schedule~plateau/target~J/nd~224/seeds~0-4/

and holds one sub-folder per realization, ``seed~3/`` (metrics.json, history.csv,
model.pt). Experiments in the config overlap (the statistics cells reuse the width
sweep's): a cell that several experiments ask for is trained once, with the largest
number of realizations any of them wants. Its seeds are cut into blocks of
``train.seeds_per_job`` (per architecture: ``train.archs.<arch>.seeds_per_job``).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import archs

RUNS = "results/runs"


def size_label(arch: str, size: dict) -> str:
    """The size as path components, in the architecture's key order: width~16/depth~3."""
    return archs.get(arch).size_label(size)


def parse_size(label: str) -> dict:
    """Inverse of :func:`size_label`: {'width': 16, 'depth': 3}."""
    return {key: int(value) for key, value in (part.split("~") for part in label.split("/"))}


@dataclass(frozen=True, order=True)
class Job:
    arch: str
    size: str  # size_label
    schedule: str
    target: str  # theta, J, D or joint
    n_d: int
    first_seed: int
    last_seed: int

    @property
    def folder(self) -> str:
        return (
            f"{RUNS}/arch~{self.arch}/{self.size}/schedule~{self.schedule}/target~{self.target}/"
            f"nd~{self.n_d}/seeds~{self.first_seed}-{self.last_seed}"
        )

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.last_seed + 1)

    def seed_folder(self, seed: int) -> str:
        return f"{self.folder}/seed~{seed}"


def seed_blocks(n_seeds: int, per_job: int) -> list[tuple[int, int]]:
    """(first, last) seeds of each job: blocks of ``per_job``, the last one shorter."""
    return [(first, min(first + per_job, n_seeds) - 1) for first in range(0, n_seeds, per_job)]


def _cells(train: dict, experiment: dict):
    """(arch, size label, schedule, target, N_D) of every cell an experiment asks for."""
    arch = experiment["arch"]
    targets = ["joint"] if train["joint"] else experiment.get("targets", train["targets"])
    for size in experiment["sizes"]:
        for schedule in experiment.get("schedules", [train["schedule"]]):
            for target in targets:
                for n_d in experiment.get("n_d", train["n_d"]):
                    yield arch, size_label(arch, size), schedule, target, n_d


def jobs(config: dict, experiments: list[str] | None = None) -> list[Job]:
    """Every training job of the config (or of the named experiments), sorted.

    A cell asked for by several experiments gets the most realizations any of them
    wants, cut into blocks of seeds_per_job, whichever experiments are named: so its
    job folders are the same for every caller, and no seed is trained twice.
    """
    train = config["train"]
    wanted: dict[tuple, int] = {}
    for experiment in config["experiments"].values():
        for cell in _cells(train, experiment):
            wanted[cell] = max(wanted.get(cell, 0), experiment.get("seeds", train["seeds"]))
    names = config["experiments"] if experiments is None else experiments
    found: set[Job] = set()
    for name in names:
        for cell in _cells(train, config["experiments"][name]):
            per_job = train["archs"].get(cell[0], {}).get("seeds_per_job", train["seeds_per_job"])
            for first, last in seed_blocks(wanted[cell], per_job):
                found.add(Job(*cell, first, last))
    return sorted(found)
