"""The settings of the spin model: what fixes the map from (theta, J, D) to an image.

Plain data and checks, no torch: the config check and the workflow read them while
the DAG is built; regscale.spins and regscale.simulate do the computing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import targets
from .lattice import LATTICE_CONSTANT_ANGSTROM, sample_extent


@dataclass(frozen=True)
class RelaxSettings:
    """How a sample is relaxed to its energy minimum, with an energy safeguard.

    ``method``: ``lbfgs``, limited-memory BFGS on the unit sphere (Nocedal & Wright,
    Numerical Optimization, alg. 7.4; as Spirit's LBFGS_OSO, Ivanov et al., CPC 260,
    107749 (2021)), keeping ``memory`` pairs and turning no spin by more than
    ``max_rotation`` rad per step; or ``vp``, velocity projection (Bessarab, Uzdin,
    Jonsson, CPC 196, 335 (2015)) with time step ``dt`` growing to ``dt_max``, in units
    of 1/sqrt(meV) (unit mass). L-BFGS takes its first step as velocity projection's,
    dt^2 times the force.
    """

    method: str = "lbfgs"
    dt: float = 0.25
    dt_max: float = 0.5
    tol_meV: float = 1e-2
    max_steps: int = 5000
    memory: int = 3
    max_rotation: float = 0.2


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
    relax: RelaxSettings = RelaxSettings()
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
            relax=RelaxSettings(**physics["relax"]),
            template_meV=physics["template_meV"],
            dtype=physics["dtype"],
            compile=physics["compile"],
        )

    def check(self) -> None:
        """Raise ValueError naming the first impossible setting."""
        for name in targets.names():
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
