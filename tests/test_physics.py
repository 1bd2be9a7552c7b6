"""Physics invariants of the spin model and its relaxation."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from regscale import spins
from regscale.interlayer import fit_interlayer, harmonic_orbits, lattice_vectors, read_table, table_shifts
from regscale.lattice import LATTICE_CONSTANT_ANGSTROM as A
from regscale.lattice import moire_period, site_positions
from regscale.simulate import Physics, jperp_maps

REPO = Path(__file__).resolve().parents[1]
RIGID = REPO / "resources/cri3_interlayer/deltaE_rigid.csv"
F64 = torch.float64


def physics(rows=32, cols=32, K=0.3):
    return Physics(rows=rows, cols=cols, anisotropy_meV=K, interlayer_table=RIGID)


def couplings(theta, J, D, rows=32, cols=32, K=0.3, dtype=F64):
    jperp = torch.as_tensor(jperp_maps(physics(rows, cols, K), np.asarray(theta, dtype=float)), dtype=dtype)
    n = len(jperp)
    return spins.Couplings(
        J=torch.full((n,), 0.0, dtype=dtype) + torch.as_tensor(J, dtype=dtype),
        D=torch.full((n,), 0.0, dtype=dtype) + torch.as_tensor(D, dtype=dtype),
        K=K,
        jperp=jperp,
    )


TIGHT = spins.RelaxSettings(tol_meV=1e-4, max_steps=15000)


@pytest.fixture(scope="module", params=sorted(spins.MINIMISERS))
def relaxed_batch(request):
    """Three samples relaxed tightly, with each minimiser (the tests below hold for both)."""
    c = couplings([3.5, 5.0, 6.0], [1.5, 2.2, 3.0], [0.0, 0.2, 0.4])
    s0 = spins.initial_state(c.jperp)
    settings = dataclasses.replace(TIGHT, method=request.param)
    return s0, c, spins.relax(s0, c, settings, record_energy=True)


def tight_as(result) -> spins.RelaxSettings:
    """TIGHT with the minimiser that made ``result``."""
    return dataclasses.replace(TIGHT, method=result.method)


def test_unknown_minimiser_is_a_clear_error():
    c = couplings([5.0], [2.0], [0.1])
    with pytest.raises(ValueError, match=r"unknown relaxation method 'fire'; expected one of \['lbfgs', 'vp'\]"):
        spins.relax(spins.initial_state(c.jperp), c, dataclasses.replace(TIGHT, method="fire"))


def test_lbfgs_needs_fewer_steps_than_velocity_projection_for_the_same_minimum():
    """The reason L-BFGS is the default: on the default physics it converges in a
    fraction of the steps, to a minimum as low (here the same states on >= 99% of sites)."""
    c = couplings([4.5, 6.0, 7.5], [1.8, 2.4, 2.9], [0.05, 0.2, 0.35])
    s0 = spins.initial_state(c.jperp)
    lbfgs, vp = (spins.relax(s0, c, dataclasses.replace(TIGHT, method=m, tol_meV=1e-3)) for m in ("lbfgs", "vp"))
    assert bool(lbfgs.converged.all()) and bool(vp.converged.all())
    assert (lbfgs.steps * 2 < vp.steps).all(), (lbfgs.steps, vp.steps)
    assert (lbfgs.energy <= vp.energy + 1e-5 * vp.energy.abs()).all()
    same_sign = ((lbfgs.spins[:, :, 2] > 0) == (vp.spins[:, :, 2] > 0)).double().flatten(1).mean(1)
    assert (same_sign >= 0.99).all(), same_sign


def test_energy_never_increases(relaxed_batch):
    s0, c, result = relaxed_batch
    history = torch.stack(result.energy_history).numpy()  # (steps + 1, batch)
    assert history.shape[0] > 50
    assert np.all(np.diff(history, axis=0) <= 0.0)
    # The running sum of accepted changes matches the energy computed from scratch.
    lat = spins.Lattice(32, 32, "cpu", F64)
    s_start = spins.normalise(s0)
    e_start = spins.energy(s_start, spins.effective_field(s_start, c, lat))
    np.testing.assert_allclose(history[0], e_start.numpy())
    np.testing.assert_allclose(history[-1], result.energy.numpy(), rtol=1e-10)
    assert np.all(result.energy.numpy() < e_start.numpy())


def test_relaxation_reaches_tolerance_with_unit_spins(relaxed_batch):
    _, _, result = relaxed_batch
    norms = result.spins.norm(dim=2)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-12)
    assert bool(result.converged.all()), result.torque
    assert float(result.torque.max()) <= TIGHT.tol_meV


def test_energy_is_half_spin_dot_field():
    # E = -1/2 sum S.H holds only if the field is the exact gradient of the energy;
    # check the field against a finite difference of the energy.
    torch.manual_seed(0)
    c = couplings([4.0], [2.0], [0.3], rows=8, cols=8)
    lat = spins.Lattice(8, 8, "cpu", F64)
    s = spins.normalise(torch.randn(1, 2, 3, 8, 8, dtype=F64))

    def total(x):
        return float(spins.energy(x, spins.effective_field(x, c, lat)))

    field = spins.effective_field(s, c, lat)
    for index in [(0, 0, 0, 3, 4), (0, 1, 2, 0, 0), (0, 0, 1, 7, 7), (0, 1, 0, 5, 2)]:
        bumped = s.clone()
        bumped[index] += 1e-6
        lowered = s.clone()
        lowered[index] -= 1e-6
        derivative = (total(bumped) - total(lowered)) / 2e-6
        assert derivative == pytest.approx(-float(field[index]), rel=1e-6, abs=1e-9)


def test_ferromagnetic_coupling_everywhere_gives_uniform_state():
    rows = cols = 24
    bubble = torch.as_tensor(jperp_maps(physics(rows, cols), np.array([5.0])))
    s0 = spins.initial_state(bubble)  # top layer starts with reversed moire domains
    assert float(s0[:, 1, 2].min()) < -0.9
    uniform_fm = spins.Couplings(
        J=torch.tensor([2.0], dtype=F64), D=torch.tensor([0.0], dtype=F64), K=0.3,
        jperp=torch.full((1, rows, cols), 0.5, dtype=F64),
    )
    result = spins.relax(s0, uniform_fm, spins.RelaxSettings(tol_meV=1e-5, max_steps=4000))
    mz = result.spins[:, :, 2]
    assert bool(result.converged.all())
    assert float(mz.min()) > 0.999
    assert float(mz.max() - mz.min()) < 1e-3


def _fourier_peak_period(x, y, values, k_expected):
    """Moire period read off the strongest Fourier peak of ``values`` sampled at (x, y).

    The power is searched on a polar grid of |k| from 0.5 to 1.4 k_expected: wide
    enough that a period off by more than 5% shows, narrow enough to exclude the
    sqrt(3) and 2 k harmonics, which dominate the coupling map (the fit's first shell
    is its weakest). The peak must stand well above the edges of the window.
    """
    # A Hann window keeps the sidelobes of the strong harmonics out of the search.
    hann = np.cos(np.pi * x / (np.ptp(x) * 1.01)) ** 2 * np.cos(np.pi * y / (np.ptp(y) * 1.01)) ** 2
    values = (values - values.mean()) * hann
    # |k| in steps of 1% (the test allows 5%); 3 degree steps resolve the peaks, which
    # are about 10 degrees wide on a sample of ~6 periods.
    radii = np.linspace(0.5, 1.4, 91) * k_expected
    angles = np.deg2rad(np.arange(0.0, 180.0, 3.0))
    kx = np.outer(radii, np.cos(angles)).ravel()
    ky = np.outer(radii, np.sin(angles)).ravel()
    power = np.empty(len(kx))
    for chunk in range(0, len(kx), 2000):
        phase = np.outer(kx[chunk : chunk + 2000], x) + np.outer(ky[chunk : chunk + 2000], y)
        # |sum v e^{-i phase}|^2 from cos and sin: numpy's complex exp is ten times slower.
        power[chunk : chunk + 2000] = (np.cos(phase) @ values) ** 2 + (np.sin(phase) @ values) ** 2
    radial = power.reshape(len(radii), len(angles)).max(axis=1)
    peak = int(np.argmax(radial))
    assert radial[peak] > 3 * max(radial[0], radial[-1]), "no isolated Fourier peak near the moire wave vector"
    return 4 * math.pi / (math.sqrt(3) * radii[peak])  # triangular lattice: |g1| = 4 pi / (sqrt(3) L)


@pytest.mark.parametrize("theta", [1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 9.0])
def test_coupling_map_has_the_moire_period(theta):
    period = float(moire_period(theta))
    side = int(6 * period / (A / 2)) // 2 * 2  # at least ~3 periods across each way
    x, y = site_positions(side, side)
    stride = max(1, int(period / A / 6))  # the map is smooth on the moire scale
    x, y = x[::stride, ::stride].ravel(), y[::stride, ::stride].ravel()
    values = fit_interlayer(RIGID).on_sites(theta, x, y)
    measured = _fourier_peak_period(x, y, values, 4 * math.pi / (math.sqrt(3) * period))
    assert measured == pytest.approx(period, rel=0.05)


@pytest.mark.parametrize("theta", [4.0, 6.0])
def test_relaxed_image_has_the_moire_period(theta):
    rows, cols = 64, 96
    c = couplings([theta], [1.5], [0.0], rows=rows, cols=cols, dtype=torch.float32)
    result = spins.relax(spins.initial_state(c.jperp), c, spins.RelaxSettings(max_steps=3000))
    mz_top = result.spins[0, 1, 2].double().numpy()
    assert mz_top.min() < -0.5  # domains formed
    x, y = site_positions(rows, cols)
    period = float(moire_period(theta))
    measured = _fourier_peak_period(x.ravel(), y.ravel(), mz_top.ravel(), 4 * math.pi / (math.sqrt(3) * period))
    assert measured == pytest.approx(period, rel=0.05)


def test_domain_wall_width_matches_continuum_formula():
    # Decoupled layers, no DMI: a flat wall between up and down rows has the profile
    # m_z = tanh((y - y0) / delta) with delta = d sqrt(3 J / (8 K)) (docs/physics.md).
    rows, cols, J, K = 80, 8, 2.0, 0.05
    d = A / math.sqrt(3)
    x, y = site_positions(rows, cols)
    mz0 = torch.as_tensor(np.where(y > 0, 0.9, -0.9))
    mx0 = torch.sqrt(1 - mz0**2)
    layer = torch.stack([mx0, torch.zeros_like(mz0), mz0])
    s0 = torch.stack([layer, layer])[None]
    c = spins.Couplings(
        J=torch.tensor([J], dtype=F64), D=torch.tensor([0.0], dtype=F64), K=K,
        jperp=torch.zeros(1, rows, cols, dtype=F64),
    )
    result = spins.relax(s0, c, spins.RelaxSettings(tol_meV=1e-6, max_steps=20000))
    assert bool(result.converged.all())
    mz = result.spins[0, 0, 2].numpy()
    inside = np.abs(mz) < 0.9
    slope, _ = np.polyfit(y[inside], np.arctanh(mz[inside]), 1)
    expected = d * math.sqrt(3 * J / (8 * K))
    assert 1 / abs(slope) == pytest.approx(expected, rel=0.05)


def test_time_reversal_symmetry(relaxed_batch):
    s0, c, result = relaxed_batch
    flipped = spins.relax(-s0, c, tight_as(result))
    assert torch.equal(flipped.spins, -result.spins)
    assert torch.equal(flipped.energy, result.energy)


def test_dmi_sign_is_an_in_plane_spin_rotation(relaxed_batch):
    # E(S; D) = E(C2z S; -D): relaxing the C2z-rotated start with -D gives the rotated texture.
    s0, c, result = relaxed_batch
    c2z = torch.tensor([-1.0, -1.0, 1.0], dtype=F64).view(1, 1, 3, 1, 1)
    mirrored = spins.Couplings(J=c.J, D=-c.D, K=c.K, jperp=c.jperp)
    rotated = spins.relax(s0 * c2z, mirrored, tight_as(result))
    assert torch.equal(rotated.spins, result.spins * c2z)


def test_layer_exchange_symmetry(relaxed_batch):
    # Swapping the layers reorders the energy sums, so the accept/reject decisions may
    # differ in the last bit: equal up to the relaxation tolerance, not bit for bit. L-BFGS
    # carries such a difference along its history, and the two runs stop at different
    # points of the same soft valley (walls move for a torque of 1e-4 meV). Where they stop
    # depends on the CPU's float path: L-BFGS's largest spin difference was within 1e-2 on
    # the Intel VM and 1.4e-2 (6 of 18,432 components) on an AMD EPYC, its mean 1.7e-4.
    # A broken symmetry moves whole domains: differences of order 1 over many sites.
    s0, c, result = relaxed_batch
    swapped = spins.relax(s0.flip(1), c, tight_as(result))
    difference = (swapped.spins - result.spins.flip(1)).abs()
    assert difference.max() < 3e-2 and difference.mean() < 1e-3, (difference.max(), difference.mean())
    torch.testing.assert_close(swapped.energy, result.energy, atol=1e-6, rtol=1e-8)


def test_interlayer_fit_reproduces_the_table_with_c3_symmetry():
    fit = fit_interlayer(RIGID, shells=3)
    table = read_table(RIGID)
    diag, edge = table_shifts(len(table), A)
    residual = np.concatenate([fit.at_shift(diag) + table[:, 0] / 9, fit.at_shift(edge) + table[:, 1] / 9])
    assert np.sqrt(np.mean(residual**2)) == pytest.approx(fit.rms_residual_meV)
    assert fit.rms_residual_meV < 0.1  # meV; the data span -1.3 ... 1.3 meV
    rng = np.random.default_rng(1)
    shifts = rng.uniform(-20, 20, size=(50, 2))
    c3 = np.array([[-0.5, -math.sqrt(3) / 2], [math.sqrt(3) / 2, -0.5]])
    a1, a2 = lattice_vectors(A)
    np.testing.assert_allclose(fit.at_shift(shifts @ c3.T), fit.at_shift(shifts), atol=1e-12)
    np.testing.assert_allclose(fit.at_shift(shifts + a1), fit.at_shift(shifts), atol=1e-12)
    np.testing.assert_allclose(fit.at_shift(shifts + a2), fit.at_shift(shifts), atol=1e-12)
    assert fit.at_shift(np.zeros(2)) > 1.0  # unshifted stacking: strongly ferromagnetic
    assert fit.at_shift(edge).min() < -0.5  # monoclinic-like shifts: antiferromagnetic


def test_three_shells_give_seven_coefficients():
    assert [len(o) for o in harmonic_orbits(A, 3)] == [3, 3, 3]
    assert len(fit_interlayer(RIGID, shells=3).coefficients) == 7


def test_bad_lattice_is_rejected():
    with pytest.raises(ValueError, match="even rows and cols"):
        spins.Lattice(15, 16, "cpu", F64)
