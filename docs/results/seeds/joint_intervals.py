"""Do the joint law's intervals hold across seeds, and do two remedies help? (docs/results.md,
"Why the joint law's b does not hold".) Analysis only, on the runs tables of the default
study run with seeds 2025, 2026 and 2027 (velocity projection, 2026-12-05; this folder):

    .venv/bin/python docs/results/seeds/joint_intervals.py [resamples, default 400]

For each run and target it fits the width sweep's joint law and three 95 % intervals of
(a, b): the cell bootstrap in use (regscale.joint.bootstrap_laws), the same with every
resample refitted from all grid starts as well, and a residual bootstrap in which the
residuals of each N_D column move together; then it prints how often each run's estimate
falls inside each other run's interval.
"""

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from regscale import config as study_config
from regscale import joint

HERE = Path(__file__).parent
RUNS = {seed: HERE / f"runs_seed{seed}.csv" for seed in (2025, 2026, 2027)}


def best_of_starts(theta, n_m, n_d, log_loss, n_boot, rng):
    """Cell bootstrap, each resample refitted from ``theta`` and every grid start."""
    counts = rng.multinomial(len(log_loss), np.full(len(log_loss), 1 / len(log_loss)), size=n_boot)
    losses = np.broadcast_to(log_loss, counts.shape)
    best, best_cost = None, None
    for start in [theta, *joint._starts(np.log(n_m), np.log(n_d), log_loss)]:
        fitted, _ = joint.refit_many(start, n_m, n_d, losses, counts)
        cost = joint._state(fitted, np.log(n_m), np.log(n_d), losses, counts)[3]
        if best is None:
            best, best_cost = fitted, cost
        else:
            better = cost < best_cost
            best[better], best_cost[better] = fitted[better], cost[better]
    return best[:, [2, 4]]


def column_effects(theta, n_m, n_d, log_loss, n_boot, rng):
    """Residual bootstrap: each residual = its N_D column's mean + the rest; both parts
    resampled with replacement, inflated for the degrees of freedom the law takes."""
    fitted = logsumexp(joint._terms(theta, np.log(n_m), np.log(n_d)), axis=0)
    residual = log_loss - fitted
    columns = np.unique(n_d)
    column = np.searchsorted(columns, n_d)
    effect = np.array([residual[column == j].mean() for j in range(len(columns))])
    rest = residual - effect[column]
    effect *= np.sqrt(len(columns) / max(len(columns) - 2, 1))
    rest *= np.sqrt(len(residual) / (len(residual) - 5))
    draws = fitted + rng.choice(effect, (n_boot, len(columns)))[:, column] + rng.choice(rest, (n_boot, len(residual)))
    return joint.refit(theta, n_m, n_d, draws)[:, [2, 4]]


def main(n_boot: int) -> None:
    config = study_config.load(HERE.parents[2] / "config.yaml")
    train = {key: config["train"][key] for key in ("targets", "n_d", "seeds", "schedule", "joint")}
    methods = {
        "cell bootstrap (in use)": lambda *args: joint.bootstrap_laws(*args)[:, [2, 4]],
        "cell bootstrap, best of all starts": best_of_starts,
        "residual bootstrap with N_D column effects": column_effects,
    }
    rows = []
    for seed, path in RUNS.items():
        runs = pd.read_csv(path)
        for series, cells in joint.law_series(runs, config["experiments"], train, config["analysis"]):
            if series["experiment"] != "fcn_width":
                continue
            n_m, n_d = cells["n_m"].to_numpy(float), cells["n_d"].to_numpy(float)
            log_loss = joint.mean_log10(cells) * np.log(10)
            params, theta = joint.fit_law(n_m, n_d, log_loss)
            for method, draw in methods.items():
                boot = draw(theta, n_m, n_d, log_loss, n_boot, np.random.default_rng(seed))
                (a_lo, b_lo), (a_hi, b_hi) = np.quantile(boot, [0.025, 0.975], axis=0)
                rows.append(dict(seed=seed, target=series["target"], method=method, a=params["a"], b=params["b"],
                                 a_lo=a_lo, a_hi=a_hi, b_lo=b_lo, b_hi=b_hi))  # fmt: skip
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    for method, group in table.groupby("method", sort=False):
        inside = {"a": [], "b": []}
        for _, runs_of_target in group.groupby("target"):
            for (_, one), (_, other) in itertools.permutations(runs_of_target.iterrows(), 2):
                for name in inside:
                    inside[name].append(other[f"{name}_lo"] <= one[name] <= other[f"{name}_hi"])
        print(f"{method}: " + ", ".join(f"{name} inside {np.mean(v):.1%} of {len(v)}" for name, v in inside.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
