# regscale: neural scaling laws for deep regression on twisted bilayer CrI3.
# Stages, one rules file each: simulate -> train -> analysis. See README.md.

from snakemake.utils import min_version

from regscale.codeversion import code_version

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


# A job is stale when the meaning of its code changed: every script rule gets as its
# `code` param the digest of its script and of every regscale module the script
# reaches through imports, compared as syntax trees without docstrings or comments
# (regscale.codeversion). Snakemake's own script check, by modification time, is off
# (rerun-triggers in profiles/default/config.yaml), so a comment, a `touch` or a
# `git checkout` reruns nothing.
for script_rule in workflow.rules:
    if script_rule.script and not hasattr(script_rule.params, "code"):
        script_rule.set_params(code=code_version(script_path(script_rule)))


rule all:
    input:
        "resources/shards/manifest.csv",
        "results/figures/atlas.png",
        TRAINING_OUTPUTS,
        ANALYSIS_OUTPUTS,
