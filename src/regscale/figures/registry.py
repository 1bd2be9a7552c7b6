"""Every figure of the study in one table: what it needs and how it is drawn.

The workflow generates one rule per entry (workflow/rules/analysis.smk); adding a
figure is one entry here, one drawing function and one caption in workflow/report/.
Which runs feed which figure comes from the config's experiments: a figure is drawn
only when the config defines every experiment it ``needs``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import experiment
from ..study import jobs


@dataclass(frozen=True)
class Figure:
    stem: str  # results/figures/<stem>.png and .pdf; the caption is workflow/report/<stem>.rst
    label: str  # the report's figure label, as the paper numbers it
    content: str  # the report's one-line description
    needs: tuple[str, ...]  # experiments the config must define
    inputs: tuple[str, ...]  # tables (TABLE_PRODUCERS), "test_shard" or "histories", in the drawer's order
    script: str  # scripts/<script>: one script per drawing module
    draw: str  # the drawing function in that module
    settings: tuple[str, ...] = ("experiments", "train", "plots")  # config sections passed to it

    @property
    def rule(self) -> str:
        return "figure_" + self.stem.split("_", 1)[1]


FIGURES = [
    Figure("fig1_architectures", "Fig. 1", "architectures compared", ("fcn_width",), ("cells", "exponents"), "figure_scaling.py", "architectures"),
    Figure("fig2_dataset", "Fig. 2", "dataset and model", (), ("test_shard",), "figure_dataset.py", "dataset", ("plots",)),
    Figure("fig3_statistics", "Fig. 3", "statistics over realizations", ("statistics",), ("runs", "subsets"), "figure_statistics.py", "statistics"),
    Figure("fig4_sweeps", "Fig. 4", "width and depth sweeps", ("fcn_width",), ("cells", "exponents"), "figure_scaling.py", "sweeps"),
    Figure("fig5_exponents", "Fig. 5", "alpha_D vs model size", ("fcn_width",), ("exponents", "trend"), "figure_scaling.py", "exponents_vs_size"),
    Figure("fig6_model_size", "Fig. 6", "loss vs model size", ("fcn_width",), ("cells", "exponents"), "figure_scaling.py", "model_size"),
    Figure("fig7_schedules", "Fig. 7", "learning-rate schedules", ("schedules",), ("cells", "exponents", "histories"), "figure_schedules.py", "schedules"),
    Figure("fig8_joint_law", "Fig. 8", "joint law L(N_D, N_M)", ("fcn_width",), ("cells", "laws"), "figure_scaling.py", "joint_law"),  # beyond the paper
]  # fmt: skip
# The rule and output name that make each table a figure reads.
TABLE_PRODUCERS = {
    "runs": ("aggregate_runs", "runs"),
    "cells": ("cell_statistics", "cells"),
    "subsets": ("cell_statistics", "subsets"),
    "exponents": ("fit_exponents", "exponents"),
    "trend": ("fit_exponents", "trend"),
    "laws": ("fit_joint_law", "laws"),
}
FOLDER = "results/figures"
TABLES = [f"results/tables/{name}" for name in ("runs.csv", "cells.csv", "geomean_subsets.csv")] + [
    f"results/tables/{name}" for name in ("exponents.csv", "trend.csv", "exponents.html", "joint_law.csv", "forecast.csv", "guidance.csv")
]


def drawable(config: dict) -> list[Figure]:
    """The figures this config can draw: those whose experiments it defines."""
    return [figure for figure in FIGURES if all(need in config["experiments"] for need in figure.needs)]


def outputs(config: dict) -> list[str]:
    """Every product of the analysis stage for `rule all`: tables and figures."""
    figures = [f"{FOLDER}/{figure.stem}.{ext}" for figure in drawable(config) for ext in ("png", "pdf")]
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
