"""study.jobs: the training jobs a config asks for, their folders and seed blocks."""

import pytest

from regscale import study

TRAIN = {
    "targets": ["theta", "J", "D"], "joint": False, "n_d": [64, 128], "seeds": 5, "seeds_per_job": 5,
    "schedule": "plateau", "archs": {"fcn": {"seeds_per_job": 10}, "vit": {}},
}
EXPERIMENTS = {
    "width": {"arch": "fcn", "sizes": [{"width": 4, "depth": 3}, {"width": 16, "depth": 3}]},
    "statistics": {"arch": "fcn", "sizes": [{"width": 4, "depth": 3}], "targets": ["J"], "n_d": [128], "seeds": 25},
    "vit": {"arch": "vit", "sizes": [{"patch": 4, "dim": 16, "depth": 1, "heads": 2}], "seeds": 7},
}
CONFIG = {"train": TRAIN, "experiments": EXPERIMENTS}


def test_a_shared_cell_is_trained_once_with_the_most_realizations():
    jobs = study.jobs(CONFIG)
    cell = [j for j in jobs if j.size == "width~4/depth~3" and j.target == "J" and j.n_d == 128]
    assert [(j.first_seed, j.last_seed) for j in cell] == [(0, 9), (10, 19), (20, 24)]
    seeds = [s for j in jobs for s in j.seeds if (j.size, j.target, j.n_d) == ("width~4/depth~3", "J", 128)]
    assert seeds == list(range(25))  # each realization exactly once
    # The width experiment alone names the same folders: callers agree on where runs live.
    assert set(study.jobs(CONFIG, ["width"])) >= set(cell)


def test_job_counts_blocks_and_folders():
    jobs = study.jobs(CONFIG)
    fcn = [j for j in jobs if j.arch == "fcn"]
    assert len(fcn) == 2 * 3 * 2 + 2  # one 5-seed job per cell, plus two more blocks for the shared cell
    vit = [j for j in jobs if j.arch == "vit"]
    assert len(vit) == 3 * 2 * 2 and {(j.first_seed, j.last_seed) for j in vit} == {(0, 4), (5, 6)}
    job = study.Job("fcn", "width~16/depth~3", "plateau", "J", 224, 0, 4)
    assert job.folder == "results/runs/arch~fcn/width~16/depth~3/schedule~plateau/target~J/nd~224/seeds~0-4"
    assert job.seed_folder(3) == job.folder + "/seed~3"
    assert jobs == sorted(set(jobs))


def test_joint_targets_and_size_labels():
    joint = {"train": {**TRAIN, "joint": True}, "experiments": {"w": EXPERIMENTS["width"]}}
    assert {j.target for j in study.jobs(joint)} == {"joint"}
    assert study.parse_size(study.size_label("vit", {"heads": 2, "patch": 4, "dim": 16, "depth": 1})) == {
        "patch": 4, "dim": 16, "depth": 1, "heads": 2,
    }
    with pytest.raises(ValueError, match=r"fcn size \{'width': 4\}: expected exactly the keys \['width', 'depth'\]"):
        study.size_label("fcn", {"width": 4})
