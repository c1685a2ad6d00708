"""The slider views of notebook 03_optimizers: :mod:`.compute` computes, :mod:`.views` draws."""

from dlcourse.widgets.optimizers.compute import (
    OPTIMIZERS,
    SURFACES,
    GradientCloud,
    Surface,
    gradient_cloud,
    gradient_noise,
    minibatch_losses,
    minibatch_run,
    per_sample_gradients,
    softmax_regression_loss,
    surface_losses,
    trajectory,
    wrong_steps,
)
from dlcourse.widgets.optimizers.views import BatchNoiseView, OptimizerPathsView

__all__ = [
    "OPTIMIZERS", "SURFACES", "BatchNoiseView", "GradientCloud", "OptimizerPathsView", "Surface", "gradient_cloud",
    "gradient_noise", "minibatch_losses", "minibatch_run", "per_sample_gradients", "softmax_regression_loss",
    "surface_losses", "trajectory", "wrong_steps",
]
