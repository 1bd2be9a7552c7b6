"""From Hamiltonian parameters to relaxed magnetic-domain images, a batch at a time.

Pure functions of arrays and dataclasses: shard files are written by scripts/.
"""

from __future__ import annotations

import re
import time

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import spins, targets
from .interlayer import InterlayerFit, fit_interlayer
from .lattice import site_positions
from .physics import Physics  # noqa: F401 (the simulator's settings, re-exported)

TARGETS = targets.names()  # what each sample is labelled with (regscale.targets)
UNITS = {name: target.units for name, target in targets.TARGETS_BY_NAME.items()}


@lru_cache(maxsize=8)
def interlayer_fit(table: Path, shells: int, a: float) -> InterlayerFit:
    return fit_interlayer(table, shells, a)


def jperp_maps(physics: Physics, theta_deg: np.ndarray) -> np.ndarray:
    """J_perp (meV) on every site for each twist angle, (n, rows, cols) float64."""
    fit = interlayer_fit(physics.interlayer_table, physics.interlayer_shells, physics.lattice_constant)
    x, y = site_positions(physics.rows, physics.cols, physics.lattice_constant)
    return np.stack([fit.on_sites(float(t), x, y) for t in np.atleast_1d(theta_deg)])


def resolve_device(name: str = "auto") -> torch.device:
    """auto, cpu, cuda or cuda:N (the config schema's device pattern) as a torch device."""
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", name):
        raise ValueError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but no CUDA device is visible")
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) are visible")
    return device


def sample_parameters(ranges: dict, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n independent uniform draws of (theta, J, D) within the configured ranges."""
    return pd.DataFrame({name: rng.uniform(*ranges[name], size=n) for name in TARGETS})


def relax_batch(physics: Physics, params: pd.DataFrame, device: torch.device, progress=None):
    """Relax one batch; returns (images (n, 2, rows, cols) float32, diagnostics frame)."""
    dtype = getattr(torch, physics.dtype)
    jperp = torch.as_tensor(jperp_maps(physics, np.ascontiguousarray(params["theta"].to_numpy())), dtype=dtype, device=device)
    couplings = spins.Couplings(
        J=torch.tensor(np.ascontiguousarray(params["J"].to_numpy()), dtype=dtype, device=device),
        D=torch.tensor(np.ascontiguousarray(params["D"].to_numpy()), dtype=dtype, device=device),
        K=physics.anisotropy_meV,
        jperp=jperp,
    )
    s0 = spins.initial_state(jperp, physics.template_meV)
    result = spins.relax(s0, couplings, physics.relax, progress=progress, compile=physics.compile)
    n_spins = 2 * physics.rows * physics.cols
    diagnostics = pd.DataFrame(
        {
            "steps": result.steps.cpu().numpy(),
            "energy_meV_per_spin": result.energy.cpu().numpy() / n_spins,
            "max_torque_meV": result.torque.double().cpu().numpy(),
            "converged": result.converged.cpu().numpy(),
        }
    )
    return spins.out_of_plane(result.spins), diagnostics


def simulate(physics: Physics, params: pd.DataFrame, batch_size: int, device: torch.device, log=print):
    """Relax ``params`` in consecutive batches; images float16 (n, 2, rows, cols) and a table.

    Batches are cut at fixed positions, so the same parameters and batch size give the
    same images on the same device.
    """
    images, tables = [], []
    start = time.perf_counter()
    for first in range(0, len(params), batch_size):
        chunk = params.iloc[first : first + batch_size]
        img, diag = relax_batch(physics, chunk.reset_index(drop=True), device)
        images.append(img.astype(np.float16))
        tables.append(diag)
        done = first + len(chunk)
        rate = done / (time.perf_counter() - start)
        log(
            f"relaxed {done}/{len(params)} samples ({rate:.2f}/s); batch steps mean {diag.steps.mean():.0f} "
            f"max {diag.steps.max()}, unconverged {int((~diag.converged).sum())}"
        )
    table = pd.concat([params.reset_index(drop=True), pd.concat(tables, ignore_index=True)], axis=1)
    return np.concatenate(images), table
