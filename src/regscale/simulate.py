"""From Hamiltonian parameters to relaxed magnetic-domain images, a batch at a time.

Pure functions of arrays and dataclasses: shard files are written by scripts/.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import spins
from .interlayer import InterlayerFit, fit_interlayer
from .lattice import LATTICE_CONSTANT_ANGSTROM, sample_extent, site_positions

TARGETS = ("theta", "J", "D")
UNITS = {"theta": "deg", "J": "meV", "D": "meV"}


@dataclass(frozen=True)
class Physics:
    """Everything that fixes the map from (theta, J, D) to an image."""

    rows: int
    cols: int
    anisotropy_meV: float
    interlayer_table: Path
    interlayer_shells: int = 3
    lattice_constant: float = LATTICE_CONSTANT_ANGSTROM
    ranges: dict = field(default_factory=dict)  # target -> (low, high)
    relax: spins.RelaxSettings = spins.RelaxSettings()
    template_meV: float = 0.1
    dtype: str = "float32"
    compile: bool = True

    @classmethod
    def from_config(cls, physics: dict, base: Path = Path("."), table: Path | None = None) -> "Physics":
        """From the validated ``physics`` section; a relative table path is taken
        relative to ``base`` unless ``table`` gives the file itself."""
        if table is None:
            table = Path(physics["interlayer"]["table"])
            table = table if table.is_absolute() else base / table
        return cls(
            rows=physics["lattice"]["rows"],
            cols=physics["lattice"]["cols"],
            anisotropy_meV=physics["anisotropy_meV"],
            interlayer_table=table,
            interlayer_shells=physics["interlayer"]["shells"],
            lattice_constant=physics["lattice"]["constant_angstrom"],
            ranges={k: tuple(v) for k, v in physics["ranges"].items()},
            relax=spins.RelaxSettings(**physics["relax"]),
            template_meV=physics["template_meV"],
            dtype=physics["dtype"],
            compile=physics["compile"],
        )

    def check(self) -> None:
        """Raise ValueError naming the first impossible setting."""
        for name in TARGETS:
            if name not in self.ranges:
                raise ValueError(f"physics.ranges.{name} is missing")
            low, high = self.ranges[name]
            if not low < high:
                raise ValueError(f"physics.ranges.{name}: low {low} must be below high {high}")
        theta_low, theta_high = self.ranges["theta"]
        if theta_low <= 0 or theta_high >= 60:
            raise ValueError(f"physics.ranges.theta must lie in (0, 60) degrees, got {[theta_low, theta_high]}")
        if self.ranges["J"][0] <= 0:
            raise ValueError("physics.ranges.J must be positive (ferromagnetic intralayer exchange)")
        if self.ranges["D"][0] < 0:
            raise ValueError(
                "physics.ranges.D must be >= 0: D and -D are related by the C2z symmetry "
                "E(S; D) = E(C2z S; -D), so one sign covers the physics"
            )
        width, height = sample_extent(self.rows, self.cols, self.lattice_constant)
        period = float(self.lattice_constant / (2 * math.sin(math.radians(theta_low) / 2)))
        # A full period along both axes: the image must show the whole moire cell.
        if period > min(width, height):
            raise ValueError(
                f"physics.ranges.theta: at theta = {theta_low} deg the moire period {period:.0f} A exceeds the "
                f"{width:.0f} x {height:.0f} A sample ({self.rows} x {self.cols} sites) along its shorter side; "
                f"raise theta or the lattice"
            )


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
