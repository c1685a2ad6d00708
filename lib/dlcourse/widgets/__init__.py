"""Slider-driven views of training dynamics, one package per notebook.

Every view is a :class:`~dlcourse.widgets.core.View`: a matplotlib figure
(made without pyplot) whose artists follow its sliders. Each notebook's
package (``regression``, ``backprop``, ``optimizers``, ``initialization``)
holds ``compute.py``, the plain NumPy functions its views use and tests
call without a browser, and ``views.py``, the views, which only draw. In a
notebook::

    from dlcourse.widgets import show
    from dlcourse.widgets.regression import GradientDescentView
    show(GradientDescentView(X, y, gradient_descent=gradient_descent))

A view runs the student's functions, with the reference standing in while
they are stubs and "implement `name` first" where neither can run
(:mod:`dlcourse.widgets.fallback`). :data:`ALL_VIEWS`
(:mod:`dlcourse.widgets.catalog`) lists every view of the course built on its
notebook's data; the slider benchmark (benchmarks/bench_sliders.py) times
each of them.
"""

from __future__ import annotations

from dlcourse.widgets.catalog import ViewEntry, all_views
from dlcourse.widgets.core import FunctionMissing, Slider, View, WithFallback, show

__all__ = [
    "ALL_VIEWS", "FunctionMissing", "Slider", "View", "ViewEntry", "WithFallback", "all_views", "show"]


def __getattr__(name: str) -> object:
    # ALL_VIEWS is assembled on first use (each notebook's package declares its views; see catalog.all_views).
    if name == "ALL_VIEWS":
        return all_views()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
