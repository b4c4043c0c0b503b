"""solver.plots: a frame drawn as an image cell for cell, and a figure shown once."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from solver.plots import plot_frame, show


def test_plot_frame_draws_every_cell_and_labels_the_axes():
    """The image holds the frame's values (NaN masked), from 0 to vmax; about a dozen row
    and column labels, from the frame's index and columns; a colour bar with the label."""
    table = pd.DataFrame(
        [[1.0, np.nan, 3.0]] * 30,
        index=[f"{h:02d}:00" for h in range(30)],
        columns=["Mon", "Tue", "Wed"],
    )
    fig = Figure()
    ax = fig.add_subplot()
    image = plot_frame(ax, table, "title", "members", vmax=4)
    drawn = image.get_array()
    assert drawn.shape == (30, 3) and drawn.mask[:, 1].all()
    assert (drawn[:, [0, 2]] == table.to_numpy()[:, [0, 2]]).all()
    assert image.get_clim() == (0, 4)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.index[::2])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Mon", "Tue", "Wed"]
    assert ax.get_title() == "title"
    assert fig.axes[-1].get_ylabel() == "members"  # the colour bar's


def test_show_displays_the_figure_once_and_closes_it(monkeypatch):
    """show(fig) hands the figure to IPython's display and closes it, so Jupyter's inline
    backend does not show it a second time."""
    import IPython.display
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure()
    show(fig)
    assert shown == [fig] and not plt.fignum_exists(fig.number)
