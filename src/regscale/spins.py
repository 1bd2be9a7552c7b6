"""Atomistic spin model of twisted bilayer CrI3 and its batched relaxation in torch.

Spins are unit vectors in a tensor of shape (batch, layer=2, component=3, rows, cols)
on the brick-wall honeycomb of :mod:`regscale.lattice`. Energies are in meV:

    E = - J   sum_<ij>, each layer   S_i . S_j                      (exchange, J > 0 FM)
        - K   sum_i                  (S_i^z)^2                      (easy axis)
        - D   sum_<ij>, each layer   (z x r_ij) . (S_i x S_j)       (interfacial DMI)
        - sum_i J_perp(r_i)          S_i^bottom . S_i^top           (moire interlayer)

with r_ij the unit bond vector from i to j. Every term is bilinear in the spins, so
the effective field H = -dE/dS is linear in S and E = -1/2 sum_i S_i . H_i, and the
energy change of a step follows from the two fields without cancellation.
See docs/physics.md for the choices and their reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .lattice import sublattice_a
from .physics import RelaxSettings  # noqa: F401 (part of this module's interface)

SQRT3_2 = math.sqrt(3.0) / 2.0


@dataclass(frozen=True)
class Couplings:
    """Per-sample couplings as tensors broadcastable to (batch, 2, 3, rows, cols)."""

    J: torch.Tensor  # (batch,) meV
    D: torch.Tensor  # (batch,) meV
    K: float  # meV, shared
    jperp: torch.Tensor  # (batch, rows, cols) meV

    def select(self, index: torch.Tensor) -> "Couplings":
        return Couplings(self.J[index], self.D[index], self.K, self.jperp[index])

    def __post_init__(self):
        if self.jperp.ndim != 3 or len(self.J) != len(self.jperp) or len(self.D) != len(self.jperp):
            raise ValueError("J and D must have shape (batch,) and jperp (batch, rows, cols)")


class Lattice:
    """Sublattice signs of an (rows, cols) brick wall, on one device and dtype."""

    def __init__(self, rows: int, cols: int, device, dtype):
        if rows < 2 or cols < 2 or rows % 2 or cols % 2:
            raise ValueError(f"lattice needs even rows and cols >= 2, got {rows} x {cols}")
        self.rows, self.cols = rows, cols
        a_mask = torch.as_tensor(sublattice_a(rows, cols), device=device)
        self.is_a = a_mask
        self.sign = torch.where(a_mask, 1.0, -1.0).to(device=device, dtype=dtype)  # +1 on A, -1 on B

    def neighbours(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Right, left and vertical neighbour of every site (zero beyond the open edges)."""
        right = torch.zeros_like(s)
        right[..., :-1] = s[..., 1:]
        left = torch.zeros_like(s)
        left[..., 1:] = s[..., :-1]
        up = torch.zeros_like(s)
        up[..., :-1, :] = s[..., 1:, :]
        down = torch.zeros_like(s)
        down[..., 1:, :] = s[..., :-1, :]
        return right, left, torch.where(self.is_a, up, down)


def effective_field(s: torch.Tensor, c: Couplings, lat: Lattice) -> torch.Tensor:
    """H = -dE/dS, same shape as s."""
    right, left, vert = lat.neighbours(s)
    J = c.J.view(-1, 1, 1, 1, 1)
    field = J * (right + left + vert)
    field = field + c.jperp[:, None, None] * s.flip(1)
    # DMI: H_i = D sum_j S_j x u_ij with u_ij = z x r_ij; the bond table is in lattice.py.
    sign = lat.sign
    rx, ry, rz = right.unbind(2)
    lx, ly, lz = left.unbind(2)
    vx, vy, vz = vert.unbind(2)
    dmi = torch.stack(
        (
            -SQRT3_2 * (rz - lz),
            sign * (0.5 * (rz + lz) - vz),
            SQRT3_2 * (rx - lx) - sign * (0.5 * (ry + ly) - vy),
        ),
        dim=2,
    )
    field = field + c.D.view(-1, 1, 1, 1, 1) * dmi
    field[:, :, 2] += 2.0 * c.K * s[:, :, 2]
    return field


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    """Sum over everything but the batch axis, accumulated in float64."""
    return x.flatten(1).sum(dim=1, dtype=torch.float64)


def energy(s: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Total energy per sample in meV, (batch,) float64."""
    return -0.5 * _per_sample(s * field)


def tangent(field: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Component of the field perpendicular to the spin: the torque direction."""
    return field - (field * s).sum(dim=2, keepdim=True) * s


def max_torque(force: torch.Tensor) -> torch.Tensor:
    """Largest |S x H| per sample in meV, (batch,)."""
    return (force * force).sum(dim=2).flatten(1).amax(dim=1).sqrt()


def normalise(s: torch.Tensor) -> torch.Tensor:
    return s * torch.rsqrt((s * s).sum(dim=2, keepdim=True))


@dataclass
class RelaxResult:
    spins: torch.Tensor  # (batch, 2, 3, rows, cols)
    steps: torch.Tensor  # (batch,) int, accepted + rejected steps while not converged
    energy: torch.Tensor  # (batch,) float64, meV
    torque: torch.Tensor  # (batch,) meV, final max |S x H|
    converged: torch.Tensor  # (batch,) bool
    method: str  # the minimiser
    energy_history: list[torch.Tensor] | None = None  # per step, (batch,) float64


def _sites(x: torch.Tensor) -> torch.Tensor:
    """A per-sample value or mask (batch,), broadcastable over each sample's sites."""
    return x.view(-1, 1, 1, 1, 1)


def _per_site(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample value (batch,) as a factor of ``like``'s sites, in its dtype."""
    return _sites(x.to(like.dtype))


def _try(s, field, trial, active, noise, c: Couplings, lat: Lattice):
    """The energy safeguard shared by the minimisers: the field at ``trial``, the energy
    change of moving there, and which active samples may (accept) or may not (reject)."""
    trial_field = effective_field(trial, c, lat)
    # E(trial) - E(s) = -1/2 (trial - s) . (H(trial) + H(s)) for a bilinear energy: no cancellation.
    delta_e = -0.5 * _per_sample((trial - s) * (trial_field + field))
    accept = active & (delta_e <= noise)
    return trial_field, delta_e, accept, active & ~accept


def _vp_start(s: torch.Tensor, settings: RelaxSettings) -> tuple:
    """Velocity projection's memory: the velocity and each sample's time step."""
    return torch.zeros_like(s), torch.full((s.shape[0],), settings.dt, device=s.device, dtype=s.dtype)


def _vp_step(s, field, force, memory, active, noise, c: Couplings, lat: Lattice, settings: RelaxSettings):
    """One velocity-projection step of every active sample, with the energy safeguard."""
    velocity, dt = memory
    # Keep only the velocity component along the force (and none if it opposes it).
    vf = _per_sample(velocity * force)
    ff = _per_sample(force * force).clamp_min(1e-300)
    velocity = torch.where(_sites(vf) > 0, _per_site(vf / ff, s) * force, 0.0)
    velocity = velocity + _per_site(dt, s) * force
    trial = normalise(s + _per_site(dt, s) * velocity)
    trial_field, delta_e, accept, reject = _try(s, field, trial, active, noise, c, lat)
    keep = _sites(accept)
    s = torch.where(keep, trial, s)
    field = torch.where(keep, trial_field, field)
    force = tangent(field, s)
    velocity = torch.where(keep, tangent(velocity, s), 0.0)
    grown = (dt * 1.05).clamp_max(settings.dt_max)
    shrunk = (dt * 0.5).clamp_min(settings.dt * 0.01)
    dt = torch.where(reject, shrunk, torch.where(accept, grown, dt))
    return s, field, force, (velocity, dt), torch.where(accept, delta_e, 0.0), max_torque(force)


def _lbfgs_start(s: torch.Tensor, settings: RelaxSettings) -> tuple:
    """L-BFGS's memory, flat: ``memory`` spin steps, as many force changes, their
    1/(step . change), the scale of the initial inverse Hessian and the step fraction.
    Zero pairs are no-ops in the two-loop recursion, so the history starts empty."""
    batch, m = s.shape[0], settings.memory
    per_sample = dict(device=s.device, dtype=torch.float64)
    steps = tuple(torch.zeros_like(s) for _ in range(2 * m))
    rhos = tuple(torch.zeros(batch, **per_sample) for _ in range(m))
    # Before any curvature is known, the first step is velocity projection's: dt^2 * force.
    gamma = torch.full((batch,), settings.dt**2, **per_sample)
    return (*steps, *rhos, gamma, torch.ones(batch, **per_sample))


def _lbfgs_step(s, field, force, memory, active, noise, c: Couplings, lat: Lattice, settings: RelaxSettings):
    """One L-BFGS step of every active sample on the unit sphere, with the energy safeguard.

    The gradient is -force (the torque-free part of -H); the direction comes from the
    two-loop recursion over the last ``memory`` (step, force change) pairs, is made
    tangent, and is scaled so that no spin turns by more than ``max_rotation`` rad; the
    step is then taken along the sphere by normalising. A step that would raise the
    energy is refused and the next one tried at half the length; the pairs are kept as
    they are (not transported), as in Spirit's LBFGS_OSO, which works because steps are
    short where the curvature matters.
    """
    m = settings.memory
    steps, changes, rhos = memory[:m], memory[m : 2 * m], memory[2 * m : 3 * m]
    gamma, fraction = memory[3 * m :]
    q = force
    alphas = []
    for step, change, rho in zip(reversed(steps), reversed(changes), reversed(rhos)):
        alpha = rho * _per_sample(step * q)
        q = q - _per_site(alpha, s) * change
        alphas.append(alpha)
    r = _per_site(gamma, s) * q
    for step, change, rho, alpha in zip(steps, changes, rhos, reversed(alphas)):
        beta = rho * _per_sample(change * r)
        r = r + _per_site(alpha - beta, s) * step
    direction = tangent(r, s)
    turn = (direction * direction).sum(dim=2).flatten(1).amax(dim=1).sqrt()
    length = fraction * (settings.max_rotation / turn.double().clamp_min(1e-30)).clamp_max(1.0)
    trial = normalise(s + _per_site(length, s) * direction)
    trial_field, delta_e, accept, reject = _try(s, field, trial, active, noise, c, lat)
    trial_force = tangent(trial_field, trial)
    # The newest pair (the step and the change of the gradient, -force): only where the
    # step was taken and the curvature along it is positive; a zero pair otherwise.
    new_step, new_change = trial - s, force - trial_force
    curvature = _per_sample(new_step * new_change)
    good = accept & (curvature > 0)
    keep_pair = _sites(good)
    steps = (*steps[1:], torch.where(keep_pair, new_step, 0.0))
    changes = (*changes[1:], torch.where(keep_pair, new_change, 0.0))
    rhos = (*rhos[1:], torch.where(good, 1.0 / curvature.clamp_min(1e-300), 0.0))
    gamma = torch.where(good, curvature / _per_sample(new_change * new_change).clamp_min(1e-300), gamma)
    fraction = torch.where(reject, fraction * 0.5, torch.where(accept, (fraction * 2.0).clamp_max(1.0), fraction))
    keep = _sites(accept)
    s = torch.where(keep, trial, s)
    field = torch.where(keep, trial_field, field)
    force = torch.where(keep, trial_force, force)
    memory = (*steps, *changes, *rhos, gamma, fraction)
    return s, field, force, memory, torch.where(accept, delta_e, 0.0), max_torque(force)


MINIMISERS = {"lbfgs": (_lbfgs_start, _lbfgs_step), "vp": (_vp_start, _vp_step)}


def step_state_bytes(settings: RelaxSettings, rows: int, cols: int, dtype: torch.dtype) -> int:
    """Bytes of one sample's state that a step must read (and mostly write): spins,
    field, force and the minimiser's spin-sized memory (counted from what its start
    makes), and the interlayer map."""
    sample = torch.empty(1, 2, 3, rows, cols, dtype=dtype, device="meta")  # shapes only, no data
    memory = MINIMISERS[settings.method][0](sample, settings)
    spin_sized = 3 + sum(t.shape == sample.shape for t in memory)
    return (spin_sized * 6 + 1) * rows * cols * sample.element_size()


_compiled_steps: dict = {}


def _step_function(method: str, compile: bool):
    """The minimiser's step, eager or compiled. Compiled, only the batch axis is symbolic:
    the working batch shrinks as samples converge, while the lattice stays; kernels
    generated for a symbolic lattice as well ran the step at half the speed (their index
    arithmetic is not vectorised as well). A new lattice size compiles anew."""
    step = MINIMISERS[method][1]
    if not compile:
        return step
    if method not in _compiled_steps:
        _compiled_steps[method] = torch.compile(step, dynamic=False)
    compiled = _compiled_steps[method]

    def batch_symbolic_step(s, field, force, memory, active, noise, c: Couplings, lat, settings):
        for tensor in (s, field, force, *memory, active, noise, c.J, c.D, c.jperp):
            torch._dynamo.mark_dynamic(tensor, 0)
        return compiled(s, field, force, memory, active, noise, c, lat, settings)

    return batch_symbolic_step


def relax(
    s0: torch.Tensor,
    c: Couplings,
    settings: RelaxSettings = RelaxSettings(),
    record_energy: bool = False,
    progress=None,
    compile: bool = False,
) -> RelaxResult:
    """Relax every sample of the batch to a local energy minimum.

    ``settings.method`` picks the minimiser: ``lbfgs`` (limited-memory BFGS on the
    sphere) or ``vp`` (velocity projection). Each sample keeps its own history, step
    length and stopping point, so its trajectory does not depend on the other samples
    of the batch. A proposed step is kept only if it lowers that sample's energy (up
    to the rounding of the energy sum); otherwise it is refused and a shorter one
    tried. A sample stops when its largest torque |S x H| falls below ``tol_meV``
    (converged) or after ``max_steps``. ``compile`` fuses the step with torch.compile:
    several times faster, and different in the last bits from the eager step, so it is
    part of the physics config.
    """
    if settings.method not in MINIMISERS:
        raise ValueError(f"unknown relaxation method {settings.method!r}; expected one of {sorted(MINIMISERS)}")
    lat = Lattice(s0.shape[-2], s0.shape[-1], s0.device, s0.dtype)
    batch = s0.shape[0]
    s = normalise(s0)
    field = effective_field(s, c, lat)
    e0 = energy(s, field)
    # Below this an energy change is rounding: |S.H| summed, times the dtype's epsilon.
    noise = 4 * torch.finfo(s.dtype).eps * _per_sample((s * field).abs())
    state = _RelaxState.start(s, field, settings)
    steps = torch.zeros(batch, dtype=torch.int64, device=s.device)
    delta_sum = torch.zeros(batch, dtype=torch.float64, device=s.device)
    history = [e0.clone()] if record_energy else None
    step_fn = _step_function(settings.method, compile)
    # Work on the samples still moving; shrink the working batch when half of it has
    # converged, so that a slow sample does not keep finished ones computing.
    work = torch.arange(batch, device=s.device)
    sub_c, sub_noise = c, noise
    for step in range(settings.max_steps):
        active = state.torque > settings.tol_meV
        n_active = int(active.sum())
        if n_active == 0:
            break
        if n_active <= len(work) // 2:
            state.scatter_into(s, field, work)
            keep = active.nonzero().squeeze(1)
            work, state, active = work[keep], state.select(keep), active[keep]
            sub_c, sub_noise = c.select(work), noise[work]
        state, delta_e = state.advance(step_fn, active, sub_noise, sub_c, lat, settings)
        steps[work] += active.to(torch.int64)
        delta_sum[work] += delta_e
        if record_energy:
            history.append(e0 + delta_sum)
        if progress is not None:
            progress(step, n_active)
    state.scatter_into(s, field, work)
    torque = max_torque(tangent(field, s))
    return RelaxResult(
        spins=s,
        steps=steps,
        energy=energy(s, field),
        torque=torque,
        converged=torque <= settings.tol_meV,
        method=settings.method,
        energy_history=history,
    )


@dataclass
class _RelaxState:
    """The moving part of a relaxation for the samples in the working batch; ``memory``
    is the minimiser's own per-sample state (a flat tuple of tensors)."""

    s: torch.Tensor
    field: torch.Tensor
    force: torch.Tensor
    torque: torch.Tensor
    memory: tuple

    @classmethod
    def start(cls, s, field, settings):
        force = tangent(field, s)
        return cls(s, field, force, max_torque(force), MINIMISERS[settings.method][0](s, settings))

    def select(self, index):
        return _RelaxState(self.s[index], self.field[index], self.force[index], self.torque[index],
                           tuple(t[index] for t in self.memory))  # fmt: skip

    def scatter_into(self, s, field, work):
        s[work] = self.s
        field[work] = self.field

    def advance(self, step_fn, active, noise, c, lat, settings):
        s, field, force, memory, delta_e, torque = step_fn(
            self.s, self.field, self.force, self.memory, active, noise, c, lat, settings
        )
        return _RelaxState(s, field, force, torque, memory), delta_e


def initial_state(jperp: torch.Tensor, template_meV: float = 0.1, tilt: float = 0.05) -> torch.Tensor:
    """Deterministic moire-templated start, (batch, 2, 3, rows, cols).

    Bottom layer: up, tilted by ``tilt`` rad towards +x. Top layer: m_z =
    tanh(J_perp / template_meV) with the in-plane part along +x, so it starts
    antiparallel to the bottom layer where the coupling is antiferromagnetic. The
    in-plane parts break the symmetry that would make a collinear state stationary.
    """
    mz_top = torch.tanh(jperp / template_meV)
    mz_bottom = torch.full_like(mz_top, math.cos(tilt))
    mz = torch.stack((mz_bottom, mz_top), dim=1)
    mx = torch.sqrt((1.0 - mz * mz).clamp_min(0.0))
    mx = torch.maximum(mx, torch.full_like(mx, math.sin(tilt)))
    return normalise(torch.stack((mx, torch.zeros_like(mz), mz), dim=2))


def out_of_plane(spins: torch.Tensor) -> np.ndarray:
    """The image: m_z of both layers, (batch, 2, rows, cols) float32 numpy."""
    return spins[:, :, 2].float().cpu().numpy()
