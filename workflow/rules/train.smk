# Stage 2: one job trains the seeds of one (architecture, size, schedule, target, N_D)
# cell; see src/regscale/train.py for the run artifacts and src/regscale/jobspec.py for
# the settings that make a job stale.

from regscale import archs, jobspec, targets

# Every job folder of the config, for `rule all` and the runs table.
TRAINING_OUTPUTS = [job.folder for job in TRAINING_JOBS]


rule train:
    input:
        unpack(lambda wildcards: jobspec.rule_inputs(config, wildcards)),
    output:
        directory(
            "results/runs/arch~{arch}/{size}/schedule~{schedule}/target~{target}/nd~{nd}/seeds~{first}-{last}"
        ),
    log:
        "results/logs/train/arch~{arch}/{size}/schedule~{schedule}/target~{target}/nd~{nd}/seeds~{first}-{last}.log",
    benchmark:
        "results/benchmarks/train/arch~{arch}/{size}/schedule~{schedule}/target~{target}/nd~{nd}/seeds~{first}-{last}.tsv"
    wildcard_constraints:
        arch="|".join(archs.ARCHITECTURES),
        size=r"[a-z]+~\d+(/[a-z]+~\d+)*",
        schedule=r"[A-Za-z0-9_.-]+",
        target="|".join([*targets.names(), "joint"]),
        nd=r"\d+",
        first=r"\d+",
        last=r"\d+",
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("train", "threads")
    resources:
        **rule_resources_of("train"),
    params:
        settings=lambda wildcards: jobspec.rule_settings(config, wildcards),
        resume=jobspec.rule_resume_folder,
        # Its own code version (the Snakefile gives every other rule one per script):
        # per architecture, so that registering one leaves the others' jobs alone.
        code=lambda wildcards: jobspec.code_version_for(
            script_path(rules.train.rule), wildcards.arch
        ),
    script:
        "../../scripts/train.py"
