"""Slider-driven views of training dynamics, one module per notebook.

Every view is a :class:`~dlcourse.widgets.core.View`: a matplotlib figure
(made without pyplot) whose artists follow its sliders, with the computation
in plain functions that tests call without a browser. In a notebook::

    from dlcourse.widgets import show
    from dlcourse.widgets.regression import GradientDescentView
    show(GradientDescentView(X, y, gradient_descent=gradient_descent))

:data:`ALL_VIEWS` lists every view of the course built on its notebook's
data; the slider benchmark (benchmarks/bench_sliders.py) times each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from dlcourse.widgets import regression
from dlcourse.widgets.core import SliderSpec, View, WithFallback, show

__all__ = ["ALL_VIEWS", "SliderSpec", "View", "ViewEntry", "WithFallback", "show"]


class ViewEntry(NamedTuple):
    """One view of the course: its notebook, a name, and how to build it on that notebook's data."""

    notebook: str
    name: str
    build: Callable[[], View]


# In teaching order; add each new notebook's views here so the benchmark covers them.
ALL_VIEWS: list[ViewEntry] = [
    ViewEntry("01_regression", "GradientDescentView", regression.gradient_descent_demo),
    ViewEntry("01_regression", "PolynomialDegreeView", regression.polynomial_demo),
]
