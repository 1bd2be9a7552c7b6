#!/usr/bin/env bash
# Install the Debian packages of the SLURM test (tests/test_slurm.py): SLURM with its
# accounting daemon, munge and MariaDB. Idempotent and quiet: a no-op when they are
# installed; needs root and apt-get (Debian 12), and otherwise says why and leaves
# the test to skip itself. It starts nothing: the test runs its own daemons from a
# temporary folder (tests/slurm/cluster.py), beside any the packages may have started.
set -euo pipefail

packages=(slurm-wlm slurmdbd munge mariadb-server)
missing=()
for package in "${packages[@]}"; do
    dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "tests/slurm/install.sh: ${missing[*]} missing and no root apt-get; the SLURM test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
