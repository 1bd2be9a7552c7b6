"""Shared fixtures: the repository, the tiny config, and real Snakemake runs of it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(
    workdir: Path, *args: str, configfile: Path = TINY, check: bool = True, code: Path = REPO
) -> subprocess.CompletedProcess:
    """Run the real workflow on ``configfile`` in ``workdir`` (outputs land there).
    ``code``: a copy of the repository (copy_of_code) whose workflow and library run instead."""
    command = [str(SNAKEMAKE), "-s", str(code / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(configfile), "--cores", "2", *args]
    env = dict(os.environ)
    if code != REPO:
        env["PYTHONPATH"] = str(code / "src")  # ahead of the editable install of REPO/src
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def planned_jobs(workdir: Path, *targets: str, configfile: Path = TINY, code: Path = REPO) -> dict[str, int]:
    """Jobs a dry run would execute, by rule name (empty when nothing is to be done)."""
    result = snakemake(workdir, "-n", *targets, configfile=configfile, code=code)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    counts = {}
    for line in text.split("Job stats:")[1].split("Reasons:")[0].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job", "jobid:"):
            counts[parts[0]] = int(parts[1])
    # The target rule `all` only collects outputs; it is listed whenever anything else runs.
    counts.pop("all", None)
    return counts


def start_snakemake(workdir: Path, *args: str, configfile: Path = TINY, code: Path = REPO) -> subprocess.Popen:
    """The workflow started in the background (one core, its own process group), its
    output in ``workdir``/../<name>.log, to be stopped by :func:`kill_when`."""
    command = [str(SNAKEMAKE), "-s", str(code / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(configfile), "--cores", "1", *args]
    env = dict(os.environ)
    if code != REPO:
        env["PYTHONPATH"] = str(code / "src")
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir.parent / f"{workdir.name}.log", "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL the whole process group as soon as ``ready()`` holds, as when a node dies;
    fail if the run ends or stalls first."""
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        else:
            pytest.fail("the run finished or stalled before it could be killed")
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == -signal.SIGKILL


def planned_job_set(workdir: Path, *args: str, configfile: Path = TINY, code: Path = REPO) -> set[tuple[str, str]]:
    """(rule, first output) of every job a dry run would execute, the target rule `all` left out."""
    result = snakemake(workdir, "-n", *args, configfile=configfile, code=code)
    text = result.stdout + result.stderr
    jobs = set()
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", text, flags=re.MULTILINE)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)[1]
        output = re.search(r"^\s+output: ([^,\s]+)", block, re.MULTILINE)
        if rule != "all":
            jobs.add((rule, output[1]))
    return jobs


def copy_of_code(destination: Path) -> Path:
    """A copy of what the workflow runs (Snakefile, workflow, scripts, library, profiles,
    input resources), for tests that edit code without touching the repository."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "shards")
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "workflow", "scripts", "src", "profiles", "resources", "envs"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def write_config(path: Path, base: Path = TINY, **changes) -> Path:
    """A copy of ``base`` with changes given as dotted keys: {"physics.seed": 3}."""
    config = yaml.safe_load(base.read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[key] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory) -> Path:
    """A work directory holding the tiny config's shards, simulated by the real rules."""
    workdir = tmp_path_factory.mktemp("tiny_shards")
    snakemake(workdir, "resources/shards/manifest.csv")
    return workdir


@pytest.fixture(scope="session")
def complete_study(tmp_path_factory) -> tuple[Path, Path]:
    """(code, work): a copy of the code (copy_of_code) and the tiny study completed with
    it in ``work``. Tests that edit the code put it back; tests that run jobs copy
    ``work`` first (shutil.copytree keeps Snakemake's records and the file times)."""
    root = tmp_path_factory.mktemp("complete_study")
    code = copy_of_code(root / "code")
    work = root / "work"
    snakemake(work, code=code)
    return code, work


@pytest.fixture(scope="session")
def tiny_study(complete_study) -> Path:
    """A work directory in which the whole tiny study ran to completion (`snakemake` with
    no target: shards, training, tables, figures), from the copy of the code in
    ``complete_study``. Shared: read it, or copy it to change it."""
    return complete_study[1]


@pytest.fixture(scope="session")
def every_job(complete_study) -> set[tuple[str, str]]:
    """(rule, first output) of every job of the tiny study (`snakemake -n --forceall`)."""
    code, work = complete_study
    return planned_job_set(work, "--forceall", code=code)


@pytest.fixture(scope="session")
def downstream(complete_study):
    """rules -> those rules and every rule that reads their outputs, directly or not,
    read from Snakemake's rule graph of the tiny study."""
    code, work = complete_study
    dot = snakemake(work, "--rulegraph", code=code).stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, re.MULTILINE))
    edges = [(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.MULTILINE)]

    def below(rules):
        found, todo = set(rules), list(rules)
        while todo:
            current = todo.pop()
            for source, target in edges:
                if source == current and target not in found:
                    found.add(target)
                    todo.append(target)
        return found - {"all"}

    return below


def jobs_of(every_job: set[tuple[str, str]], rules) -> set[tuple[str, str]]:
    """The jobs of ``every_job`` whose rule is one of ``rules``."""
    return {job for job in every_job if job[0] in rules}
