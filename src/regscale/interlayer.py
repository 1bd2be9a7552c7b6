"""Position-dependent interlayer exchange J_perp of twisted bilayer CrI3.

The first-principles input (Sivadas et al., Nano Lett. 18, 7658 (2018), digitised in
jo2267/Double-bilayer-CrI3-simulation, BSD-3; see resources/cri3_interlayer/) gives
Delta E = E_FM - E_AFM (meV per magnetic cell) versus the in-plane stacking shift of
one layer against the other, along the cell diagonal s (a1 + a2) and the cell edge
s a1, s = 0 ... 1. With H = -J_perp S_top . S_bottom for spins of length S = 3/2,
J_perp = -Delta E / (4 S^2) = -Delta E / 9 meV (positive: ferromagnetic). The spin
model applies these spin-3/2 constants to unit vectors, so its energies are those of
the S = 3/2 model divided by S^2; the relaxed textures are the same (docs/physics.md).

J_perp(shift) is made smooth and periodic by a least-squares fit of reciprocal-lattice
harmonics: a constant plus, for every C3 orbit {G, R G, R^2 G} of the first
``shells`` shells, one cosine and one sine amplitude shared by the orbit. The fit
therefore has the C3 symmetry of the lattice and no more; three shells (7 numbers)
describe the 38 data points without chasing their digitisation noise.

In a bilayer twisted by theta about the origin the local shift at r is
delta(r) = (1 - R(-theta)) r, so every harmonic G becomes a moire wave
g = (1 - R(-theta))^T G of length 2 sin(theta/2) |G|: the coupling map has the moire
period L = a / (2 sin(theta / 2)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .lattice import LATTICE_CONSTANT_ANGSTROM

SPIN_LENGTH = 1.5
TABLES = ("rigid", "relaxed")


def lattice_vectors(a: float) -> np.ndarray:
    """Rows a1 = (a, 0) and a2 = (a/2, sqrt(3) a / 2) of the Cr honeycomb's Bravais lattice."""
    return np.array([[a, 0.0], [a / 2.0, math.sqrt(3.0) * a / 2.0]])


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def harmonic_orbits(a: float, shells: int) -> list[np.ndarray]:
    """C3 orbits (each a (3, 2) array of G vectors) of the first ``shells`` shells.

    Of every pair of orbits related by G -> -G only one is kept: the other adds the same
    cosine and the negated sine.
    """
    avec = lattice_vectors(a)
    recip = 2.0 * math.pi * np.linalg.inv(avec).T  # rows b1, b2 with a_i . b_j = 2 pi delta_ij
    span = range(-2 * shells - 1, 2 * shells + 2)
    vectors = [m * recip[0] + n * recip[1] for m in span for n in span if (m, n) != (0, 0)]
    lengths = sorted({round(float(np.linalg.norm(g)), 9) for g in vectors})[:shells]
    rot = _rotation(2.0 * math.pi / 3.0)
    orbits: list[np.ndarray] = []
    seen: list[np.ndarray] = []
    for g in sorted(vectors, key=lambda v: (round(float(np.linalg.norm(v)), 9), math.atan2(v[1], v[0]))):
        if round(float(np.linalg.norm(g)), 9) not in lengths:
            continue
        if any(np.allclose(g, s, atol=1e-9) or np.allclose(g, -s, atol=1e-9) for s in seen):
            continue
        orbit = np.stack([g, rot @ g, rot @ rot @ g])
        seen.extend(orbit)
        orbits.append(orbit)
    return orbits


def _design(shifts: np.ndarray, orbits: list[np.ndarray]) -> np.ndarray:
    """Basis functions (n, 1 + 2 * len(orbits)) evaluated at shifts (n, 2)."""
    cols = [np.ones(len(shifts))]
    for orbit in orbits:
        phase = shifts @ orbit.T  # (n, 3)
        cols.append(np.cos(phase).sum(axis=1))
        cols.append(np.sin(phase).sum(axis=1))
    return np.stack(cols, axis=1)


def read_table(path: Path) -> np.ndarray:
    """The (19, 2) Delta E table in meV: column 0 along the diagonal, column 1 along a1."""
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    if table.ndim != 2 or table.shape[1] != 2 or len(table) < 3:
        raise ValueError(f"{path}: expected rows of 2 comma-separated Delta E values, got shape {table.shape}")
    return table


def table_shifts(n_rows: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Shift vectors (Angstrom) of the table rows: s (a1 + a2) and s a1 for s = k / (n - 1)."""
    avec = lattice_vectors(a)
    s = np.linspace(0.0, 1.0, n_rows)[:, None]
    return s * (avec[0] + avec[1]), s * avec[0]


@dataclass(frozen=True)
class InterlayerFit:
    """J_perp(shift) = c0 + sum over orbits of (cos_k sum cos(G.delta) + sin_k sum sin(G.delta)), meV."""

    orbits: tuple[np.ndarray, ...]
    coefficients: np.ndarray
    rms_residual_meV: float
    a: float

    def at_shift(self, shifts: np.ndarray) -> np.ndarray:
        """J_perp in meV at stacking shifts of shape (..., 2) in Angstrom."""
        flat = np.asarray(shifts, dtype=np.float64).reshape(-1, 2)
        return (_design(flat, list(self.orbits)) @ self.coefficients).reshape(np.shape(shifts)[:-1])

    def moire_waves(self, theta_deg: float) -> list[np.ndarray]:
        """Per orbit, the (3, 2) moire wave vectors g = (1 - R(-theta))^T G."""
        m = np.eye(2) - _rotation(-math.radians(theta_deg))
        return [orbit @ m for orbit in self.orbits]

    def on_sites(self, theta_deg: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """J_perp (meV) at positions (x, y) of a bilayer twisted by theta about the origin."""
        shifts = np.stack([x, y], axis=-1) @ (np.eye(2) - _rotation(-math.radians(theta_deg))).T
        return self.at_shift(shifts)


def fit_interlayer(path: Path, shells: int = 3, a: float = LATTICE_CONSTANT_ANGSTROM) -> InterlayerFit:
    """Least-squares harmonic fit of J_perp = -Delta E / (4 S^2) to a Delta E table."""
    if shells < 1:
        raise ValueError(f"interlayer shells must be >= 1, got {shells}")
    table = read_table(Path(path))
    diag, edge = table_shifts(len(table), a)
    shifts = np.concatenate([diag, edge])
    jperp = -np.concatenate([table[:, 0], table[:, 1]]) / (4.0 * SPIN_LENGTH**2)
    orbits = harmonic_orbits(a, shells)
    design = _design(shifts, orbits)
    if design.shape[1] > len(shifts):
        raise ValueError(f"{shells} shells need {design.shape[1]} coefficients but the table has {len(shifts)} points")
    coefficients, *_ = np.linalg.lstsq(design, jperp, rcond=None)
    rms = float(np.sqrt(np.mean((design @ coefficients - jperp) ** 2)))
    return InterlayerFit(tuple(orbits), coefficients, rms, a)
