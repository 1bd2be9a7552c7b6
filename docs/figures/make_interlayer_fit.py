"""Regenerate docs/figures/interlayer_fit.png: the fitted interlayer coupling J_perp.

(a) J_perp(r) of a bilayer twisted by theta = 4 deg (the default's smallest angle)
over a little more than one moire cell, with the moire cell and the J_perp = 0 line;
(b) the fit against the first-principles table along its two shift paths.

Run from the repository root:  python docs/figures/make_interlayer_fit.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from regscale.interlayer import SPIN_LENGTH, fit_interlayer, lattice_vectors, read_table, table_shifts
from regscale.lattice import LATTICE_CONSTANT_ANGSTROM as A
from regscale.lattice import moire_period

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "resources" / "cri3_interlayer"
THETA = 4.0


def moire_cell(theta):
    """Corners of the moire cell at the origin: the positions r whose local shift
    delta(r) = (1 - R(-theta)) r is a lattice vector of the stacking cell."""
    c, s = np.cos(np.radians(theta)), np.sin(np.radians(theta))
    shift_of_position = np.eye(2) - np.array([[c, s], [-s, c]])  # 1 - R(-theta)
    a1, a2 = np.linalg.solve(shift_of_position, lattice_vectors(A).T).T
    return np.array([[0, 0], a1, a1 + a2, a2, [0, 0]])


def main():
    fit = fit_interlayer(TABLES / "deltaE_rigid.csv")
    relaxed = fit_interlayer(TABLES / "deltaE_relaxed.csv")
    period = float(moire_period(THETA))
    fig, (ax_map, ax_fit) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})

    cell = moire_cell(THETA)
    centre = cell[:4].mean(axis=0)
    half = 0.9 * period
    x, y = np.meshgrid(centre[0] + np.linspace(-half, half, 401), centre[1] + np.linspace(-half, half, 401))
    jperp = fit.on_sites(THETA, x, y)
    lim = np.abs(jperp).max()
    mesh = ax_map.pcolormesh(x, y, jperp, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
    ax_map.contour(x, y, jperp, levels=[0.0], colors="k", linewidths=0.8)
    ax_map.plot(cell[:, 0], cell[:, 1], "k--", lw=1)
    ax_map.set_aspect("equal")
    ax_map.set_xlabel("x (Å)")
    ax_map.set_ylabel("y (Å)")
    ax_map.set_title(f"(a) fitted $J_\\perp(\\mathbf{{r}})$, θ = {THETA:g}°, L = {period:.0f} Å", fontsize=10)
    fig.colorbar(mesh, ax=ax_map, label="$J_\\perp$ (meV), > 0 ferromagnetic")

    s_fine = np.linspace(0.0, 1.0, 301)
    for name, f, style in (("rigid", fit, dict(ms=5)), ("relaxed", relaxed, dict(ms=4, alpha=0.45))):
        table = read_table(TABLES / f"deltaE_{name}.csv")
        s = np.linspace(0.0, 1.0, len(table))
        for col, colour, path in ((0, "C0", "diagonal s(a1+a2)"), (1, "C3", "edge s a1")):
            data = -table[:, col] / (4 * SPIN_LENGTH**2)
            marker = "o" if name == "rigid" else "s"
            ax_fit.plot(
                s,
                data,
                marker,
                color=colour,
                mfc="none" if name == "relaxed" else colour,
                label=f"{name}, {path}",
                **style,
            )
            shifts = table_shifts(len(s_fine), A)[col]
            ax_fit.plot(
                s_fine,
                f.at_shift(shifts),
                "-" if name == "rigid" else ":",
                color=colour,
                alpha=style.get("alpha", 1.0),
                lw=1.2,
            )
    ax_fit.axhline(0.0, color="k", lw=0.5)
    ax_fit.set_xlabel("shift fraction s")
    ax_fit.set_ylabel("$J_\\perp = -\\Delta E/(4S^2)$ (meV)")
    ax_fit.set_title(
        f"(b) table (markers), 3-shell fits (lines); rms residual\n"
        f"{fit.rms_residual_meV:.3f} meV rigid (solid), {relaxed.rms_residual_meV:.3f} meV relaxed (dotted)",
        fontsize=9,
    )
    ax_fit.set_ylim(-1.9, 1.6)
    ax_fit.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    out = Path(__file__).with_name("interlayer_fit.png")
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
