"""Which test samples make the bend at the top? (docs/results.md, "The forecast of the two
largest N_D".) An exploration on a study's per-sample test errors, not part of the
pipeline. It needs a study that was run here, since test_errors.npz is not published:

    .venv/bin/python docs/results/hard_samples.py results/wide-draws [more studies ...]

For the FCN width sweep (depth 3, plateau schedule) of each study and target:

1. **The hardest samples.** Over the two widest nets, the HARDEST test samples with the
   largest mean squared error at the largest N_D; their labels, and their share of the
   test MSE at every N_D, beside the slope of the rest.
2. **A mixture forecast.** The test set cut into REGIONS**3 label regions (REGIONS
   quantiles of each label); per width and region, the geometric mean over the cell's
   runs of the region's MSE is fitted by a line in log10 N_D through all but the two
   largest N_D, extrapolated, and the regions summed by their share of the samples. If
   the loss is a mixture of parts that each follow their own power law, the sum bends
   where one straight line cannot. Its 95 % interval redraws the test samples and each
   cell's runs (N_BOOT times) and adds one cell's scatter about the mixture. Printed
   beside the one line through the cells (forecast.csv's line); errors are prediction
   minus observation, in dex.
3. **A joint mixture.** The same regions, each with an interaction law fitted over all
   widths at once (log10 L = c0 + c1 x + c2 m + c3 x m, x = log10 N_D, m = log10 N_M, as
   forecast_laws.py), summed: a law in N_D and N_M, beside one interaction law for the
   whole test set. Point errors only.
"""

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from forecast_laws import interaction_design, interaction_errors  # docs/results/, beside this script

HARDEST = 20
REGIONS = 3
HELD_OUT = 2
N_BOOT = 400
RUN = re.compile(r"arch~fcn/width~(\d+)/depth~3/schedule~plateau/target~(\w+)/nd~(\d+)/")


def load(study: Path):
    errors = np.load(study / "results/tables/test_errors.npz", allow_pickle=False)
    test = pd.read_csv(study / "resources/shards/test/shard~00000.csv")
    runs = [RUN.search(run) for run in errors["run"]]
    index = pd.DataFrame(
        [(int(m[1]), m[2], int(m[3])) if m else (0, "", 0) for m in runs], columns=["width", "target", "n_d"]
    )
    return errors["errors"], index[index.width > 0], test


def hardest(study, errors, index, test, target):
    cells = index[index.target == target]
    widest = sorted(cells.width.unique())[-2:]
    n_ds = sorted(cells.n_d.unique())
    mean_error = {n: errors[cells.index[(cells.n_d == n) & cells.width.isin(widest)]].mean(0) for n in n_ds}
    order = np.argsort(-mean_error[n_ds[-1]])[:HARDEST]
    print(f"\n{study} {target}: the {HARDEST} hardest of {len(test)} test samples at N_D = {n_ds[-1]} (widths {widest})")
    print(test.iloc[order[:8]][["theta", "J", "D", "steps"]].round(3).to_string())
    for n in n_ds:
        share = mean_error[n][order].sum() / mean_error[n].sum()
        rest = np.log10(np.delete(mean_error[n], order).mean())
        print(f"  N_D {n:6d}: log10 MSE {np.log10(mean_error[n].mean()):+.3f}, hardest share {share:.2f}, rest {rest:+.3f}")
    correlations = test[["theta", "J", "D"]].corrwith(pd.Series(np.log(mean_error[n_ds[-1]])), method="spearman")
    print("  Spearman correlation of log error with the labels:", correlations.round(2).to_dict())


def label_regions(test: pd.DataFrame) -> np.ndarray:
    """Each test sample's region: REGIONS quantile bins of each label, combined."""
    regions = np.zeros(len(test), int)
    for name in ("theta", "J", "D"):
        edges = np.quantile(test[name], np.linspace(0, 1, REGIONS + 1)[1:-1])
        regions = regions * REGIONS + np.searchsorted(edges, test[name])
    return regions


def region_matrix(regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(samples, occupied regions) indicator matrix and each region's sample count."""
    onehot = np.eye(regions.max() + 1)[regions]
    occupied = onehot.sum(0) > 0  # a redrawn test set may leave a region empty
    return onehot[:, occupied], onehot[:, occupied].sum(0)


def region_log_geomeans(run_errors: np.ndarray, onehot: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per region, log10 of the geometric mean over runs of the region's MSE."""
    return np.log10(run_errors @ onehot / counts).mean(0)


def mixture(cell_errors: dict, regions: np.ndarray, kept, new) -> tuple[np.ndarray, np.ndarray]:
    """log10 of the mixture's forecast at ``new`` and its fitted values at ``kept``.

    ``cell_errors``: N_D -> (runs, samples) squared errors. Per region, the geometric
    mean over runs of the region's MSE, one line in log10 N_D through ``kept``."""
    onehot, counts = region_matrix(regions)
    share = counts / counts.sum()
    logs = np.array([region_log_geomeans(cell_errors[n], onehot, counts) for n in kept])
    slope, intercept = np.polyfit(np.log10(kept), logs, 1)

    def total(n_d):
        return np.log10((share * 10 ** (intercept + slope * np.log10(np.asarray(n_d, float))[:, None])).sum(1))

    return total(new), total(kept)


def mixture_forecast(errors, index, test, target, n_boot=N_BOOT, seed=0) -> pd.DataFrame:
    """Per width, the mixture's forecast of the HELD_OUT largest N_D with a 95 % interval:
    the test samples and each cell's runs redrawn, plus one cell's scatter about the
    mixture (a residual at the kept N_D, inflated for the two fitted numbers per line)."""
    rng = np.random.default_rng(seed)
    regions = label_regions(test)
    rows = []
    for width, cells in index[index.target == target].groupby("width"):
        n_ds = np.sort(cells.n_d.unique())
        kept, new = n_ds[:-HELD_OUT], n_ds[-HELD_OUT:]
        cell_errors = {n: errors[cells.index[cells.n_d == n]] for n in n_ds}
        observed = np.array([np.log10(cell_errors[n].mean(1)).mean() for n in n_ds])
        forecast, fitted = mixture(cell_errors, regions, kept, new)
        residual = (observed[: len(kept)] - fitted) * np.sqrt(len(kept) / (len(kept) - 2))
        draws = np.empty((n_boot, len(new)))
        for b in range(n_boot):
            samples = rng.integers(0, len(regions), len(regions))
            redrawn = {n: e[rng.integers(0, len(e), len(e))][:, samples] for n, e in cell_errors.items()}
            draws[b] = mixture(redrawn, regions[samples], kept, new)[0] + rng.choice(residual, len(new))
        low, high = np.quantile(draws, [0.025, 0.975], axis=0)
        line = np.polyfit(np.log10(kept), observed[: len(kept)], 1)
        for k, n in enumerate(new):
            seen = observed[len(kept) + k]
            rows.append(
                {"width": width, "n_d": n, "observed": seen, "mixture_error": forecast[k] - seen,
                 "mixture_width": high[k] - low[k], "mixture_inside": low[k] <= seen <= high[k], "line_error": np.polyval(line, np.log10(n)) - seen}
            )  # fmt: skip
    return pd.DataFrame(rows)


def joint_mixture_errors(study: Path, errors, index, test, target) -> tuple[np.ndarray, np.ndarray]:
    """Errors (dex) of the summed per-region interaction laws and of one interaction law,
    at the HELD_OUT largest N_D of every width."""
    cells = pd.read_csv(study / "results/tables/cells.csv")
    cells = cells[(cells.arch == "fcn") & (cells.depth == 3) & (cells.target == target)]
    n_m = cells.groupby("width").n_m.first()
    onehot, counts = region_matrix(label_regions(test))
    rows, region_logs = [], []
    for (width, n_d), cell in index[index.target == target].groupby(["width", "n_d"]):
        run_errors = errors[cell.index]
        rows.append({"n_d": n_d, "n_m": n_m[width], "geomean": 10 ** np.log10(run_errors.mean(1)).mean()})
        region_logs.append(region_log_geomeans(run_errors, onehot, counts))
    frame, region_logs = pd.DataFrame(rows), np.array(region_logs)
    kept = (frame.n_d < np.sort(frame.n_d.unique())[-HELD_OUT]).to_numpy()
    regional, *_ = np.linalg.lstsq(interaction_design(frame[kept]), region_logs[kept], rcond=None)
    mixture_log = np.log10((counts / counts.sum() * 10 ** (interaction_design(frame[~kept]) @ regional)).sum(1))
    observed = np.log10(frame.geomean[~kept].to_numpy())
    return mixture_log - observed, interaction_errors(frame[kept], frame[~kept])


def main():
    for study in map(Path, sys.argv[1:] or ["results/wide-draws"]):
        errors, index, test = load(study)
        for target in sorted(index.target.unique()):
            hardest(study, errors, index, test, target)
            forecast = mixture_forecast(errors, index, test, target)
            print(forecast.round(3).to_string(index=False))
            joint_errors, one_law_errors = joint_mixture_errors(study, errors, index, test, target)
            print(
                f"  joint mixture: median |error| {np.median(np.abs(joint_errors)):.3f} dex, mean "
                f"{joint_errors.mean():+.3f}; one interaction law: {np.median(np.abs(one_law_errors)):.3f}, "
                f"{one_law_errors.mean():+.3f}"
            )
            print(
                f"  mixture: median |error| {forecast.mixture_error.abs().median():.3f} dex, mean "
                f"{forecast.mixture_error.mean():+.3f}, {forecast.mixture_inside.sum()} of {len(forecast)} inside "
                f"its 95 % interval; one line: {forecast.line_error.abs().median():.3f}, "
                f"{forecast.line_error.mean():+.3f}"
            )


if __name__ == "__main__":
    main()
