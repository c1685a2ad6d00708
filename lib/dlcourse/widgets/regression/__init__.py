"""The slider views of notebook 01_regression: :mod:`.compute` computes, :mod:`.views` draws."""

from dlcourse.widgets.regression.compute import (
    descent_misbehaves,
    evaluate_polynomial,
    fit_polynomial,
    learning_rate_top,
    loss_surface,
    parameter_window,
    path_losses,
    polynomial_errors,
    solves_least_squares,
    stability_limit,
    unit_scale,
)
from dlcourse.widgets.regression.views import GradientDescentView, PolynomialDegreeView

__all__ = [
    "GradientDescentView", "PolynomialDegreeView", "descent_misbehaves", "evaluate_polynomial", "fit_polynomial",
    "learning_rate_top", "loss_surface", "parameter_window", "path_losses", "polynomial_errors",
    "solves_least_squares", "stability_limit", "unit_scale",
]
