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

import numpy as np

from dlcourse.widgets.core import SliderSpec, View, WithFallback, show
from dlcourse.widgets.regression import GradientDescentView, PolynomialDegreeView

__all__ = ["ALL_VIEWS", "SliderSpec", "View", "ViewEntry", "WithFallback", "show"]


class ViewEntry(NamedTuple):
    """One view of the course: its notebook, a name, and how to build it on that notebook's data."""

    notebook: str
    name: str
    build: Callable[[], View]


# -- notebook 01_regression: its data sets come from dlcourse.data ---------------------

def gradient_descent_demo(seed: int = 0) -> GradientDescentView:
    """The gradient-descent view on notebook 01's line, y = 2x + 1 + noise."""
    from dlcourse.data import make_regression_1d

    x, y = make_regression_1d(n=50, noise=0.3, seed=seed, kind="linear")
    return GradientDescentView(np.column_stack([np.ones_like(x), x]), y)


def polynomial_demo(seed: int = 0) -> PolynomialDegreeView:
    """The degree view on notebook 01's noisy sine (Bishop's example), split in halves."""
    from dlcourse.data import make_regression_1d

    x, y = make_regression_1d(n=40, noise=0.2, seed=seed, kind="sine")
    return PolynomialDegreeView(x[:20], y[:20], x[20:], y[20:])


# -- notebook 02_backprop --------------------------------------------------------------

def gradient_flow_demo(seed: int = 0) -> View:
    """Notebook 02's deep-network gradient view on 256 training digits, with the reference layers."""
    from dlcourse.data import load_digits
    from dlcourse.widgets.backprop import GradientFlowView

    digits = load_digits(seed=seed)
    return GradientFlowView(digits.X_train[:256], digits.y_train[:256], seed=seed)


def two_layer_training_demo(seed: int = 0) -> View:
    """Notebook 02's two-layer network on its two moons (200 points), with the reference loss."""
    from dlcourse.data import make_classification_2d
    from dlcourse.widgets.backprop import TwoLayerTrainingView

    X, y = make_classification_2d(n=200, kind="moons", noise=0.15, seed=seed)
    return TwoLayerTrainingView(X, y, seed=seed)


# -- notebook 03_optimizers ------------------------------------------------------------

def optimizer_paths_demo() -> View:
    """The optimizer race of notebook 03 on its three 2-D surfaces, with the reference rules."""
    from dlcourse.widgets.optimizers import OptimizerPathsView

    return OptimizerPathsView()


def batch_noise_demo(seed: int = 0) -> View:
    """Mini-batch SGD on notebook 03's digits training split (softmax regression)."""
    from dlcourse.data import load_digits
    from dlcourse.widgets.optimizers import BatchNoiseView

    digits = load_digits(seed=seed)
    return BatchNoiseView(digits.X_train, digits.y_train, seed=seed)


# -- notebook 04_initialization ------------------------------------------------------------

def activation_stats_demo() -> View:
    """The deep-stack experiment of notebook 04 (unit Gaussian input), with the reference functions."""
    from dlcourse.widgets.initialization import ActivationStatsView

    return ActivationStatsView()


def initial_loss_demo(seed: int = 0) -> View:
    """Notebook 04's MLP on the digits: initial loss and first epochs against the weight scale."""
    from dlcourse.data import load_digits
    from dlcourse.widgets.initialization import InitialLossView

    digits = load_digits(seed=seed)
    return InitialLossView(digits.X_train, digits.y_train, digits.X_val, digits.y_val, seed=seed)


# In teaching order; add each new notebook's views here so the benchmark covers them.
ALL_VIEWS: list[ViewEntry] = [
    ViewEntry("01_regression", "GradientDescentView", gradient_descent_demo),
    ViewEntry("01_regression", "PolynomialDegreeView", polynomial_demo),
    ViewEntry("02_backprop", "TwoLayerTrainingView", two_layer_training_demo),
    ViewEntry("02_backprop", "GradientFlowView", gradient_flow_demo),
    ViewEntry("03_optimizers", "OptimizerPathsView", optimizer_paths_demo),
    ViewEntry("03_optimizers", "BatchNoiseView", batch_noise_demo),
    ViewEntry("04_initialization", "ActivationStatsView", activation_stats_demo),
    ViewEntry("04_initialization", "InitialLossView", initial_loss_demo),
]
