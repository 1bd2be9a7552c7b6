"""An interrupted Snakemake run, started again, recomputes nothing that was complete
and takes nothing half-written as complete (issue 5, point 4).

The simulation stage of the tiny config runs one job at a time and is stopped while a
shard job is in flight: by Ctrl-C (SIGINT to the process group, as a terminal sends
it) or by SIGKILL to the whole group, as when a login node or an allocation dies and
nothing gets to clean up; the interrupted shard is then given a torn image file, as
a writer that is not atomic would leave. Shards are written through a temporary file
and a rename, and Snakemake marks the outputs of a job it started until the job has
finished, so every output left behind is either complete or known to be incomplete.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE, TINY, snakemake
from regscale import shards

pytestmark = pytest.mark.slow
TARGETS = ["resources/shards/manifest.csv"]
SHARDS = [("pool", i) for i in range(4)] + [("test", i) for i in range(2)]


def shard_state(workdir):
    """{(split, index): {"complete": bool, "files": {name: (mtime_ns, bytes)}}}."""
    state = {}
    for split, index in SHARDS:
        files = shards.shard_files(split, index, workdir / "resources/shards")
        present = {kind: path for kind, path in files.items() if path.exists()}
        try:
            shards.verify(files)
            complete = True
        except shards.ShardError:
            complete = False
        state[(split, index)] = {
            "complete": complete,
            "files": {kind: (path.stat().st_mtime_ns, path.read_bytes()) for kind, path in present.items()},
        }
    return state


def in_flight(workdir):
    """Shards whose job has started (its log exists) but whose metadata, written
    last, does not exist yet."""
    return [
        (split, index)
        for split, index in SHARDS
        if (workdir / f"results/logs/simulate/{split}/shard~{index:05d}.log").exists()
        and not shards.shard_files(split, index, workdir / "resources/shards")["meta"].exists()
    ]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_midway(workdir, sig):
    """Start the simulation stage and send ``sig`` to its process group while a shard
    job runs and at least one shard is complete; return the shards then in flight."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--configfile", str(TINY), "--cores", "1", *TARGETS]
    with open(workdir.parent / f"{workdir.name}.log", "w") as log:
        # SIGINT as a terminal's foreground job has it: a test run started in the
        # background (`nohup make test &`) hands an ignored SIGINT down to its children,
        # and Python then leaves it ignored, so Snakemake would never see the Ctrl-C.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_sigint
        )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            complete = sum(
                1 for split, i in SHARDS if shards.shard_files(split, i, workdir / "resources/shards")["meta"].exists()
            )
            running = in_flight(workdir)
            if complete >= 1 and running:
                os.killpg(process.pid, sig)
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run finished or stalled before it could be interrupted")
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode != 0
    return running


def named_shards(result):
    text = result.stdout + result.stderr
    return {(split, int(index)) for split, index in re.findall(r"shards/(pool|test)/shard~(\d{5})\.npy", text)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_restarted_run_keeps_complete_shards_and_redoes_the_rest(tmp_path, sig):
    work = tmp_path / "work"
    work.mkdir()
    running = interrupt_midway(work, sig)
    # Where the interrupted job had not written its images yet, leave a torn file, as
    # a writer that is not atomic would: it must not pass for a shard either.
    for split, index in running:
        images = shards.shard_files(split, index, work / "resources/shards")["images"]
        if not images.exists():
            images.parent.mkdir(parents=True, exist_ok=True)
            images.write_bytes(b"\x93NUMPY\x01\x00" + bytes(100))
    before = shard_state(work)

    # What a restart will do: every shard that is missing or fails its checksums is
    # planned; a shard whose job was stopped is planned even if its files look whole,
    # since nothing recorded that the job finished.
    planned = named_shards(snakemake(work, "-n", "--rerun-incomplete", *TARGETS))
    kept = set(SHARDS) - planned
    assert {key for key, shard in before.items() if not shard["complete"]} <= planned
    assert kept, "no shard was complete when the run was interrupted"
    assert planned, "the run was interrupted after the last shard"

    # Without --rerun-incomplete, Snakemake plans the same shards, or refuses to go on
    # and names the outputs of the stopped job, which it cannot trust.
    plain = snakemake(work, "-n", *TARGETS, check=False)
    text = plain.stdout + plain.stderr
    if plain.returncode == 0:
        assert named_shards(plain) == planned, text
    else:
        assert "IncompleteFilesException" in text and named_shards(plain) <= planned, text

    # Started again, the run finishes the stage and leaves the complete shards alone.
    # After kill -9 the lock of the dead run is still there: Snakemake refuses to
    # start until told that no other run is alive (`snakemake --unlock`).
    if sig == signal.SIGKILL:
        locked = snakemake(work, "--rerun-incomplete", *TARGETS, check=False)
        assert locked.returncode != 0 and "LockException" in locked.stdout + locked.stderr
        snakemake(work, "--unlock")
    snakemake(work, "--rerun-incomplete", *TARGETS)
    after = shard_state(work)
    assert all(shard["complete"] for shard in after.values())
    for key in kept:
        assert after[key]["files"] == before[key]["files"], f"complete shard {key} was written again"
    assert len(pd.read_csv(work / "resources/shards/manifest.csv")) == len(SHARDS)
    again = snakemake(work, "-n", *TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr
