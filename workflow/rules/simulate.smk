# Stage 1: relaxed magnetic-domain images, cached as shards under resources/shards/.


rule simulate_shard:
    input:
        table=interlayer_table(),
    output:
        images="resources/shards/{split}/shard~{index}.npy",
        table="resources/shards/{split}/shard~{index}.csv",
        meta="resources/shards/{split}/shard~{index}.json",
    log:
        "results/logs/simulate/{split}/shard~{index}.log",
    benchmark:
        "results/benchmarks/simulate/{split}/shard~{index}.tsv"
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("simulate", "threads")
    resources:
        **rule_resources_of("simulate"),
    params:
        spec=SHARD_SPEC,
    script:
        "../../scripts/simulate_shard.py"


rule shard_manifest:
    input:
        pool=shard_outputs("pool", "meta"),
        test=shard_outputs("test", "meta"),
    output:
        "resources/shards/manifest.csv",
    log:
        "results/logs/shard_manifest.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    script:
        "../../scripts/shard_manifest.py"


rule atlas_images:
    input:
        table=interlayer_table(),
    output:
        "results/atlas/atlas.npz",
    log:
        "results/logs/atlas_images.log",
    conda:
        "../../envs/regscale.yaml"
    threads: rule_resources("simulate", "threads")
    resources:
        **rule_resources_of("simulate"),
    params:
        spec=SHARD_SPEC,
        atlas=canonical(config["data"]["atlas"]),
    script:
        "../../scripts/atlas_images.py"


rule atlas_figure:
    input:
        "results/atlas/atlas.npz",
    output:
        png=report(
            "results/figures/atlas.png",
            caption="../report/atlas.rst",
            category="Data",
        ),
        pdf="results/figures/atlas.pdf",
    log:
        "results/logs/atlas_figure.log",
    localrule: True
    conda:
        "../../envs/regscale.yaml"
    params:
        plots=canonical(config["plots"]),
    script:
        "../../scripts/atlas_figure.py"
