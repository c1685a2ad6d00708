"""The slider views of notebook 02_backprop: :mod:`.compute` computes, :mod:`.views` draws."""

from dlcourse.widgets.backprop.compute import (
    ACTIVATIONS,
    LEAKY_ALPHA,
    LOSSES,
    WALK,
    LayerFunctions,
    backward_walk,
    class_probabilities,
    decision_boundary,
    directional_check,
    init_two_layer,
    train_flow_network,
    train_two_layer,
    two_layer_scores,
    walk_check,
)
from dlcourse.widgets.backprop.views import GradientFlowView, TwoLayerTrainingView

__all__ = [
    "ACTIVATIONS", "LEAKY_ALPHA", "LOSSES", "WALK", "GradientFlowView", "LayerFunctions", "TwoLayerTrainingView",
    "backward_walk", "class_probabilities", "decision_boundary", "directional_check", "init_two_layer",
    "train_flow_network", "train_two_layer", "two_layer_scores", "walk_check",
]
