"""The slider views of notebook 04_initialization: :mod:`.compute` computes, :mod:`.checked` checks the student's
functions before a view trains with them, :mod:`.views` draws."""

from dlcourse.widgets.initialization.checked import CheckedFunction, student_problems
from dlcourse.widgets.initialization.compute import (
    ACTIVATIONS,
    SATURATED,
    StackTraining,
    TrainingRun,
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    layer_stds,
    mlp_weights,
    off_fraction,
    standardize,
    train_mlp,
    train_stack,
)
from dlcourse.widgets.initialization.views import ActivationStatsView, InitialLossView

__all__ = [
    "ACTIVATIONS", "SATURATED", "ActivationStatsView", "CheckedFunction", "InitialLossView", "StackTraining",
    "TrainingRun", "activation_rows", "deep_stack", "histogram_rows", "initial_loss", "layer_stds", "mlp_weights",
    "off_fraction", "standardize", "student_problems", "train_mlp", "train_stack",
]
