# regscale: neural scaling laws for deep regression on twisted bilayer CrI3.
# Stages, one rules file each: simulate -> train -> analysis. See README.md.

from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default study; a --configfile replaces it rather than being merged
# into it, so a key left out of configs/paper.yaml takes the schema default, not the
# laptop value.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"


rule all:
    input:
        "resources/shards/manifest.csv",
        "results/figures/atlas.png",
        TRAINING_OUTPUTS,
        ANALYSIS_OUTPUTS,
