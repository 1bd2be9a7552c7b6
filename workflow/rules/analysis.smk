# Stage 3: analysis. Every run's metrics -> runs table -> per-cell statistics ->
# power-law fits -> the paper's figures. Each rule gets only the config sections it
# reads, so a plots setting reruns the figures alone and a fit setting the fits and
# figures, never the aggregation.
#
# The report (every figure with its caption, and the tables) is Snakemake's own:
#   snakemake --cores all --report results/report.html --report-after-run
# runs the study and then writes it; `snakemake --report results/report.html` writes
# it for outputs already made.

from regscale.figures import registry as figure_registry


report: "../report/workflow.rst"


ANALYSIS_OUTPUTS = figure_registry.outputs(config)
SCHEDULE_HISTORIES = figure_registry.schedule_histories(config)
DATASET_SHARD = {
    kind: str(path) for kind, path in shards.shard_files("test", 0).items()
}
# What decides which runs feed which figure and fit (see regscale.stats.experiment).
EXPERIMENT_TRAIN = {
    key: config["train"][key]
    for key in ("targets", "n_d", "seeds", "schedule", "joint")
}
FIT_SETTINGS = {
    key: config["analysis"][key]
    for key in ("fit_nd", "fit_nm", "bootstrap", "confidence")
}
# What guidance costs a realization by (regscale.plan.seconds_per_sample, samples_per_run).
COST_SETTINGS = {
    "physics": {"lattice": config["physics"]["lattice"]},
    "train": {key: config["train"][key] for key in ("archs", "validation_fraction")},
    "schedules": config["schedules"],
}
# The config sections a figure may be drawn with (regscale.figures.registry.Figure.settings).
FIGURE_SETTINGS = {
    "experiments": canonical(config["experiments"]),
    "train": canonical(EXPERIMENT_TRAIN),
    "plots": canonical(config["plots"]),
}
ANALYSIS_RESOURCES = rule_resources_of("aggregate")


rule aggregate_runs:
    input:
        runs=TRAINING_OUTPUTS,
    output:
        runs=report(
            "results/tables/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
            labels={"table": "runs", "content": "every realization"},
        ),
    log:
        "results/logs/analysis/aggregate_runs.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../../scripts/aggregate.py"


rule cell_statistics:
    input:
        runs=rules.aggregate_runs.output.runs,
    output:
        cells=report(
            "results/tables/cells.csv",
            caption="../report/cells.rst",
            category="Tables",
            labels={"table": "cells", "content": "statistics per cell"},
        ),
        subsets=report(
            "results/tables/geomean_subsets.csv",
            caption="../report/geomean_subsets.rst",
            category="Tables",
            labels={"table": "geomean_subsets", "content": "Fig. 3e subsets"},
        ),
    log:
        "results/logs/analysis/cell_statistics.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    params:
        subsets=config["analysis"]["geomean_subsets"],
        seed=config["seed"],
    script:
        "../../scripts/cells.py"


rule fit_exponents:
    input:
        runs=rules.aggregate_runs.output.runs,
        test_errors="results/tables/test_errors.npz",  # rule test_errors, below
    output:
        exponents=report(
            "results/tables/exponents.csv",
            caption="../report/exponents.rst",
            category="Tables",
            labels={"table": "exponents", "content": "alpha_D and alpha_M (CSV)"},
        ),
        trend=report(
            "results/tables/trend.csv",
            caption="../report/trend.rst",
            category="Tables",
            labels={"table": "trend", "content": "alpha_D vs N_M (CSV)"},
        ),
        html=report(
            "results/tables/exponents.html",
            caption="../report/exponents_html.rst",
            category="Tables",
            labels={
                "table": "exponents and trend",
                "content": "both tables, rendered",
            },
        ),
    log:
        "results/logs/analysis/fit_exponents.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    params:
        analysis=canonical(FIT_SETTINGS),
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        seed=config["seed"],
    script:
        "../../scripts/fits.py"


rule test_errors:
    input:
        runs=rules.aggregate_runs.output.runs,
        images=shard_outputs("test", "images"),
        tables=shard_outputs("test", "table"),
        metas=shard_outputs("test", "meta"),
    output:
        errors=report(
            "results/tables/test_errors.npz",
            caption="../report/test_errors.rst",
            category="Tables",
            labels={"table": "test_errors", "content": "error per test sample (npz)"},
        ),
    log:
        "results/logs/analysis/test_errors.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    script:
        "../../scripts/test_errors.py"


rule fit_joint_law:
    input:
        runs=rules.aggregate_runs.output.runs,
        test_errors=rules.test_errors.output.errors,
    output:
        laws=report(
            "results/tables/joint_law.csv",
            caption="../report/joint_law.rst",
            category="Tables",
            labels={"table": "joint_law", "content": "L(N_D, N_M) (CSV)"},
        ),
        forecast=report(
            "results/tables/forecast.csv",
            caption="../report/forecast.rst",
            category="Tables",
            labels={"table": "forecast", "content": "largest N_D forecast (CSV)"},
        ),
    log:
        "results/logs/analysis/fit_joint_law.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    params:
        analysis=canonical(FIT_SETTINGS),
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        seed=config["seed"],
    script:
        "../../scripts/joint_law.py"


rule guidance:
    input:
        laws=rules.fit_joint_law.output.laws,
        throughput=str(REPO / "resources" / "throughput.yaml"),
    output:
        guidance=report(
            "results/tables/guidance.csv",
            caption="../report/guidance.rst",
            category="Tables",
            labels={
                "table": "guidance",
                "content": "cheapest N_D, N_M per target error",
            },
        ),
    log:
        "results/logs/analysis/guidance.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        **ANALYSIS_RESOURCES,
    params:
        config=canonical(COST_SETTINGS),
    script:
        "../../scripts/guidance.py"


# The figures: one rule each, generated from regscale.figures.registry (one entry per
# figure), named figure_<name> and drawn by the entry's script.
for figure in figure_registry.drawable(config):

    rule:
        name:
            figure.rule
        input:
            **figure_inputs(figure),
        output:
            png=report(
                f"results/figures/{figure.stem}.png",
                caption=f"../report/{figure.stem}.rst",
                category="Figures",
                labels={"figure": figure.label, "content": figure.content},
            ),
            pdf=f"results/figures/{figure.stem}.pdf",
        log:
            f"results/logs/analysis/{figure.rule}.log",
        localrule: True
        conda:
            "../../envs/regscale.yaml"
        threads: rule_resources("aggregate", "threads")
        resources:
            **ANALYSIS_RESOURCES,
        params:
            **figure_params(figure),
        # The script through a param: a loop's `script:` is evaluated again when the
        # job runs, when `figure` is the loop's last value; params are fixed here.
        script:
            "../../scripts/{params.script}"
