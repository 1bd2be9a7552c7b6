"""The study's figures (the paper's Figs. 1-7, and Fig. 8 of the joint law), drawn with seaborn from the tables.

Every function takes frames and config sections and returns a matplotlib figure;
the scripts (scripts/figure_*.py) read the tables and save PNG and PDF.
Which runs feed which figure comes from the config's experiments: FIGURES names the
experiments each figure needs, and the workflow asks only for the figures whose
experiments the config has.
"""

from __future__ import annotations

from ..stats import experiment
from ..study import jobs
from .samples import dataset
from .scaling import architectures, exponents_vs_size, joint_law, model_size, schedules, sweeps
from .realizations import statistics

FIGURES = {  # file stem -> experiments it needs
    "fig1_architectures": ["fcn_width"],
    "fig2_dataset": [],
    "fig3_statistics": ["statistics"],
    "fig4_sweeps": ["fcn_width"],
    "fig5_exponents": ["fcn_width"],
    "fig6_model_size": ["fcn_width"],
    "fig7_schedules": ["schedules"],
    "fig8_joint_law": ["fcn_width"],  # beyond the paper: the joint law of regscale.joint
}
FOLDER = "results/figures"
TABLES = [f"results/tables/{name}" for name in ("runs.csv", "cells.csv", "geomean_subsets.csv")] + [
    f"results/tables/{name}" for name in ("exponents.csv", "trend.csv", "exponents.html", "joint_law.csv", "guidance.csv")
]

__all__ = [
    "FIGURES",
    "architectures",
    "dataset",
    "exponents_vs_size",
    "joint_law",
    "model_size",
    "outputs",
    "schedule_histories",
    "schedules",
    "statistics",
    "sweeps",
]


def figure_names(config: dict) -> list[str]:
    """The figures this config can draw: those whose experiments it defines."""
    return [name for name, needs in FIGURES.items() if all(need in config["experiments"] for need in needs)]


def outputs(config: dict) -> list[str]:
    """Every product of the analysis stage for `rule all`: tables and figures."""
    figures = [f"{FOLDER}/{name}.{ext}" for name in figure_names(config) for ext in ("png", "pdf")]
    return TABLES + figures


def schedule_histories(config: dict) -> dict[str, str]:
    """Fig. 7's training curves: {schedule: job folder} of the first seed block of the
    first size and target of the `schedules` experiment at its largest N_D (the curves
    are read from the block's first seed)."""
    if "schedules" not in config["experiments"]:
        return {}
    spec = experiment(config["experiments"], config["train"], "schedules")
    chosen = (spec["sizes"][0], spec["model_targets"][0], max(spec["n_d"]), 0)
    folders = {
        job.schedule: job.folder
        for job in jobs(config, ["schedules"])
        if (job.size, job.target, job.n_d, job.first_seed) == chosen
    }
    return {schedule: folders[schedule] for schedule in spec["schedules"] if schedule in folders}
