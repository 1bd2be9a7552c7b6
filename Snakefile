# regscale: neural scaling laws for deep regression on twisted bilayer CrI3.
# Stages, one rules file each: simulate -> train -> analysis. See README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"


rule all:
    input:
        "resources/shards/manifest.csv",
        "results/figures/atlas.png",
