#!/bin/sh
# Snakemake runs this once in the conda environment of regscale.yaml, after creating
# it, from the workflow's working directory (the checkout): install the package there.
set -e
if [ ! -f pyproject.toml ] || [ ! -d src/regscale ]; then
    echo "regscale.post-deploy.sh: run snakemake from the regscale checkout (no pyproject.toml in $(pwd))" >&2
    exit 1
fi
python -m pip install --no-deps --editable .
