"""A job is stale when the meaning of its code changed, and only then (issue 13, point 1).

Each rule's code version is a digest of the syntax trees of its script and of every
regscale module the script imports (regscale.codeversion). On a completed tiny study,
run from a copy of the code so that the tests can edit it, each kind of edit plans
exactly the jobs it should: the rules whose scripts reach the edited module, and
every job downstream of them in the rule graph (read from Snakemake's --rulegraph).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from conftest import TINY, jobs_of, kill_when, planned_job_set, snakemake, start_snakemake
from regscale import codeversion

pytestmark = pytest.mark.slow


# -- the digest itself ---------------------------------------------------------------


def test_comments_docstrings_and_layout_leave_the_digest_alone(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Doc."""\n\ndef f(x):\n    """Twice x."""\n    return 2 * x\n')
    before = codeversion.code_version(module)
    module.write_text('"""Another doc."""\n# a comment\n\n\ndef f(x):  # why\n    return 2 * x\n')
    assert codeversion.code_version(module) == before
    module.write_text('"""Doc."""\n\ndef f(x):\n    """Twice x."""\n    return 3 * x\n')
    assert codeversion.code_version(module) != before


def test_a_string_after_the_docstring_is_code(tmp_path):
    # Only the first string of a body is a docstring; a second one is a statement.
    module = tmp_path / "m.py"
    module.write_text('"""Doc."""\nX = 1\n')
    before = codeversion.code_version(module)
    module.write_text('"""Doc."""\n"""Not a docstring."""\nX = 1\n')
    assert codeversion.code_version(module) != before


def test_imports_are_followed_transitively_and_only_into_the_package():
    reached = codeversion.reached_modules(codeversion.PACKAGE_DIR.parents[1] / "scripts" / "simulate_shard.py")
    # simulate_shard -> shards -> simulate -> spins -> lattice: transitively, through relative imports
    assert {"regscale.shards", "regscale.simulate", "regscale.spins", "regscale.lattice"} <= set(reached)
    # nothing of the training side: a change there must not re-simulate
    assert not {"regscale.study", "regscale.jobspec", "regscale.train", "regscale.config"} & set(reached)
    assert all(name.split(".")[0] == "regscale" for name in reached)
    train = codeversion.reached_modules(codeversion.PACKAGE_DIR.parents[1] / "scripts" / "train.py")
    assert {"regscale.train", "regscale.jobspec", "regscale.study", "regscale.models", "regscale.ensemble"} <= set(train)


# -- the workflow on a completed tiny study --------------------------------------------


@pytest.fixture(scope="module")
def study(complete_study):
    return complete_study


@contextmanager
def edited(files, change):
    """Apply ``change(text) -> text`` to each file, and put every file back afterwards."""
    originals = {path: path.read_text() for path in files}
    try:
        for path, text in originals.items():
            path.write_text(change(text))
        yield
    finally:
        for path, text in originals.items():
            path.write_text(text)


def python_files(code):
    return sorted((code / "src" / "regscale").rglob("*.py")) + sorted((code / "scripts").glob("*.py"))


def with_comment_and_docstring(text):
    """The same code with its module docstring reworded (or one added) and a comment."""
    tree = ast.parse(text)
    if ast.get_docstring(tree) is not None:
        quote = text.index('"""')
        text = text[: quote + 3] + "Reworded. " + text[quote + 3 :]
    else:
        text = '"""An added docstring."""\n' + text
    return text.replace("\nimport ", "\n# a comment that changes nothing\nimport ", 1) + "\n# trailing comment\n"


def with_code_change(text):
    return text + "\n_A_CODE_CHANGE = 1\n"


def test_the_completed_study_has_nothing_to_do(study):
    code, work = study
    assert planned_job_set(work, code=code) == set()


def test_a_comment_or_docstring_everywhere_reruns_nothing(study):
    code, work = study
    files = python_files(code)
    with edited(files, with_comment_and_docstring):
        assert all(codeversion.stripped_tree(ast.parse(path.read_text())) for path in files)
        assert planned_job_set(work, code=code) == set()


def test_touching_every_script_reruns_nothing(study):
    code, work = study
    later = time.time() + 60
    for path in python_files(code):
        os.utime(path, (later, later))
    assert planned_job_set(work, code=code) == set()


@pytest.mark.parametrize(
    "module, changed_rules",
    [
        ("fits.py", {"fit_exponents", "fit_joint_law"}),
        ("study.py", {"train"}),
        ("jobspec.py", {"train"}),
        ("spins.py", {"simulate_shard", "atlas_images"}),
        ("bench.py", set()),
    ],
)
def test_a_code_change_reruns_its_rules_and_what_follows(study, every_job, downstream, module, changed_rules):
    code, work = study
    with edited([code / "src" / "regscale" / module], with_code_change):
        planned = planned_job_set(work, code=code)
    assert planned == jobs_of(every_job, downstream(changed_rules))
    if module == "study.py":
        assert not {rule for rule, _ in planned} & {"simulate_shard", "shard_manifest", "atlas_images"}


LONG = "results/runs/arch~fcn/width~4/depth~3/schedule~constant/target~J/nd~64/seeds~0-1"


def test_a_killed_job_resumes_from_its_checkpoint_after_a_comment_edit(study, tmp_path):
    code, complete = study
    work = tmp_path / "work"
    shutil.copytree(complete, work, symlinks=True)
    config = yaml.safe_load(TINY.read_text())
    config["train"].update(checkpoint_every=3, checkpoint_seconds=0)
    config["train"]["archs"]["fcn"]["max_epochs"] = 300
    configfile = tmp_path / "long.yaml"
    configfile.write_text(yaml.safe_dump(config))
    resume = work / "results/resume"
    process = start_snakemake(work, LONG, configfile=configfile, code=code)
    kill_when(process, lambda: any(resume.rglob("state~*.pt")))
    with edited(python_files(code), with_comment_and_docstring):
        snakemake(work, "--unlock", configfile=configfile, code=code)
        snakemake(work, "--rerun-incomplete", LONG, configfile=configfile, code=code)
    log = (work / (LONG.replace("results/runs", "results/logs/train") + ".log")).read_text()
    epoch = int(re.search(r"resumed from the checkpoint of epoch (\d+)", log)[1])
    assert 0 < epoch < 300 and epoch % 3 == 0
    assert (work / LONG / "seed~1" / "metrics.json").exists()
    assert Path(work / LONG).is_dir()


def test_one_architecture_s_entry_reruns_its_training_only(study, every_job, downstream):
    # The ViT's plot colour: its registry entry, not the shared part of regscale.archs.
    code, work = study
    registry = code / "src" / "regscale" / "archs.py"
    assert registry.read_text().count('"tab:green"') == 1
    with edited([registry], lambda text: text.replace('"tab:green"', '"tab:olive"')):
        planned = planned_job_set(work, code=code)
    trained = {job for job in planned if job[0] == "train"}
    assert trained and trained == {job for job in every_job if job[0] == "train" and "/arch~vit/" in job[1]}
    assert planned - trained == jobs_of(every_job, downstream({"train"}) - {"train"})
