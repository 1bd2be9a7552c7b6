"""Training: from shards to trained regressors and their metrics, one job at a time.

A job (regscale.study.Job, settings in regscale.jobspec.JobSpec) trains the
realizations (seeds) of one cell: architecture and size, schedule, target, N_D. FCN seeds
train together as one regscale.ensemble.FCNEnsemble; ResNet-18 and ViT seeds one after
another. Every member keeps its own initialisation, data order, learning rate, early
stopping and divergence flag.

Data. The job's training samples and the test set are held on the device as
tensors (float32 on a CPU, bfloat16 on CUDA, where the forward pass runs under bf16
autocast); batches are gathered by index, with no per-sample Python. Targets are
standardized with their uniform prior in physics.ranges, mean (lo + hi) / 2 and std
(hi - lo) / sqrt(12), the same for every N_D, so losses compare across N_D. Images are
standardized per layer with the mean and standard deviation of the job's training
samples (stored in model.pt). Which samples a run trains and validates on is
train.draws (regscale.draws). Under ``prefix`` the job holds the first N_D samples of
the pool; the validation split, round(validation_fraction * N_D) samples and at least 1,
is drawn from them by a generator of the study seed and N_D alone, so every run at one
N_D (any architecture, target or seed) validates on the same samples and trains on the
rest, and an ensemble evaluates it in one pass. Under ``realization`` the job holds the
whole pool, each member trains and validates on its own draw from it (each member's
validation gathered in chunks), and the images are standardized with the whole pool's
statistics, so that a member's inputs do not depend on the others in its job. A pass visits the training samples in a fresh
random order, in ceil(n_train / batch_size) batches of near-equal size (never a batch of
1, which batch norm cannot train on). An epoch, the unit of validation, patience and
early stopping, is as many passes as it takes to make at least
train.archs.<arch>.min_epoch_steps optimizer steps: without that, a plateau patience of
8 epochs would be 16 steps at N_D = 64 but 224 at N_D = 1024.

Loss: mean squared error over the batch and the targets, on standardized targets.
Optimizer: Adam or AdamW (regscale.ensemble.MemberAdam), schedules in
regscale.schedules. After each epoch the validation loss picks the best weights, whatever
the schedule; the test MSE is measured on those.

Seeds. A member's random streams (initialisation, data order) derive from the study
seed and the run identity (arch, size, schedule, target, N_D, seed index) through
numpy's SeedSequence: not from the job's block of seeds, so seed 3 trains the same alone
or in a block of 5. Nothing draws from a global RNG during training (the model is built
under torch.random.fork_rng). On a CPU a run is deterministic for a given number of
threads: the kernels it uses (matrix products, convolutions, gathers, the fused Adam)
have no atomics. torch.use_deterministic_algorithms is not set: it imports the
compiler stack (2 s per job) and fills every new tensor, for nothing on a CPU.
tests/test_train.py checks the reproducibility. On CUDA, bf16 autocast and cuDNN's
autotuner make runs reproducible only statistically.

Divergence. A member whose training or validation loss is not finite at the end of an
epoch is marked diverged and frozen (its best weights restored); its test MSE is NaN,
its metrics are written, and the job succeeds.

Artifacts, per realization, in ``<job folder>/seed~<k>/``:

- ``metrics.json``: arch, size (dict), size_label, schedule, schedule_settings, target,
  targets (list), n_d, n_train, n_val, n_test, seed, n_m (trainable parameters),
  test_mse {target: standardized MSE}, test_mse_units {target: MSE in the parameter's
  units, = test_mse * std^2}, val_mse (best validation MSE, standardized, mean over
  targets), val_mse_targets {target: the same per target}, best_epoch, epochs (trained),
  max_epochs (the schedule's limit), steps (optimizer steps), stopped (early_stop,
  max_epochs, schedule_end or diverged), diverged (bool), final_lr, optimizer, lr,
  weight_decay, batch_size, ensemble_size (members trained together), wall_s (seconds of
  the group this run was trained in: all ensemble_size members together, resumed
  sessions added up), device, threads, torch, config_digest (the JobSpec settings),
  data_digest (the shards' checksums), code_digest (the training library). Non-finite
  numbers are written as NaN.
- ``history.csv``: one row per epoch the member trained: epoch, train_loss (mean batch
  loss), val_loss, lr (the rate of the epoch's last step).
- ``model.pt``: the best-validation weights and what is needed to rebuild the model;
  see :func:`load_model`.

Resume. After every ``checkpoint_every``-th epoch, once ``checkpoint_seconds`` have
passed since the start or the last checkpoint (so that short runs of large ensembles do
not spend their time writing), a group writes a checkpoint (weights, best
weights, optimizer moments, schedule state, generator states, history) under the job's
resume folder (regscale.jobspec.resume_folder), outside its output directory, which
Snakemake deletes before a re-run. Finished seeds are staged there too. A re-run
continues from the checkpoint whose digest (settings, seeds, shards, code) matches, and
reaches the metrics of an uninterrupted run; the folder is removed on success.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import archs, shards
from .archs import build_model
from .ensemble import FCNEnsemble, MemberAdam, SingleModel
from .draws import member_splits, prefix_split
from .epochs import EpochPlan, batch_bounds, epoch_plan, split_sizes  # noqa: F401 (part of this module's interface)
from .hashing import digest
from .jobspec import JobSpec, code_digest
from .schedules import Schedule

EVAL_ROWS = 1024  # samples per evaluation chunk
PREPARE_ROWS = 4096  # samples per chunk when images become standardized tensors
LOG_EVERY = 5  # epochs between progress lines


@dataclass
class Data:
    """The samples of one job on the device."""

    x: Tensor  # (n, C, H, W): the pool's first N_D samples (draws = prefix) or all of it (realization)
    y: Tensor  # (n_d, n_targets) standardized, float32
    x_test: Tensor
    y_test: Tensor
    targets: tuple[str, ...]
    mean: np.ndarray  # (n_targets,) of the prior
    std: np.ndarray
    digest: str = ""  # of the shards' checksums
    input_mean: tuple = (0.0, 0.0)  # per image channel (layer), of the training samples
    input_std: tuple = (1.0, 1.0)


def standardization(ranges: dict, targets) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the uniform prior of each target."""
    low = np.array([ranges[t][0] for t in targets], dtype=float)
    high = np.array([ranges[t][1] for t in targets], dtype=float)
    return (low + high) / 2, (high - low) / math.sqrt(12)


def data_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def prepare(images, table, test_images, test_table, spec: JobSpec, device: torch.device, data_digest: str = "") -> Data:
    """Tensors on the device from shard arrays (images float16, tables with target columns)."""
    targets = spec.targets
    mean, std = standardization(spec.ranges, targets)

    # Images are standardized per layer with the training samples' statistics: m_z is
    # mostly +1, and uncentred inputs leave the units of a narrow net dead from the start.
    rows = np.sort(prefix_split(spec)[0].numpy()) if spec.draws == "prefix" else np.arange(len(images))
    input_mean, input_std = layer_statistics(images, rows)

    def tensors(x, frame):
        # Chunk by chunk into one tensor on the device: a float64 copy of a paper-scale
        # training set (114,688 x 2 x 100 x 100) would alone take 18 GB of host memory.
        y = (frame[list(targets)].to_numpy(dtype=float) - mean) / std
        out = torch.empty(x.shape, dtype=data_dtype(device), device=device)
        shift, scale = input_mean[:, None, None], input_std[:, None, None]
        for lo in range(0, len(x), PREPARE_ROWS):
            block = (np.asarray(x[lo : lo + PREPARE_ROWS], dtype=np.float64) - shift) / scale
            out[lo : lo + PREPARE_ROWS] = torch.from_numpy(block.astype(np.float32))
        return out, torch.tensor(y, dtype=torch.float32, device=device)

    x, y = tensors(images, table)
    x_test, y_test = tensors(test_images, test_table)
    return Data(x, y, x_test, y_test, targets, mean, std, data_digest, tuple(input_mean), tuple(input_std))


def layer_statistics(images, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each image channel (layer) over the samples
    ``rows``, in two passes of float64 chunks (no copy of the whole set)."""
    chunks = [rows[lo : lo + PREPARE_ROWS] for lo in range(0, len(rows), PREPARE_ROWS)]
    count = len(rows) * images.shape[2] * images.shape[3]
    mean = sum(np.asarray(images[c], dtype=np.float64).sum(axis=(0, 2, 3)) for c in chunks) / count
    centred = (np.square(np.asarray(images[c], dtype=np.float64) - mean[:, None, None]) for c in chunks)
    variance = sum(block.sum(axis=(0, 2, 3)) for block in centred) / count
    return mean, np.maximum(np.sqrt(variance), 1e-6)


def load_data(pool_files: list[dict], test_files: list[dict], spec: JobSpec, device: torch.device) -> Data:
    """Read (and verify) the shards of a job: the first N_D pool samples (draws = prefix)
    or the whole pool (realization), and the test set."""
    images, table = shards.load(pool_files, spec.n_d if spec.draws == "prefix" else spec.pool)
    test_images, test_table = shards.load(test_files, spec.test_size)
    checksums = [
        shards.read_meta(files)[f"sha256_{kind}"] for files in pool_files + test_files for kind in ("images", "table")
    ]
    return prepare(images, table, test_images, test_table, spec, device, digest(checksums))


def member_seeds(spec: JobSpec, seed: int) -> dict[str, int]:
    """Independent seeds for the random streams of one realization."""
    identity = f"{spec.arch}|{spec.size_label}|{spec.schedule}|{spec.target}|{spec.n_d}"
    key = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "little")
    streams = np.random.SeedSequence([spec.seed, key, seed]).spawn(2)
    return {name: int(s.generate_state(1, np.uint64)[0]) for name, s in zip(("init", "order"), streams)}


def build_group(spec: JobSpec, seeds: list[int], device: torch.device):
    """The freshly initialised members of ``seeds``: an FCNEnsemble for FCNs, otherwise a
    SingleModel (one seed)."""
    nets = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(member_seeds(spec, seed)["init"])
            nets.append(build_model(spec.arch, spec.size, spec.image_shape, len(spec.targets)))
    if archs.get(spec.arch).ensemble:
        return FCNEnsemble(nets, device)
    if len(nets) != 1:
        raise ValueError(f"{spec.arch} realizations train one at a time, got seeds {seeds}")
    return SingleModel(nets[0], device)


def configure_device(device: torch.device) -> None:
    """Process-wide settings for training on ``device`` (call once per process)."""
    # Adam's first moment of a weight whose gradient has gone to zero (a dead ReLU unit)
    # decays by beta1 per step into the subnormal range, where x86 arithmetic is many times
    # slower: late epochs of the default study's width-64 FCNs took 2.5 times as long as
    # early ones. Flushed to zero, the weights come out the same, since a subnormal update
    # is far below the last bit of any weight (regscale.bench train --denormals compares).
    torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


@lru_cache  # reads /proc/cpuinfo; asked for every run
def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        names = []
    return f"cpu ({names[0] if names else platform.machine()})"


@dataclass
class Progress:
    """Training state, one list entry per member; saved in checkpoints."""

    lr: list
    active: list
    diverged: list
    stopped: list  # reason, or "" while training
    best_val: list
    best_val_targets: list
    best_epoch: list
    since_best: list
    bad_epochs: list
    epochs: list
    steps: list
    final_lr: list
    history: list  # per member: [epoch, train_loss, val_loss, lr] rows
    epoch: int = 0
    step: int = 0
    wall_s: float = 0.0

    @classmethod
    def start(cls, members: int, n_targets: int, lr: float) -> "Progress":
        return cls(
            lr=[lr] * members,
            active=[True] * members,
            diverged=[False] * members,
            stopped=[""] * members,
            best_val=[math.inf] * members,
            best_val_targets=[[math.nan] * n_targets for _ in range(members)],
            best_epoch=[0] * members,
            since_best=[0] * members,
            bad_epochs=[0] * members,
            epochs=[0] * members,
            steps=[0] * members,
            final_lr=[lr] * members,
            history=[[] for _ in range(members)],
        )


@torch.no_grad()
def _blend(target: dict[str, Tensor], source: dict[str, Tensor], members: Tensor, group) -> None:
    """target <- source for the chosen members (bool (K,)), in place."""
    for name, tensor in target.items():
        tensor.copy_(torch.where(group.member_view(members, tensor), source[name], tensor))


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def member_mse(group, x: Tensor, y: Tensor) -> np.ndarray:
    """Mean squared error of every member on (x, y), per target: (K, n_targets).

    Evaluated in float32 also where training runs under bf16 autocast (CUDA): a bf16
    prediction is rounded to 2^-8 of its size, which would put a floor of a few 1e-6
    under every validation and test MSE; evaluation is cheap next to training."""
    total = torch.zeros(group.size, y.shape[1], dtype=torch.float64, device=y.device)
    group.train(False)
    for lo in range(0, len(x), EVAL_ROWS):
        out = group.shared(x[lo : lo + EVAL_ROWS].float())
        total += (out - y[lo : lo + EVAL_ROWS]).square().sum(dim=1, dtype=torch.float64)
    group.train(True)
    return (total / len(x)).cpu().numpy()


@torch.no_grad()
def drawn_mse(group, x: Tensor, y: Tensor, rows: Tensor) -> np.ndarray:
    """:func:`member_mse` where member k is scored on its own samples x[rows[k]]: (K, n_targets)."""
    members, n = rows.shape
    total = torch.zeros(members, y.shape[1], dtype=torch.float64, device=y.device)
    group.train(False)
    for lo in range(0, n, EVAL_ROWS):
        chunk = rows[:, lo : lo + EVAL_ROWS]
        flat = chunk.reshape(-1)
        out = group(x.index_select(0, flat).float().view(members, chunk.shape[1], *x.shape[1:]))
        total += (out - y.index_select(0, flat).view(members, chunk.shape[1], -1)).square().sum(dim=1, dtype=torch.float64)
    group.train(True)
    return (total / n).cpu().numpy()


def _save(path: Path, payload: dict) -> None:
    """torch.save through a temporary file: a kill leaves the old checkpoint or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train_group(
    spec: JobSpec,
    seeds: list[int],
    data: Data,
    device: torch.device,
    checkpoint: Path | None = None,
    checkpoint_every: int = 10,
    log=print,
    group=None,
    checkpoint_seconds: float = 0.0,
) -> list[dict]:
    """Train the realizations ``seeds`` of a job together; one result per seed with keys
    metrics, history (DataFrame) and state_dict (best weights). ``group`` replaces the
    freshly built members (for tests)."""
    if len(data.x) < spec.n_d:
        raise ValueError(f"N_D = {spec.n_d} but the data hold {len(data.x)} samples")
    run = _Run.start(spec, list(seeds), data, device, group)
    label = f"seeds {seeds[0]}-{seeds[-1]}" if run.members > 1 else f"seed {seeds[0]}"
    if checkpoint is not None and checkpoint.exists():
        run.resume(checkpoint, label, log)
    plan = run.plan
    log(
        f"{label}: {spec.arch} {spec.size_label} (N_M = {run.n_m}) on {spec.target}, N_D = {spec.n_d} "
        f"({plan.n_train} train / {plan.n_val} validation), {plan.batches} batches x up to {plan.epochs} epochs, "
        f"schedule {spec.schedule}, {run.members} member(s) on {device}"
    )
    last_checkpoint = run.started
    while run.progress.epoch < plan.epochs and any(run.progress.active):
        train_loss, val, lr_used, active = run.epoch()
        progress = run.progress
        finished = progress.epoch == plan.epochs or not any(progress.active)
        if progress.epoch == 1 or progress.epoch % LOG_EVERY == 0 or finished:
            log(
                f"{label}: epoch {progress.epoch}/{plan.epochs} mean over members: train {np.mean(train_loss[active]):.4g} "
                f"val {np.mean(val[active]):.4g} best {np.mean(np.array(progress.best_val)[active]):.4g} "
                f"lr {np.mean(lr_used[active]):.2g}; active {sum(progress.active)}/{run.members} "
                f"({time.perf_counter() - run.started:.1f} s)"
            )
        due = progress.epoch % checkpoint_every == 0 and time.perf_counter() - last_checkpoint >= checkpoint_seconds
        if checkpoint is not None and not finished and due:
            last_checkpoint = time.perf_counter()
            run.save(checkpoint)
    results = run.finish()
    status = ", ".join(
        f"seed {seed}: {r['metrics']['stopped']} at epoch {r['metrics']['epochs']}" for seed, r in zip(seeds, results)
    )
    log(f"{label}: done in {results[0]['metrics']['wall_s']:.1f} s ({status})")
    return results


@dataclass
class _Run:
    """The state of a group of realizations in training: members, optimizer, best
    weights, progress and the random streams that order the batches."""

    spec: JobSpec
    seeds: list[int]
    data: Data
    device: torch.device
    group: object
    schedule: Schedule
    plan: EpochPlan
    optimizer: MemberAdam
    best: dict
    progress: "Progress"
    orders: list
    train_index: Tensor  # (K, n_train) rows of data.x, per member
    val_index: Tensor  # (K, n_val)
    x_val: Tensor | None  # under draws = prefix, the validation samples all members share
    y_val: Tensor | None
    x_buffer: Tensor
    started: float
    digest: str

    @classmethod
    def start(cls, spec, seeds, data, device, group=None) -> "_Run":
        started = time.perf_counter()
        schedule = Schedule.from_config(spec.schedule_settings)
        plan = epoch_plan(spec.n_d, spec.validation_fraction, spec.optimizer, schedule)
        group = build_group(spec, seeds, device) if group is None else group
        train_index, val_index = member_splits(spec, seeds, len(data.x))
        val_index = val_index.to(device)
        streams = [member_seeds(spec, seed) for seed in seeds]
        # Gathered batches land in one reused buffer, not in a fresh multi-megabyte tensor per step.
        batch = len(seeds) * max(np.diff(plan.bounds))
        return cls(
            spec=spec,
            seeds=seeds,
            data=data,
            device=device,
            group=group,
            schedule=schedule,
            plan=plan,
            optimizer=MemberAdam(group, spec.optimizer["optimizer"], spec.optimizer["weight_decay"]),
            best={name: t.detach().clone() for name, t in group.state().items()},
            progress=Progress.start(len(seeds), len(data.targets), spec.optimizer["lr"]),
            orders=[torch.Generator().manual_seed(stream["order"]) for stream in streams],
            train_index=train_index,
            val_index=val_index,
            x_val=data.x.index_select(0, val_index[0]) if spec.draws == "prefix" else None,
            y_val=data.y.index_select(0, val_index[0]) if spec.draws == "prefix" else None,
            x_buffer=torch.empty(batch, *data.x.shape[1:], dtype=data.x.dtype, device=device),
            started=started,
            digest=digest({"job": spec.digest(), "seeds": seeds, "data": data.digest, "code": code_digest(spec.arch)}),
        )

    @property
    def members(self) -> int:
        return len(self.seeds)

    @property
    def n_m(self) -> int:
        return sum(p[0].numel() if self.group.stacked else p.numel() for p in self.group.parameters())

    def resume(self, checkpoint: Path, label: str, log) -> None:
        """Continue from a checkpoint of this run (same settings, seeds, data and code)."""
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)  # generator states live on the CPU
        if saved["digest"] != self.digest:
            log(f"{label}: ignoring checkpoint {checkpoint}: written for other settings, data or code")
            return
        with torch.no_grad():
            for name, tensor in self.group.state().items():
                tensor.copy_(saved["weights"][name])
                self.best[name].copy_(saved["best"][name])
        self.optimizer.load_state_dict(saved["optimizer"])
        for generator, state in zip(self.orders, saved["generators"]):
            generator.set_state(state)
        self.progress = Progress(**saved["progress"])
        log(f"{label}: resumed from the checkpoint of epoch {self.progress.epoch}")

    def save(self, checkpoint: Path) -> None:
        _save(
            checkpoint,
            {
                "digest": self.digest,
                "weights": {name: t.detach() for name, t in self.group.state().items()},
                "best": self.best,
                "optimizer": self.optimizer.state_dict(),
                "generators": [g.get_state() for g in self.orders],
                "progress": asdict(self.progress) | {"wall_s": self.progress.wall_s + time.perf_counter() - self.started},
            },
        )

    def epoch(self):
        """One epoch of every active member: (train loss, validation loss, rate used, active)."""
        progress, schedule, plan, data = self.progress, self.schedule, self.plan, self.data
        epoch = progress.epoch + 1
        active = np.array(progress.active)
        base_lr = self.spec.optimizer["lr"]
        if not schedule.per_step:
            self.optimizer.set_lr(np.array(progress.lr) * active)
        n_train, members, shape = plan.n_train, self.members, data.x.shape[1:]
        order = torch.stack(
            [
                torch.cat([rows[torch.randperm(n_train, generator=g)] for _ in range(plan.passes)])
                for rows, g in zip(self.train_index, self.orders)
            ]
        ).to(self.device)
        loss_sum = torch.zeros(members, device=self.device)
        self.group.train(True)
        for lo, hi in zip(plan.bounds[:-1], plan.bounds[1:]):
            if schedule.per_step:
                self.optimizer.set_lr(schedule.rate(base_lr, progress.step, plan.total_steps) * active)
            flat = order[:, lo:hi].reshape(-1)
            x = torch.index_select(data.x, 0, flat, out=self.x_buffer[: len(flat)]).view(members, hi - lo, *shape)
            y = data.y.index_select(0, flat).view(members, hi - lo, len(data.targets))
            with _autocast(self.device):
                out = self.group(x)
            loss = (out.float() - y).square().mean(dim=(1, 2))
            loss.sum().backward()
            self.optimizer.step()
            loss_sum += loss.detach()
            progress.step += 1
        if schedule.per_step:
            lr_used = schedule.rate(base_lr, progress.step - 1, plan.total_steps) * active
        else:
            lr_used = np.array(progress.lr) * active
        train_loss = (loss_sum / plan.batches).cpu().numpy().astype(float)
        if self.spec.draws == "prefix":
            val_targets = member_mse(self.group, self.x_val, self.y_val)
        else:
            val_targets = drawn_mse(self.group, data.x, data.y, self.val_index)
        val = val_targets.mean(axis=1)
        _end_epoch(
            progress, schedule, epoch, active, train_loss, val, val_targets, lr_used, plan.batches, self.group, self.best, self.optimizer
        )
        progress.epoch = epoch
        return train_loss, val, lr_used, active

    def finish(self) -> list[dict]:
        """The best weights of each member, evaluated on the test set, with its metrics."""
        progress = self.progress
        for k in range(self.members):
            if not progress.stopped[k]:
                progress.stopped[k] = "schedule_end" if self.schedule.per_step else "max_epochs"
        _blend(self.group.state(), self.best, torch.ones(self.members, dtype=torch.bool, device=self.device), self.group)
        test = member_mse(self.group, self.data.x_test, self.data.y_test)
        wall = progress.wall_s + time.perf_counter() - self.started
        return [
            {
                "metrics": self.metrics(k, seed, test[k], wall),
                "history": pd.DataFrame(progress.history[k], columns=["epoch", "train_loss", "val_loss", "lr"]),
                "state_dict": self.group.member_state_dict(k),
            }
            for k, seed in enumerate(self.seeds)
        ]

    def metrics(self, k: int, seed: int, test: np.ndarray, wall: float) -> dict:
        """metrics.json of member ``k`` (the run artifacts in this module's docstring)."""
        spec, data, progress, settings = self.spec, self.data, self.progress, self.spec.optimizer
        test_k = np.where(progress.diverged[k], np.nan, test)
        return {
            "arch": spec.arch,
            "size": spec.size,
            "size_label": spec.size_label,
            "schedule": spec.schedule,
            "schedule_settings": spec.schedule_settings,
            "target": spec.target,
            "targets": list(data.targets),
            "n_d": spec.n_d,
            "n_train": self.plan.n_train,
            "n_val": self.plan.n_val,
            "n_test": len(data.x_test),
            "seed": seed,
            "n_m": self.n_m,
            "test_mse": {t: float(v) for t, v in zip(data.targets, test_k)},
            "test_mse_units": {t: float(v * s**2) for t, v, s in zip(data.targets, test_k, data.std)},
            "val_mse": float(progress.best_val[k]) if not progress.diverged[k] else math.nan,
            "val_mse_targets": {t: float(v) for t, v in zip(data.targets, progress.best_val_targets[k])},
            "best_epoch": progress.best_epoch[k],
            "epochs": progress.epochs[k],
            "max_epochs": self.plan.epochs,
            "steps": progress.steps[k],
            "stopped": progress.stopped[k],
            "diverged": bool(progress.diverged[k]),
            "final_lr": float(progress.final_lr[k]),
            "optimizer": settings["optimizer"],
            "lr": settings["lr"],
            "weight_decay": settings["weight_decay"],
            "batch_size": settings["batch_size"],
            "ensemble_size": self.members,
            "wall_s": round(wall, 3),
            "device": device_name(self.device),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "config_digest": spec.digest(),
            "data_digest": data.digest,
            "code_digest": code_digest(spec.arch),
        }


def _end_epoch(
    progress, schedule, epoch, active, train_loss, val, val_targets, lr_used, n_batches, group, best, optimizer
):
    """Divergence, best weights, plateau and early stopping after one epoch, per member."""
    device = next(iter(best.values())).device
    diverged = active & ~(np.isfinite(train_loss) & np.isfinite(val))
    if diverged.any():
        mask = torch.tensor(diverged, device=device)
        _blend(group.state(), best, mask, group)  # back to finite weights, frozen from now on
        optimizer.reset(mask)
    improved = active & ~diverged & (val < np.array(progress.best_val))
    if improved.any():
        _blend(best, group.state(), torch.tensor(improved, device=device), group)
    for k in np.flatnonzero(active):
        progress.history[k].append([epoch, float(train_loss[k]), float(val[k]), float(lr_used[k])])
        progress.epochs[k] = epoch
        progress.steps[k] += n_batches
        progress.final_lr[k] = float(lr_used[k])
        if diverged[k]:
            progress.diverged[k], progress.active[k], progress.stopped[k] = True, False, "diverged"
            continue
        if improved[k]:
            progress.best_val[k] = float(val[k])
            progress.best_val_targets[k] = [float(v) for v in val_targets[k]]
            progress.best_epoch[k] = epoch
            progress.since_best[k] = progress.bad_epochs[k] = 0
        else:
            progress.since_best[k] += 1
            progress.bad_epochs[k] += 1
        if schedule.kind == "plateau" and progress.bad_epochs[k] > schedule.patience:
            progress.lr[k] = schedule.reduce(progress.lr[k])
            progress.bad_epochs[k] = 0
        if schedule.early_stop is not None and not schedule.per_step and progress.since_best[k] >= schedule.early_stop:
            progress.active[k], progress.stopped[k] = False, "early_stop"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_run(folder: Path, result: dict, spec: JobSpec, data: Data) -> None:
    """The three files of one realization, written into a temporary folder and renamed."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "metrics.json").write_text(json.dumps(result["metrics"], indent=2, default=_json_default) + "\n")
    result["history"].to_csv(tmp / "history.csv", index=False, float_format="%.9g")
    torch.save(
        {
            "arch": spec.arch,
            "size": spec.size,
            "image_shape": list(spec.image_shape),
            "targets": list(data.targets),
            "mean": data.mean.tolist(),
            "std": data.std.tolist(),
            "input_mean": [float(v) for v in data.input_mean],
            "input_std": [float(v) for v in data.input_std],
            "state_dict": result["state_dict"],
        },
        tmp / "model.pt",
    )
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def load_model(path: Path | str):
    """(model in eval mode, info) from a run's model.pt. The model maps standardized
    images (B, 2, H, W), (x - info['input_mean'][c]) / info['input_std'][c] per layer c,
    to standardized targets: multiply by info['std'] and add info['mean'] for units."""
    info = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(info["arch"], info["size"], tuple(info["image_shape"]), len(info["targets"]))
    model.load_state_dict(info["state_dict"])
    return model.eval(), info


def _finished(folder: Path, spec: JobSpec, data: Data) -> bool:
    """A staged realization from an earlier, interrupted attempt of the same job."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    same = (metrics.get("config_digest"), metrics.get("data_digest"), metrics.get("code_digest"))
    return same == (spec.digest(), data.digest, code_digest(spec.arch)) and (folder / "model.pt").exists()


def train_job(
    spec: JobSpec,
    data: Data,
    out: Path,
    staging: Path,
    device: torch.device,
    checkpoint_every: int = 10,
    log=print,
    checkpoint_seconds: float = 0.0,
) -> list[dict]:
    """Train every seed of a job into ``out``/seed~k, staging finished seeds and the
    checkpoint in ``staging`` (outside ``out``) until all are done; returns the metrics."""
    out, staging = Path(out), Path(staging)
    groups = [list(spec.seeds)] if archs.get(spec.arch).ensemble else [[seed] for seed in spec.seeds]
    for seeds in groups:
        folders = [staging / f"seed~{seed}" for seed in seeds]
        if all(_finished(folder, spec, data) for folder in folders):
            log(f"seeds {seeds}: already trained by an earlier attempt, kept")
            continue
        checkpoint = staging / f"state~{seeds[0]}-{seeds[-1]}.pt"
        results = train_group(
            spec, seeds, data, device, checkpoint, checkpoint_every, log, checkpoint_seconds=checkpoint_seconds
        )
        for folder, result in zip(folders, results):
            write_run(folder, result, spec, data)
        checkpoint.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    metrics = []
    for seed in spec.seeds:
        target = out / f"seed~{seed}"
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging / f"seed~{seed}", target)
        metrics.append(json.loads((target / "metrics.json").read_text()))
    shutil.rmtree(staging)
    return metrics
