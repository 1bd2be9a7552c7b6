#!/usr/bin/env bash
# Install the Debian packages of the SLURM test (tests/test_slurm.py): SLURM with its
# accounting daemon, munge and MariaDB. Idempotent and quiet: a no-op when they are
# installed; needs root and apt-get (Debian 12). When it cannot install them it says why
# and exits non-zero: CI (.ci/run) stops there rather than running a suite whose SLURM
# test could not run. It starts nothing: the test runs its own daemons from a temporary
# folder (tests/slurm/cluster.py), beside any the packages may have started.
set -euo pipefail

packages=(slurm-wlm slurmdbd munge mariadb-server)
# The programs tests/slurm/cluster.py runs (its DAEMONS and CLIENTS).
programs=(munged mungekey mariadb-install-db mariadbd mariadb slurmdbd slurmctld slurmd
    sbatch srun sacct sacctmgr sinfo squeue scontrol scancel)

fail() {
    echo "tests/slurm/install.sh: error: $*" >&2
    exit 1
}

missing_packages() {
    local package
    for package in "${packages[@]}"; do
        dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || echo "$package"
    done
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || fail "${missing[*]} not installed, and installing them needs root"
    command -v apt-get >/dev/null || fail "${missing[*]} not installed, and there is no apt-get (Debian 12 expected)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
    mapfile -t still < <(missing_packages)
    [ ${#still[@]} -eq 0 ] || fail "${still[*]} still not installed after apt-get install"
fi

absent=()
for program in "${programs[@]}"; do
    command -v "$program" >/dev/null || absent+=("$program")
done
[ ${#absent[@]} -eq 0 ] || fail "the packages are installed but ${absent[*]} not on the PATH ($PATH)"
