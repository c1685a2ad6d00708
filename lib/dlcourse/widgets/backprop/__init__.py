"""The slider views of notebook 02_backprop: :mod:`.compute` computes, :mod:`.views` draws."""

from dlcourse.widgets.backprop.compute import (
    ACTIVATIONS,
    LEAKY_ALPHA,
    LayerFunctions,
    class_probabilities,
    decision_boundary,
    gradient_flow,
    init_two_layer,
    train_two_layer,
    two_layer_scores,
)
from dlcourse.widgets.backprop.views import GradientFlowView, TwoLayerTrainingView

__all__ = [
    "ACTIVATIONS", "LEAKY_ALPHA", "GradientFlowView", "LayerFunctions", "TwoLayerTrainingView",
    "class_probabilities", "decision_boundary", "gradient_flow", "init_two_layer", "train_two_layer",
    "two_layer_scores",
]
