"""The slider views of notebook 05_batchnorm: :mod:`.compute` computes, :mod:`.views` draws.

``VIEWS`` lists them for :data:`dlcourse.widgets.ALL_VIEWS`, each built on exactly the data of the
notebook: the digits split of seed 0, and the small training set of 300 digits with 30 % random labels
that the notebook's regularization sections use (:func:`noisy_subset` with seed 0).
"""

from __future__ import annotations

from dlcourse.widgets.batchnorm.compute import (
    RegularizedRun,
    kaiming_directions,
    noisy_subset,
    preactivation_stds,
    standardize,
    train_curve,
    train_regularized,
)
from dlcourse.widgets.batchnorm.views import BatchNormLRView, RegularizationGapView

__all__ = [
    "VIEWS", "BatchNormLRView", "RegularizationGapView", "RegularizedRun", "kaiming_directions", "noisy_subset",
    "preactivation_stds", "standardize", "train_curve", "train_regularized",
]

NOTEBOOK = "05_batchnorm"
SMALL_SET = {"n": 300, "noise": 0.3, "seed": 0}  # the notebook's small training set with noisy labels


def batchnorm_lr_view() -> BatchNormLRView:
    """05: SGD with and without batch norm on the digits' training split (seed 0)."""
    from dlcourse import data

    digits = data.load_digits(seed=0)
    return BatchNormLRView(digits.X_train, digits.y_train)


def regularization_gap_view() -> RegularizationGapView:
    """05: dropout and weight decay on 300 training digits with 30 % random labels; the clean validation split."""
    from dlcourse import data

    digits = data.load_digits(seed=0)
    X_small, y_noisy = noisy_subset(digits.X_train, digits.y_train, **SMALL_SET)
    return RegularizationGapView(X_small, y_noisy, digits.X_val, digits.y_val)


# (notebook, view name, builder) entries for dlcourse.widgets.catalog.all_views
VIEWS = [
    (NOTEBOOK, "BatchNormLRView", batchnorm_lr_view),
    (NOTEBOOK, "RegularizationGapView", regularization_gap_view),
]
