"""The slider views of notebook 04_initialization: :mod:`.compute` computes, :mod:`.views` draws."""

from dlcourse.widgets.initialization.compute import (
    ACTIVATIONS,
    TrainingRun,
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    layer_stds,
    mlp_weights,
    softmax_cross_entropy,
    standardize,
    train_mlp,
)
from dlcourse.widgets.initialization.views import ActivationStatsView, InitialLossView

__all__ = [
    "ACTIVATIONS", "ActivationStatsView", "InitialLossView", "TrainingRun", "activation_rows", "deep_stack",
    "histogram_rows", "initial_loss", "layer_stds", "mlp_weights", "softmax_cross_entropy", "standardize",
    "train_mlp",
]
