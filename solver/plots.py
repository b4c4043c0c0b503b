"""Figures for notebooks: a frame of numbers (a heat map's) as an image, shown once.

Nothing heavy is imported until it is needed: pyplot and IPython when a figure is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage


def plot_frame(
    ax: Axes,
    table: pd.DataFrame,
    title: str,
    label: str,
    vmax: float | None = None,
    cmap: str = "Greens",
) -> AxesImage:
    """``table`` (e.g. ``heatmap_frame``'s times of day x dates) as an image on ``ax``,
    with a colour bar named ``label``; colours run from 0 to ``vmax`` (default: the
    largest value), NaN cells stay blank, and about a dozen rows and columns are labelled."""
    image = ax.imshow(
        table.to_numpy(dtype=float),
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=vmax,
        interpolation="nearest",
    )
    rows = max(1, len(table.index) // 12)
    ax.set_yticks(
        range(0, len(table.index), rows), [str(t) for t in table.index[::rows]], fontsize=8
    )
    cols = max(1, len(table.columns) // 14)
    ax.set_xticks(
        range(0, len(table.columns), cols),
        [str(c) for c in table.columns[::cols]],
        rotation=90,
        fontsize=8,
    )
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, label=label)
    return image


def show(fig: Figure) -> None:
    """Show a figure once in a notebook, then close it, whatever matplotlib's backend
    (inline in Jupyter, Agg in CI): it appears as PNG after IPython's
    ``set_matplotlib_formats("png")``."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
