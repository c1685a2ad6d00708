"""Tests of dlcourse.train.live_plot: one figure updated in place after every epoch, headless."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from torch import nn

from dlcourse import train


def test_live_plot_updates_the_same_figure_headless(digits: tuple[np.ndarray, np.ndarray], mlp, adam) -> None:
    X, y = digits
    plot = train.LivePlot()
    figure = plot.figure
    assert isinstance(figure.canvas, FigureCanvasAgg)
    model = mlp()
    history = train.fit(model, (X[:300], y[:300]), nn.CrossEntropyLoss(), adam(model),
                        epochs=2, val_data=(X[300:], y[300:]), metrics=[train.accuracy],
                        plot=plot)
    lines = dict(plot.lines)
    assert plot.figure is figure and len(figure.axes) == 2  # loss and accuracy
    assert list(lines["val_accuracy"].get_xdata()) == [1, 2]
    history.log_epoch({"epoch": 3, "loss": 0.1, "accuracy": 1.0, "val_loss": 0.2,
                       "val_accuracy": 0.9})
    plot.update(history)
    assert plot.figure is figure and plot.lines == lines  # the same artists, new data
    assert list(lines["loss"].get_ydata())[-1] == 0.1
    assert plot.axes["loss"].get_xlim()[1] >= 3
    figure.canvas.draw()  # renders without a display
