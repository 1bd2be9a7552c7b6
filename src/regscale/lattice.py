"""Honeycomb lattice stored as a brick-wall array.

Site (i, j) of an (rows, cols) array belongs to sublattice A when i + j is even and to
B otherwise. Every site has a left (j - 1) and a right (j + 1) neighbour in its row;
an A site's third neighbour is the site above it (i + 1), a B site's the one below
(i - 1). That makes every neighbour sum an array shift, which is what lets a whole
batch relax at once. Boundaries are open: a missing neighbour counts as zero.

Geometry (nearest-neighbour distance d = a / sqrt(3)): x = j a / 2 and
y = 1.5 d i, lowered by d / 2 on B sites, so that the A-B bonds point along
(0, 1) and (+-sqrt(3)/2, -1/2) seen from A.
"""

from __future__ import annotations

import math

import numpy as np

LATTICE_CONSTANT_ANGSTROM = 6.83


def sublattice_a(rows: int, cols: int) -> np.ndarray:
    """Boolean (rows, cols) mask of the A sites."""
    i, j = np.indices((rows, cols))
    return (i + j) % 2 == 0


def site_positions(
    rows: int, cols: int, a: float = LATTICE_CONSTANT_ANGSTROM, centred: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian (x, y) of every site in Angstrom, each of shape (rows, cols).

    With ``centred`` the origin is the middle of the sample, so the moire pattern
    (which rotates about the origin) is centred too.
    """
    d = a / math.sqrt(3.0)
    i, j = np.indices((rows, cols), dtype=np.float64)
    x = j * a / 2.0
    y = 1.5 * d * i - np.where(sublattice_a(rows, cols), 0.0, d / 2.0)
    if centred:
        x = x - (cols - 1) * a / 4.0
        y = y - 1.5 * d * (rows - 1) / 2.0
    return x, y


def sample_extent(rows: int, cols: int, a: float = LATTICE_CONSTANT_ANGSTROM) -> tuple[float, float]:
    """Width and height of the sample in Angstrom (site span along x and y)."""
    d = a / math.sqrt(3.0)
    return (cols - 1) * a / 2.0, 1.5 * d * (rows - 1)


def moire_period(theta_deg: float | np.ndarray, a: float = LATTICE_CONSTANT_ANGSTROM):
    """Moire period L = a / (2 sin(theta / 2)) in Angstrom."""
    return a / (2.0 * np.sin(np.deg2rad(theta_deg) / 2.0))
