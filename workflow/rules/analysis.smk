# Stage 3: analysis. Every run's metrics -> runs table -> per-cell statistics ->
# power-law fits -> the paper's figures. Each rule gets only the config sections it
# reads, so a plots setting reruns the figures alone and a fit setting the fits and
# figures, never the aggregation.
#
# The report (every figure with its caption, and the tables) is Snakemake's own:
#   snakemake --cores all --report results/report.html --report-after-run
# runs the study and then writes it; `snakemake --report results/report.html` writes
# it for outputs already made.

from regscale import figures as study_figures
from regscale import study


report: "../report/workflow.rst"


ANALYSIS_OUTPUTS = study_figures.outputs(config)
RUN_FOLDERS = [job.folder for job in study.jobs(config)]
SCHEDULE_HISTORIES = study_figures.schedule_histories(config)
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
# The library modules each rule runs (library_digest: a change marks the rule stale).
ANALYSIS_CODE = {
    "aggregate": library_digest("aggregate.py", "study.py"),
    "stats": library_digest("stats.py", "aggregate.py"),
    "fits": library_digest("fits.py", "stats.py"),
    "joint": library_digest("joint.py", "fits.py", "stats.py"),
    "guidance": library_digest(
        "guidance.py", "joint.py", "plan.py", "throughput.py", "schedules.py"
    ),
    "figures": library_digest(
        "stats.py",
        "joint.py",
        *sorted(
            f"figures/{path.name}"
            for path in (REPO / "src" / "regscale" / "figures").glob("*.py")
        ),
    ),
}


rule aggregate_runs:
    input:
        runs=RUN_FOLDERS,
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
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        code=ANALYSIS_CODE["aggregate"],
    script:
        "../../scripts/aggregate.py"


rule cell_statistics:
    input:
        runs="results/tables/runs.csv",
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
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        subsets=config["analysis"]["geomean_subsets"],
        seed=config["seed"],
        code=ANALYSIS_CODE["stats"],
    script:
        "../../scripts/cells.py"


rule fit_exponents:
    input:
        runs="results/tables/runs.csv",
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
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        analysis=canonical(FIT_SETTINGS),
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        seed=config["seed"],
        code=ANALYSIS_CODE["fits"],
    script:
        "../../scripts/fits.py"


rule fit_joint_law:
    input:
        runs="results/tables/runs.csv",
    output:
        laws=report(
            "results/tables/joint_law.csv",
            caption="../report/joint_law.rst",
            category="Tables",
            labels={"table": "joint_law", "content": "L(N_D, N_M) (CSV)"},
        ),
    log:
        "results/logs/analysis/fit_joint_law.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        analysis=canonical(FIT_SETTINGS),
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        seed=config["seed"],
        code=ANALYSIS_CODE["joint"],
    script:
        "../../scripts/joint_law.py"


rule figure_architectures:
    input:
        cells="results/tables/cells.csv",
        exponents="results/tables/exponents.csv",
    output:
        png=report(
            "results/figures/fig1_architectures.png",
            caption="../report/fig1_architectures.rst",
            category="Figures",
            labels={"figure": "Fig. 1", "content": "architectures compared"},
        ),
        pdf="results/figures/fig1_architectures.pdf",
    log:
        "results/logs/analysis/figure_architectures.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="architectures",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_dataset:
    input:
        **DATASET_SHARD,
    output:
        png=report(
            "results/figures/fig2_dataset.png",
            caption="../report/fig2_dataset.rst",
            category="Figures",
            labels={"figure": "Fig. 2", "content": "dataset and model"},
        ),
        pdf="results/figures/fig2_dataset.pdf",
    log:
        "results/logs/analysis/figure_dataset.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
    script:
        "../../scripts/figure_dataset.py"


rule figure_statistics:
    input:
        runs="results/tables/runs.csv",
        subsets="results/tables/geomean_subsets.csv",
    output:
        png=report(
            "results/figures/fig3_statistics.png",
            caption="../report/fig3_statistics.rst",
            category="Figures",
            labels={"figure": "Fig. 3", "content": "statistics over realizations"},
        ),
        pdf="results/figures/fig3_statistics.pdf",
    log:
        "results/logs/analysis/figure_statistics.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="statistics",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_sweeps:
    input:
        cells="results/tables/cells.csv",
        exponents="results/tables/exponents.csv",
    output:
        png=report(
            "results/figures/fig4_sweeps.png",
            caption="../report/fig4_sweeps.rst",
            category="Figures",
            labels={"figure": "Fig. 4", "content": "width and depth sweeps"},
        ),
        pdf="results/figures/fig4_sweeps.pdf",
    log:
        "results/logs/analysis/figure_sweeps.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="sweeps",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_exponents:
    input:
        exponents="results/tables/exponents.csv",
        trend="results/tables/trend.csv",
    output:
        png=report(
            "results/figures/fig5_exponents.png",
            caption="../report/fig5_exponents.rst",
            category="Figures",
            labels={"figure": "Fig. 5", "content": "alpha_D vs model size"},
        ),
        pdf="results/figures/fig5_exponents.pdf",
    log:
        "results/logs/analysis/figure_exponents.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="exponents_vs_size",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_model_size:
    input:
        cells="results/tables/cells.csv",
        exponents="results/tables/exponents.csv",
    output:
        png=report(
            "results/figures/fig6_model_size.png",
            caption="../report/fig6_model_size.rst",
            category="Figures",
            labels={"figure": "Fig. 6", "content": "loss vs model size"},
        ),
        pdf="results/figures/fig6_model_size.pdf",
    log:
        "results/logs/analysis/figure_model_size.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="model_size",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_joint_law:
    input:
        cells="results/tables/cells.csv",
        laws="results/tables/joint_law.csv",
    output:
        png=report(
            "results/figures/fig8_joint_law.png",
            caption="../report/fig8_joint_law.rst",
            category="Figures",
            labels={"figure": "Fig. 8", "content": "joint law L(N_D, N_M)"},
        ),
        pdf="results/figures/fig8_joint_law.pdf",
    log:
        "results/logs/analysis/figure_joint_law.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
        draw="joint_law",
    script:
        "../../scripts/figure_from_tables.py"


rule figure_schedules:
    input:
        cells="results/tables/cells.csv",
        exponents="results/tables/exponents.csv",
        histories=list(SCHEDULE_HISTORIES.values()),
    output:
        png=report(
            "results/figures/fig7_schedules.png",
            caption="../report/fig7_schedules.rst",
            category="Figures",
            labels={"figure": "Fig. 7", "content": "learning-rate schedules"},
        ),
        pdf="results/figures/fig7_schedules.pdf",
    log:
        "results/logs/analysis/figure_schedules.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("aggregate", "threads")
    resources:
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        histories=list(SCHEDULE_HISTORIES),
        experiments=canonical(config["experiments"]),
        train=canonical(EXPERIMENT_TRAIN),
        plots=canonical(config["plots"]),
        code=ANALYSIS_CODE["figures"],
    script:
        "../../scripts/figure_schedules.py"


rule guidance:
    input:
        laws="results/tables/joint_law.csv",
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
        mem_mb=rule_resources("aggregate", "mem_mb"),
        runtime=rule_resources("aggregate", "runtime"),
    params:
        config=canonical(COST_SETTINGS),
        code=ANALYSIS_CODE["guidance"],
    script:
        "../../scripts/guidance.py"
