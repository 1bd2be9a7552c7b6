"""The look every figure shares: page width and the seaborn theme.

Kept apart from regscale.figures.common so that Fig. 2 (images of the data set) does
not depend on the study's run layout, and its code version moves only with its own code.
"""

from __future__ import annotations

import seaborn as sns

WIDTH = 7.0  # inches: a two-column figure of a journal page


def style(plots: dict) -> None:
    """The seaborn theme of every figure, at the config's context and resolution."""
    sns.set_theme(
        context=plots["context"],
        style="ticks",
        rc={
            "axes.grid": True,
            "grid.alpha": 0.35,
            "grid.linewidth": 0.5,
            "legend.frameon": False,
            "legend.fontsize": "x-small",
            "legend.title_fontsize": "x-small",
            "figure.dpi": plots["dpi"],
            "savefig.dpi": plots["dpi"],
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,  # editable text in the PDF
        },
    )


def save(figure, output) -> None:
    """A figure as PNG and PDF (``output.png``, ``output.pdf``: a rule's outputs); the PDF
    without a creation date, so the same figure gives the same bytes."""
    figure.savefig(output.png)
    figure.savefig(output.pdf, metadata={"CreationDate": None})
