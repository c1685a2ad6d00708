"""The slider views of notebook 06_cnn: :mod:`.compute` computes, :mod:`.views` draws.

``VIEWS`` lists them as catalogue entries (:class:`dlcourse.widgets.catalog.ViewEntry`), each built on exactly
the data, sizes and seed of the notebook's own ``show(...)`` cell, with the reference standing in for the
student's functions.
"""

from __future__ import annotations

from dlcourse.widgets.catalog import ViewEntry
from dlcourse.widgets.cnn.compute import (
    KERNELS,
    Crop,
    feature_maps,
    kernel_label,
    legal_crop,
    mosaic,
    notebook_cnn,
    output_extent,
    stage_layers,
)
from dlcourse.widgets.cnn.views import NOTEBOOK_STAGE_NAMES, NOTEBOOK_STAGES, ConvExplorerView, FeatureMapView
from dlcourse.widgets.core import View

__all__ = [
    "KERNELS", "NOTEBOOK_STAGES", "NOTEBOOK_STAGE_NAMES", "VIEWS", "ConvExplorerView", "Crop", "FeatureMapView",
    "feature_maps", "kernel_label", "legal_crop", "mosaic", "notebook_cnn", "output_extent", "stage_layers",
]


def conv_explorer_view() -> View:
    """06: scikit-learn's "china" photograph in gray, shrunk to about 160 pixels wide."""
    from dlcourse import data

    return ConvExplorerView(data.sample_image("china", gray=True, size=160))


def feature_map_view() -> View:
    """06: the notebook's trained CNN (:func:`notebook_cnn`, the view's default) on the test digits of the split
    of seed 0, shown as (N, 1, 8, 8)."""
    from dlcourse import data

    digits = data.load_digits(seed=0, flatten=False)
    return FeatureMapView(digits.X_test, digits.y_test)


VIEWS: list[ViewEntry] = [
    ViewEntry("06_cnn", "ConvExplorerView", conv_explorer_view),
    ViewEntry("06_cnn", "FeatureMapView", feature_map_view),
]
