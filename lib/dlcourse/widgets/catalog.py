"""Every slider view of the course, built on the very data its notebook shows it with.

:data:`ALL_VIEWS` is what the slider benchmark (benchmarks/bench_sliders.py)
times and what the tests drive, so each builder below repeats its notebook's
own data cells: the same data set, sizes, seed and hyper-parameters, without
the student's functions (the reference stands in for them). A test
(tests/lib/widgets/test_catalog.py) replays the notebook's lines and checks
that the view built there equals the one built here, and that every
``show(...)`` of a notebook has its entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from dlcourse import data
from dlcourse.widgets.core import View

__all__ = ["ALL_VIEWS", "ViewEntry", "all_views"]  # noqa: F822 (ALL_VIEWS comes from __getattr__)


class ViewEntry(NamedTuple):
    """One view of the course: its notebook, its class name, and how to build it on that notebook's data."""

    notebook: str
    name: str
    build: Callable[[], View]


# Builders import their views when called: the views import dlcourse.widgets, which imports this catalogue.

# -- notebook 01_regression -------------------------------------------------------------------

def gradient_descent_view() -> View:
    """01: the line of the notebook's first data cell, 40 points with noise 0.4, as [1, x] and y."""
    from dlcourse.widgets.regression import GradientDescentView

    x, y = data.make_regression_1d(n=40, noise=0.4, seed=0, kind="linear")
    return GradientDescentView(data.add_bias_column(x[:, None]), y)


def polynomial_degree_view() -> View:
    """01: the noisy sine of 60 points, split 70/30 by the data cell's own generator (seed 2).

    Nothing drawn before the data cell changes the split: the notebook's test cells use generators of their own.
    """
    from dlcourse.widgets.regression import PolynomialDegreeView

    x_curve, y_curve = data.make_regression_1d(n=60, noise=0.25, seed=1, kind="sine")
    split_rng = np.random.default_rng(2)
    return PolynomialDegreeView(*data.train_val_split(x_curve, y_curve, val_fraction=0.3, rng=split_rng))


# -- notebook 02_backprop -------------------------------------------------------------------

def two_layer_training_view() -> View:
    """02: the two moons, 200 points with noise 0.15."""
    from dlcourse.widgets.backprop import TwoLayerTrainingView

    return TwoLayerTrainingView(*data.make_classification_2d(n=200, kind="moons", noise=0.15, seed=0))


def gradient_flow_view() -> View:
    """02: the first 256 training digits (split of seed 0)."""
    from dlcourse.widgets.backprop import GradientFlowView

    digits = data.load_digits(seed=0)
    return GradientFlowView(digits.X_train[:256], digits.y_train[:256])


# -- notebook 03_optimizers -----------------------------------------------------------------

def optimizer_paths_view() -> View:
    """03: the optimizer race on the notebook's three surfaces."""
    from dlcourse.widgets.optimizers import OptimizerPathsView

    return OptimizerPathsView()


def batch_noise_view() -> View:
    """03: mini-batch SGD on the whole training split of the digits (seed 0)."""
    from dlcourse.widgets.optimizers import BatchNoiseView

    digits = data.load_digits(seed=0)
    return BatchNoiseView(digits.X_train, digits.y_train)


# -- notebook 04_initialization -------------------------------------------------------------

def initial_loss_view() -> View:
    """04: the MLP on the digits' training and validation splits (seed 0)."""
    from dlcourse.widgets.initialization import InitialLossView

    digits = data.load_digits(seed=0)
    return InitialLossView(digits.X_train, digits.y_train, digits.X_val, digits.y_val)


def activation_stats_view() -> View:
    """04: the deep-stack experiment on unit Gaussian input."""
    from dlcourse.widgets.initialization import ActivationStatsView

    return ActivationStatsView()


# Notebooks 01-04, in teaching order. A later notebook's package declares its own entries as ``VIEWS`` in
# ``dlcourse/widgets/<topic>/__init__.py``; all_views() finds them, so adding a notebook edits nothing here.
_LISTED: list[ViewEntry] = [
    ViewEntry("01_regression", "GradientDescentView", gradient_descent_view),
    ViewEntry("01_regression", "PolynomialDegreeView", polynomial_degree_view),
    ViewEntry("02_backprop", "TwoLayerTrainingView", two_layer_training_view),
    ViewEntry("02_backprop", "GradientFlowView", gradient_flow_view),
    ViewEntry("03_optimizers", "OptimizerPathsView", optimizer_paths_view),
    ViewEntry("03_optimizers", "BatchNoiseView", batch_noise_view),
    ViewEntry("04_initialization", "InitialLossView", initial_loss_view),
    ViewEntry("04_initialization", "ActivationStatsView", activation_stats_view),
]


def all_views() -> list[ViewEntry]:
    """Every view of the course in notebook order: the entries above, then each topic package's ``VIEWS``."""
    import dlcourse.widgets as package

    entries = list(_LISTED)
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            declared = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "VIEWS", [])
            entries += [ViewEntry(*entry) for entry in declared]
    return sorted(entries, key=lambda e: e.notebook)  # stable: a notebook's views keep their order


def __getattr__(name: str) -> object:
    # ALL_VIEWS is assembled on first use: the topic packages import dlcourse.widgets, which imports this module.
    if name == "ALL_VIEWS":
        return all_views()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
