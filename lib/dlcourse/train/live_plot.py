"""A figure of the training curves that redraws in place after every epoch.

Rebuilding a figure every epoch flickers, leaks figures and gets slower as the
run goes on. Instead the axes and line artists are made once and each update
only moves data into them (``Line2D.set_data``), sets the limits and asks the
canvas to redraw when it can (``draw_idle``).

Where the figure shows: with the ipympl backend (``%matplotlib widget``) the
canvas is a live widget; with the default inline backend a display slot is
updated with a fresh PNG of the same figure; anywhere else (terminal, tests,
the grader) the figure has an Agg canvas, so it never needs a display, and
nothing is shown.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from dlcourse.train.history import History
from dlcourse.train.progress import grading, in_notebook

__all__ = ["LivePlot"]


def _widget_backend() -> bool:
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend in ("widget", "nbagg")


class LivePlot:
    """Training curves (loss, then each metric; training and validation) in one figure.

    ``keys``: which curves, by base name ("loss", "accuracy"); default: the loss
    and every metric in the history. Pass an instance to ``fit(plot=...)`` to
    keep a handle on ``figure``.
    """

    def __init__(self, keys: Sequence[str] | None = None, *, width: float = 4.0) -> None:
        self.keys = list(keys) if keys is not None else None
        self.width = width
        self.figure, self._inline, self._widget = self._make_figure()
        self._slot: Any = None  # the notebook output the inline PNG goes to
        self.axes: dict[str, Axes] = {}
        self.lines: dict[str, Line2D] = {}

    def _make_figure(self) -> tuple[Figure, bool, bool]:
        """The figure, whether to show it as PNGs (inline backend), whether it is a widget."""
        # While grading nothing is shown: figures in a thousand graded notebooks are only bulk.
        shown = in_notebook() and not grading()
        if shown and _widget_backend():
            import matplotlib.pyplot as plt  # the widget canvas is pyplot's
            from IPython.display import display

            with plt.ioff():  # shown once here, not again at the end of the cell
                figure = plt.figure(figsize=(self.width, 3), layout="constrained")
            display(figure.canvas)
            return figure, False, True
        figure = Figure(figsize=(self.width, 3), layout="constrained")
        FigureCanvasAgg(figure)  # attaches itself to the figure: renders without a display
        return figure, shown, False

    def _lay_out(self, history: History) -> None:
        """Once, at the first update: one axes per quantity, a line for train and val."""
        names = self.keys or ["loss"] + [
            k for k in history.epoch
            if k not in ("epoch", "loss", "time", "lr") and not k.startswith("val_")
        ]
        self.figure.set_figwidth(self.width * len(names))
        for i, name in enumerate(names):
            ax = self.figure.add_subplot(1, len(names), i + 1)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 2.5
            ax.set_title(name)
            (self.lines[name],) = ax.plot([], [], "o-", ms=3, label="train")
            (self.lines[f"val_{name}"],) = ax.plot([], [], "o-", ms=3, label="validation")
            ax.legend(loc="best")
            self.axes[name] = ax

    def update(self, history: History) -> None:
        """Show the history's epochs so far."""
        if not self.axes:
            self._lay_out(history)
        epochs = history.epoch.get("epoch", [])
        for key, line in self.lines.items():
            values = history.epoch.get(key, [])
            line.set_data(epochs[: len(values)], values)
        for name, ax in self.axes.items():
            _set_limits(ax, epochs, history.epoch.get(name, []) + history.epoch.get(f"val_{name}", []))
        self.figure.canvas.draw_idle()
        if self._inline:  # inline backend: show a PNG once, then replace it in place
            if self._slot is None:
                from IPython.display import display

                self._slot = display(_png(self.figure), display_id=True)
            else:
                self._slot.update(_png(self.figure))

    def close(self) -> None:
        """Release a pyplot-managed figure (widget backend); a no-op otherwise."""
        if self._widget:
            import matplotlib.pyplot as plt

            plt.close(self.figure)


def _set_limits(ax: Axes, epochs: Sequence[float], values: Sequence[float]) -> None:
    """Limits from the data (autoscale does not follow ``set_data``), with a margin."""
    if epochs:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        low, high = min(finite), max(finite)
        margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
        ax.set_ylim(low - margin, high + margin)


def _png(figure: Figure) -> object:
    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image(data=buffer.getvalue(), format="png")
