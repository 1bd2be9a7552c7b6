"""The figures draw what they claim: panels per target, log-log axes, fitted lines and
exponents with intervals in the legends; and the workflow asks only for figures whose
experiments the config has."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_stats import CONFIG, EXPERIMENTS, TRAIN, synthetic_runs  # noqa: E402

from regscale import fits, joint, stats  # noqa: E402
from regscale.figures import common, realizations, registry, samples, scaling  # noqa: E402
from regscale.figures.samples import pick_samples  # noqa: E402

PLOTS = {"dpi": 50, "context": "paper", "interval": "regression"}
ANALYSIS = {"fit_nd": [None, None], "fit_nm": [None, None], "bootstrap": 50, "confidence": 0.95}


@pytest.fixture(scope="module")
def tables():
    runs = synthetic_runs(noise=0.3, seed=2)
    exponents, trend = fits.fit_all(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=1)
    yield {
        "runs": runs,
        "cells": stats.cell_statistics(runs),
        "subsets": stats.geomean_subsets(runs, 5, 1),
        "exponents": exponents,
        "trend": trend,
        "laws": joint.joint_laws(runs, EXPERIMENTS, TRAIN, ANALYSIS, seed=1),
    }
    plt.close("all")


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [text.get_text() for text in legend.get_texts()] if legend else []


def test_fig1_compares_architectures_per_target(tables):
    fig = scaling.architectures(tables["cells"], tables["exponents"], EXPERIMENTS, TRAIN, PLOTS)
    axes = fig.axes
    assert len(axes) == 3 and all(ax.get_xscale() == ax.get_yscale() == "log" for ax in axes)
    labels = legend_texts(axes[1])
    assert [label.split(":")[0] for label in labels] == ["FCN $n_n$=4", "FCN $n_n$=64", "ResNet-18", "ViT"]
    assert all(r"$\alpha_D$ = " in label and "[" in label for label in labels)
    dashed = [line for line in axes[1].get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 4


def test_fig4_has_width_panels_and_a_depth_panel(tables):
    fig = scaling.sweeps(tables["cells"], tables["exponents"], EXPERIMENTS, TRAIN, PLOTS)
    assert len(fig.axes) == 4
    assert "depth sweep" in fig.axes[3].get_title(loc="left")
    assert len(legend_texts(fig.axes[0])) == 5 and legend_texts(fig.axes[3])[0].startswith("$n_l$=1: ")


def test_fig5_marks_the_left_out_model_and_the_trend(tables):
    fig = scaling.exponents_vs_size(tables["exponents"], tables["trend"], EXPERIMENTS, TRAIN, PLOTS)
    labels = legend_texts(fig.axes[0])
    assert any("$a_D$ = " in label and "$b_D$ = " in label for label in labels)
    assert any("left out" in label for label in labels) and "ResNet-18" in labels and "ViT" in labels
    assert fig.axes[0].get_xscale() == "log"


def test_figures_without_fits_still_draw(tables):
    # Too few sizes or N_D for a fit: points without lines, "(no fit)" in the legend.
    fig = scaling.exponents_vs_size(tables["exponents"], tables["trend"].iloc[:0], EXPERIMENTS, TRAIN, PLOTS)
    assert not any("$a_D$" in label for label in legend_texts(fig.axes[0]))
    data_only = tables["exponents"][tables["exponents"]["axis"] == "data"]
    fig = scaling.model_size(tables["cells"], data_only, EXPERIMENTS, TRAIN, PLOTS)
    assert all(label.endswith("(no fit)") for label in legend_texts(fig.axes[0]))


def test_fig6_gives_alpha_m_per_nd(tables):
    fig = scaling.model_size(tables["cells"], tables["exponents"], EXPERIMENTS, TRAIN, PLOTS)
    labels = legend_texts(fig.axes[0])
    assert len(labels) == len(TRAIN["n_d"]) and all(r"$\alpha_M$ = " in label for label in labels)


def test_fig3_shows_first_20_and_all_realizations(tables):
    fig = realizations.statistics(tables["runs"], tables["subsets"], EXPERIMENTS, TRAIN, PLOTS)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    # 4 cells x (first 20, all 25) histograms, then the convergence panel.
    assert len(fig.axes) == 9
    assert sum("$N_r$=20" in t for t in titles) == 4 and sum("$N_r$=25" in t for t in titles) == 4
    assert fig.axes[-1].get_yscale() == "log"


def test_fig7_with_training_curves(tables):
    epochs = np.arange(1, 11)
    histories = {
        name: pd.DataFrame({"epoch": epochs, "lr": 1e-3 / epochs, "val_loss": 1 / epochs})
        for name in ("constant", "plateau")
    }
    fig = scaling.schedules(tables["cells"], tables["exponents"], histories, EXPERIMENTS, TRAIN, PLOTS, "(J)")
    assert len(fig.axes) == 3
    assert [label.split(":")[0] for label in legend_texts(fig.axes[0])] == ["constant", "plateau", "onecycle"]
    assert fig.axes[1].get_ylabel() == "learning rate"


def test_fig2_picks_samples_across_theta():
    rng = np.random.default_rng(0)
    images = rng.choice([-1.0, 1.0], size=(10, 2, 8, 8)).astype(np.float16)
    table = pd.DataFrame({"theta": rng.uniform(4, 8, 10), "J": 2.0, "D": 0.2})
    picked = pick_samples(table, 4)
    thetas = table.theta.to_numpy()[picked]
    assert thetas[0] == thetas.min() and thetas[-1] == thetas.max() and np.all(np.diff(thetas) > 0)
    fig = samples.dataset(images, table, PLOTS)
    assert sum(1 for ax in fig.axes if ax.images) == 8  # 4 samples x 2 layers
    with pytest.raises(ValueError, match="expected"):
        samples.dataset(images[:, :1], table, PLOTS)


def test_missing_experiments_are_named(tables):
    without = {name: spec for name, spec in EXPERIMENTS.items() if name != "schedules"}
    with pytest.raises(ValueError, match="schedules"):
        scaling.schedules(tables["cells"], tables["exponents"], {}, without, TRAIN, PLOTS)
    with pytest.raises(ValueError, match="fcn_width"):
        scaling.sweeps(tables["cells"].iloc[:0], tables["exponents"], EXPERIMENTS, TRAIN, PLOTS)


def test_fig8_draws_each_width_against_its_joint_law(tables):
    laws = tables["laws"]
    fig = scaling.joint_law(tables["cells"], laws, EXPERIMENTS, TRAIN, PLOTS)
    assert len(fig.axes) == 3 and all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    # One curve per width, and its points: five widths of the sweep.
    assert len(legend_texts(fig.axes[0])) == 5 and len(fig.axes[0].get_lines()) >= 5
    law = laws[laws.target == "theta"].iloc[0]
    title = fig.axes[0].get_title(loc="left")
    assert f"$a$ = {law.a:.2f} [" in title and f"held out $N_D$={law.held_out_n_d}" in title
    curve = fig.axes[0].get_lines()[-1]
    n_d, loss = curve.get_data()
    widest = tables["cells"][tables["cells"].size_label == "width~64/depth~3"].n_m.iloc[0]
    assert np.allclose(loss, joint.predict(law, widest, n_d))
    without_j = scaling.joint_law(tables["cells"], laws[laws.target != "J"], EXPERIMENTS, TRAIN, PLOTS)
    assert "no joint law" in without_j.axes[1].get_title(loc="left")


def test_workflow_outputs_follow_the_experiments():
    outputs = registry.outputs(CONFIG)
    assert "results/figures/fig7_schedules.pdf" in outputs and "results/tables/exponents.csv" in outputs
    fewer = {**CONFIG, "experiments": {"fcn_width": EXPERIMENTS["fcn_width"]}}
    names = {path.split("/")[-1].split(".")[0] for path in registry.outputs(fewer) if "figures" in path}
    assert names == {
        "fig1_architectures", "fig2_dataset", "fig4_sweeps", "fig5_exponents", "fig6_model_size", "fig8_joint_law"
    }  # fmt: skip
    histories = registry.schedule_histories(CONFIG)
    assert list(histories) == ["constant", "plateau", "onecycle"]
    assert all("target~J/nd~1024/seeds~0-4" in folder for folder in histories.values())


def test_training_set_sizes_are_labelled_as_integers():
    # "2 x 10^2" beside "10^3" ran into each other in narrow panels (Fig. 7a).
    fig, ax = plt.subplots(figsize=(1.6, 1.6))
    ax.set(xscale="log", yscale="log", xlim=(100, 3000), ylim=(1e-4, 1e-1))
    common.tidy_log_ticks(ax)
    fig.canvas.draw()

    def shown(axis, minor):
        low, high = sorted(axis.get_view_interval())
        locations = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
        labels = [label.get_text() for label in axis.get_ticklabels(minor=minor)]
        return [text for where, text in zip(locations, labels) if low <= where <= high and text]

    assert shown(ax.xaxis, False) + shown(ax.xaxis, True) == ["100", "1000", "200", "500", "2000"]
    # Losses keep powers of ten, without minor labels.
    assert len(shown(ax.yaxis, False)) == 4 and not shown(ax.yaxis, True)
    plt.close(fig)
