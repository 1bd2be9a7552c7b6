"""Cross-check of the spin model against Spirit (spirit-code.github.io), an independent code.

One sample of our Hamiltonian (docs/physics.md, section 2) is written as a Spirit input:
the whole bilayer, 2 x rows x cols sites, is one basis cell (``n_basis_cells 1 1 1``)
with open boundaries, and every interaction is listed explicitly as a pair of basis
atoms with zero translation: each intralayer bond once with its exchange J and its DMI
vector, each interlayer pair once with its J_perp(r_i). The anisotropy is Spirit's
uniaxial one, K along z. Spirit's ``heisenberg_pairs`` energy of unit spins is

    E = - sum_pairs J_ij n_i . n_j - sum_pairs D_ij . (n_i x n_j) - sum_i K (z . n_i)^2,

so our couplings translate as J_ij = J (intralayer), J_ij = J_perp(r_i) (interlayer) and
D_ij = D (z x r_ij) with r_ij the unit bond vector from i to j; the DMI vector is written
as raw components (Spirit splits it into a unit normal and its length itself).

Spirit is an optional dependency (``pip install '.[crosscheck]'``, the PyPI wheel 2.2.0):
it is imported inside the functions that need it, so this module imports without it.
The wheel is built without OpenMP, so Spirit runs on one thread.

Precision notes. Spirit computes in double precision, but its Python API returns energies
as single-precision floats. :meth:`SpiritSample.energy` therefore reads the per-spin
energies that Spirit writes as an 8-byte binary OVF file and sums them in float64.
"""

from __future__ import annotations

import importlib
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .lattice import LATTICE_CONSTANT_ANGSTROM, site_positions, sublattice_a

INTERLAYER_ANGSTROM = 6.6  # only places the top layer for Spirit's geometry; no interaction depends on it
MINIMISERS = ("LBFGS_OSO", "LBFGS_Atlas", "VP_OSO", "VP")
MISSING = (
    "Spirit is not installed: it is the optional 'crosscheck' extra of this package "
    "(pip install --constraint requirements.lock '.[crosscheck]'; make test installs it)"
)


def available() -> bool:
    """Whether Spirit's Python package can be imported."""
    try:
        importlib.import_module("spirit")
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Sample:
    """One sample's couplings in meV: J, D and K scalars, J_perp on every site (rows, cols)."""

    J: float
    D: float
    K: float
    jperp: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.jperp.shape


def site_index(layer, i, j, rows: int, cols: int):
    """Spirit's basis-atom index of site (layer, i, j): the C order of (2, rows, cols)."""
    return (layer * rows + i) * cols + j


def intralayer_bonds(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every nearest-neighbour bond of one layer once: (i_sites, j_sites, unit vectors r_ij).

    Sites are flat indices i * cols + j; r_ij (n, 2) points from the first site to the
    second (docs/physics.md, section 1): right bonds (i, j) -> (i, j + 1) of every site
    and vertical bonds (i, j) -> (i + 1, j) of the A sites.
    """
    i, j = np.indices((rows, cols))
    sigma = np.where(sublattice_a(rows, cols), 1.0, -1.0)
    flat = i * cols + j
    right = np.s_[:, :-1]
    first = [flat[right].ravel()]
    second = [(flat[right] + 1).ravel()]
    vectors = [np.stack([np.full(first[0].shape, math.sqrt(3.0) / 2.0), -sigma[right].ravel() / 2.0], axis=1)]
    up = sublattice_a(rows, cols) & (i < rows - 1)
    first.append(flat[up])
    second.append(flat[up] + cols)
    vectors.append(np.tile([0.0, 1.0], (int(up.sum()), 1)))
    return np.concatenate(first), np.concatenate(second), np.concatenate(vectors)


def interaction_pairs(sample: Sample) -> np.ndarray:
    """The pair table in Spirit's convention, (n_pairs, 6): i, j, J_ij, D_ij x, y, z.

    Intralayer bonds of both layers (J and D (z x r_ij)), then the interlayer pairs
    (J_perp(r_i), no DMI), each pair once.
    """
    rows, cols = sample.shape
    a, b, r = intralayer_bonds(rows, cols)
    dmi = sample.D * np.stack([-r[:, 1], r[:, 0], np.zeros(len(r))], axis=1)  # z x r
    blocks = []
    for layer in (0, 1):
        offset = layer * rows * cols
        blocks.append(np.column_stack([a + offset, b + offset, np.full(len(a), sample.J), dmi]))
    sites = np.arange(rows * cols)
    zeros = np.zeros((rows * cols, 3))
    blocks.append(np.column_stack([sites, sites + rows * cols, sample.jperp.ravel(), zeros]))
    return np.concatenate(blocks)


def write_input(folder: Path, sample: Sample, a: float = LATTICE_CONSTANT_ANGSTROM) -> Path:
    """Write the Spirit input of ``sample`` into ``folder``; returns the config file.

    Three files: ``input.cfg`` (geometry, anisotropy, method settings, outputs off),
    ``basis.txt`` (the 2 rows cols basis atoms) and ``pairs.txt`` (every pair).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = sample.shape
    x, y = site_positions(rows, cols, a)
    # One basis cell larger than the sample, so that no translated copy of an atom can
    # land on another (Spirit checks this); positions are in units of the cell.
    cell = 2.0 * (float(np.abs(np.concatenate([x.ravel(), y.ravel()])).max()) + INTERLAYER_ANGSTROM + a)
    layers = [np.column_stack([x.ravel(), y.ravel(), np.full(x.size, z)]) for z in (0.0, INTERLAYER_ANGSTROM)]
    basis = np.concatenate(layers) / cell
    with open(folder / "basis.txt", "w") as handle:
        handle.write(f"basis\n{len(basis)}\n")
        np.savetxt(handle, basis, fmt="%.17g")
    pairs = interaction_pairs(sample)
    with open(folder / "pairs.txt", "w") as handle:
        handle.write(f"n_interaction_pairs {len(pairs)}\ni j da db dc Jij Dijx Dijy Dijz\n")
        table = np.column_stack([pairs[:, :2], np.zeros((len(pairs), 3)), pairs[:, 2:]])
        np.savetxt(handle, table, fmt=["%d"] * 5 + ["%.17g"] * 4)
    config = folder / "input.cfg"
    config.write_text(_config_text(folder, cell, len(basis), float(sample.K)))
    return config


def _config_text(folder: Path, cell: float, n_atoms: int, K: float) -> str:
    """Spirit's config: geometry (files in ``folder``), uniaxial anisotropy K along z, the
    pairs file, no field or dipolar term, and every output and log file off."""
    return "\n".join(
        [
            "# regscale: one sample of the twisted-bilayer CrI3 model (src/regscale/crosscheck.py)",
            "hamiltonian heisenberg_pairs",
            "boundary_conditions 0 0 0",
            f"lattice_constant {cell:.17g}",
            "bravais_vectors",
            "1 0 0",
            "0 1 0",
            "0 0 1",
            "n_basis_cells 1 1 1",
            f"basis_file {folder / 'basis.txt'}",
            "mu_s " + " ".join(["1"] * n_atoms),
            "external_field_magnitude 0",
            "external_field_normal 0 0 1",
            f"anisotropy_magnitude {K:.17g}",
            "anisotropy_normal 0 0 1",
            "cubic_anisotropy_magnitude 0",
            f"interaction_pairs_file {folder / 'pairs.txt'}",
            "ddi_method none",
            "log_to_console 0",
            "log_to_file 0",
            "log_console_level 0",
            "log_file_level 0",
            "save_input_initial 0",
            "save_input_final 0",
            "save_positions_initial 0",
            "save_positions_final 0",
            "save_neighbours_initial 0",
            "save_neighbours_final 0",
            f"llg_output_folder {folder}",
            "llg_output_any 0",
            "llg_output_initial 0",
            "llg_output_final 0",
            "llg_temperature 0",
            "llg_damping 1.0",
            "llg_n_iterations 1000000",
            "llg_n_iterations_log 1000000",
            "",
        ]
    )


def to_spirit(s: np.ndarray) -> np.ndarray:
    """Our spins (2, 3, rows, cols) as Spirit's (2 rows cols, 3), in :func:`site_index` order."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(s, dtype=np.float64), 1, -1).reshape(-1, 3))


def from_spirit(n: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Spirit's (2 rows cols, 3) spins as ours, (2, 3, rows, cols)."""
    return np.moveaxis(np.asarray(n, dtype=np.float64).reshape(2, rows, cols, 3), -1, 1).copy()


def read_ovf_binary8(path: Path) -> np.ndarray:
    """The data of an OVF 2.0 file written with 8-byte binary data, (n_nodes, valuedim) float64."""
    raw = Path(path).read_bytes()
    marker = b"# Begin: Data Binary 8\n"
    start = raw.index(marker) + len(marker)
    fields = {}
    for line in raw[:start].decode("ascii", "replace").splitlines():
        key, _, value = line.lstrip("# ").partition(":")
        fields[key.strip().lower()] = value.split("##")[0].strip()
    dim = int(fields["valuedim"])
    nodes = int(fields["xnodes"]) * int(fields["ynodes"]) * int(fields["znodes"])
    check = np.frombuffer(raw, dtype="<f8", count=1, offset=start)[0]
    if check != 123456789012345.0:
        raise ValueError(f"{path}: not an OVF 2.0 binary-8 data block (check value {check})")
    return np.frombuffer(raw, dtype="<f8", count=nodes * dim, offset=start + 8).reshape(nodes, dim)


class SpiritSample:
    """A Spirit state holding one sample; use as a context manager.

    Its input is written into ``folder`` (a temporary one by default). ``write_seconds`` and
    ``setup_seconds`` record how long writing it and Spirit's setup took; spins go in and
    out in our layout, (2, 3, rows, cols), through Spirit's own array.
    """

    def __init__(self, sample: Sample, folder: Path | None = None):
        self.sample = sample
        self.rows, self.cols = sample.shape
        self._tmp = None if folder is not None else tempfile.TemporaryDirectory(prefix="regscale-spirit-")
        self.folder = Path(folder if folder is not None else self._tmp.name)
        start = time.perf_counter()
        self.config = write_input(self.folder, sample)
        self.write_seconds = time.perf_counter() - start
        from spirit import state

        start = time.perf_counter()
        self._state = state.State(str(self.config), quiet=True)
        self.p_state = self._state.__enter__()
        self.setup_seconds = time.perf_counter() - start
        from spirit import geometry, system

        if system.get_nos(self.p_state) != 2 * self.rows * self.cols or geometry.get_n_cells(self.p_state) != [1, 1, 1]:
            raise RuntimeError(f"Spirit did not read the geometry of {self.config}")

    def close(self):
        if self.p_state is not None:
            self._state.__exit__(None, None, None)
            self.p_state = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _directions(self) -> np.ndarray:
        from spirit import system

        return system.get_spin_directions(self.p_state)

    def set_spins(self, s: np.ndarray) -> None:
        """Set Spirit's spins to ours, (2, 3, rows, cols), as given (not renormalised)."""
        self._directions()[:] = to_spirit(s)

    def get_spins(self) -> np.ndarray:
        return from_spirit(self._directions(), self.rows, self.cols)

    def energy_per_spin_contributions(self) -> np.ndarray:
        """Spirit's energy of every spin, (2 rows cols,) float64, and its contributions.

        Read back from the 8-byte OVF file that Spirit writes: full double precision,
        where the Python API would round to single precision."""
        from spirit import io

        path = self.folder / "energy.ovf"
        io.image_write_energy_per_spin(self.p_state, str(path), fileformat=io.FILEFORMAT_OVF_BIN8)
        return read_ovf_binary8(path)

    def energy(self) -> float:
        """Spirit's total energy of the current spins in meV, in double precision."""
        return float(self.energy_per_spin_contributions()[:, 0].sum())

    def energy_single(self) -> float:
        """The total energy from Spirit's Python API (single-precision contributions)."""
        from spirit import system

        system.update_data(self.p_state)
        return float(sum(system.get_energy_contributions(self.p_state, divide_by_nspins=False).values()))

    def field_by_differences(self, sites: np.ndarray, h: float = 1e-3) -> np.ndarray:
        """-dE/dn of Spirit's energy at the given sites by central differences, (len(sites), 3).

        ``sites`` are (layer, i, j) rows. Each Cartesian component of one spin is moved by
        +-h without renormalising: Spirit evaluates its energy at the vectors it is given,
        and the energy is quadratic in every spin, so the central difference is exact up
        to rounding."""
        n = self._directions()
        field = np.zeros((len(sites), 3))
        for row, (layer, i, j) in enumerate(np.asarray(sites)):
            k = site_index(layer, i, j, self.rows, self.cols)
            for c in range(3):
                keep = n[k, c]
                n[k, c] = keep + h
                plus = self.energy()
                n[k, c] = keep - h
                minus = self.energy()
                n[k, c] = keep
                field[row, c] = -(plus - minus) / (2.0 * h)
        return field

    def force(self) -> np.ndarray:
        """Spirit's own force -dE/dn made perpendicular to every spin, (2, 3, rows, cols).

        This is what its minimisers follow. Spirit computes it when a minimisation starts;
        one is started with a tolerance met before the first step, so no spin moves."""
        from spirit import parameters, simulation, system

        before = self._directions().copy()
        parameters.llg.set_convergence(self.p_state, 1e30)
        info = simulation.start(self.p_state, simulation.METHOD_LLG, simulation.SOLVER_LBFGS_OSO)
        if info.total_iterations != 0 or not np.array_equal(before, self._directions()):
            raise RuntimeError("Spirit moved the spins while asked for its force alone")
        return from_spirit(system.get_effective_field(self.p_state), self.rows, self.cols)

    def relax(
        self, solver: str = "LBFGS_OSO", tol_meV: float = 1e-2, max_iterations: int = 100000, dt: float | None = None
    ) -> dict:
        """Minimise with one of Spirit's minimisers until max |n x H| < tol_meV (meV).

        Spirit compares against ``tol`` the norm of its 'virtual force': n x (-dE/dn) for
        the LBFGS solvers, the same scaled by dt gamma / mu_B for the VP solvers, so the
        tolerance it is given is scaled to mean the same torque. ``dt`` (ps) sets the time
        step of the VP minimisers (Spirit's default 1e-3 otherwise). Returns the wall and
        CPU seconds of the minimisation, its iterations and the last torque Spirit saw (meV).
        """
        from spirit import constants, parameters, simulation

        if solver not in MINIMISERS:
            raise ValueError(f"unknown Spirit minimiser {solver!r}; expected one of {MINIMISERS}")
        code = getattr(simulation, f"SOLVER_{solver}")
        scale = 1.0
        if solver.startswith("VP"):
            if dt is not None:
                parameters.llg.set_timestep(self.p_state, dt)
            step = parameters.llg.get_timestep(self.p_state)
            scale = step * constants.gamma / constants.mu_B
        parameters.llg.set_convergence(self.p_state, tol_meV * scale)
        parameters.llg.set_iterations(self.p_state, max_iterations, max_iterations)
        start, cpu_start = time.perf_counter(), time.process_time()
        info = simulation.start(self.p_state, simulation.METHOD_LLG, code)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        return {
            "solver": solver,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "iterations": int(info.total_iterations),
            "spirit_max_torque": float(info.max_torque) / scale,
        }

    def relax_to(self, solver: str = "LBFGS_OSO", tol_meV: float = 1e-2, max_iterations: int = 100000, runs: int = 20):
        """:meth:`relax` until the final state's largest torque |n x H| (our field, float64) is at most tol_meV.

        A Spirit run can stop with its final state slightly above the tolerance (LBFGS_OSO
        sometimes does, judging by a force from before its last step); it is then run again
        from there (at most ``runs`` runs). Seconds and iterations add up over the runs;
        ``torque`` is the final state's and ``converged`` says whether it is within tol_meV."""
        total = {"solver": solver, "seconds": 0.0, "cpu_seconds": 0.0, "iterations": 0, "runs": 0}
        for _ in range(runs):
            result = self.relax(solver, tol_meV, max_iterations - total["iterations"])
            total["seconds"] += result["seconds"]
            total["cpu_seconds"] += result["cpu_seconds"]
            total["iterations"] += result["iterations"]
            total["runs"] += 1
            total["torque"] = our_torque(self.get_spins(), self.sample)
            if total["torque"] <= tol_meV or total["iterations"] >= max_iterations:
                break
        total["converged"] = total["torque"] <= tol_meV
        return total


def random_field(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Independent random unit vectors, (2, 3, rows, cols)."""
    s = rng.normal(size=(2, 3, rows, cols))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def uniform_field(rows: int, cols: int, polar: float = 0.3, azimuth: float = 0.0) -> np.ndarray:
    """Every spin along the same direction, ``polar`` rad from +z, (2, 3, rows, cols)."""
    direction = np.array([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)])
    return np.broadcast_to(direction[None, :, None, None], (2, 3, rows, cols)).copy()


def domain_wall_field(rows: int, cols: int, width: float = 1.0, azimuth: float = math.pi / 2, tilt: float = 0.05):
    """A straight wall across both layers, (2, 3, rows, cols): m_z = tanh((j - (cols - 1)/2) / width),
    the in-plane part along ``azimuth`` (pi/2: a Bloch wall, which the DMI turns into a Neel wall).

    The in-plane part is at least sin(tilt), so no spin starts exactly along z (a collinear
    state would be stationary)."""
    j = np.arange(cols) - (cols - 1) / 2.0
    mz = np.broadcast_to(np.tanh(j / width), (2, rows, cols))
    m_plane = np.maximum(np.sqrt(1.0 - mz**2), np.sin(tilt))
    s = np.stack([m_plane * math.cos(azimuth), m_plane * math.sin(azimuth), mz], axis=1)
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def our_field(s: np.ndarray, sample: Sample) -> np.ndarray:
    """Our effective field H = -dE/dn (spins.effective_field) of one sample in float64, (2, 3, rows, cols)."""
    import torch

    from . import spins

    t = torch.as_tensor(np.asarray(s, dtype=np.float64))[None]
    rows, cols = sample.shape
    c = _couplings(sample, torch.float64)
    return spins.effective_field(t, c, spins.Lattice(rows, cols, t.device, t.dtype))[0].numpy()


def our_torque(s: np.ndarray, sample: Sample) -> float:
    """Largest |n x H| of one sample under our field, meV (float64)."""
    return max_torque(s, our_field(s, sample))


def our_energy(s: np.ndarray, sample: Sample) -> float:
    """Our energy of one sample in meV, float64 (spins.energy = -1/2 sum n . H)."""
    return float(-0.5 * np.sum(np.asarray(s, dtype=np.float64) * our_field(s, sample)))


def max_torque(s: np.ndarray, field: np.ndarray) -> float:
    """Largest |n x H| over the sites, meV."""
    return float(np.sqrt((np.cross(s, field, axis=1) ** 2).sum(axis=1)).max())


def _couplings(sample: Sample, dtype):
    import torch

    from . import spins

    return spins.Couplings(
        J=torch.tensor([sample.J], dtype=dtype),
        D=torch.tensor([sample.D], dtype=dtype),
        K=float(sample.K),
        jperp=torch.as_tensor(np.asarray(sample.jperp), dtype=dtype)[None],
    )


def our_relax(s0: np.ndarray, sample: Sample, tol_meV: float = 1e-2, dtype: str = "float64", **settings):
    """Relax one sample with our minimiser (spins.relax, eager); returns (spins (2, 3, rows, cols), result)."""
    import torch

    from . import spins

    torch_dtype = getattr(torch, dtype)
    relax_settings = spins.RelaxSettings(tol_meV=tol_meV, **settings)
    t = torch.as_tensor(np.asarray(s0), dtype=torch_dtype)[None]
    result = spins.relax(t, _couplings(sample, torch_dtype), relax_settings)
    return result.spins[0].double().numpy(), result
