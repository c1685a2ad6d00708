"""The computations of notebook 01's views (I2DL lecture 2, "Machine Learning Basics"): plain NumPy.

Loss surfaces and stability limits for :class:`~dlcourse.widgets.regression.views.GradientDescentView`,
polynomial fits and their errors for :class:`~dlcourse.widgets.regression.views.PolynomialDegreeView`,
and the two tests that tell a wrong function from a bad slider setting (:func:`descent_misbehaves`,
:func:`solves_least_squares`). None of them is an exercise of the notebook: where a view needs one
(``gradient_descent``, ``mse``, ``normal_equations``), the student's function or the reference is passed in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.data import polynomial_features

__all__ = [
    "descent_misbehaves", "evaluate_polynomial", "fit_polynomial", "learning_rate_top",
    "loss_surface", "parameter_window", "path_losses", "polynomial_errors", "solves_least_squares",
    "stability_limit", "unit_scale",
]


def loss_surface(X: np.ndarray, y: np.ndarray, t0_grid: np.ndarray,
                 t1_grid: np.ndarray) -> np.ndarray:
    """J(θ) = 1/n ||X θ - y||² on a grid, shape (len(t1_grid), len(t0_grid)) as contour wants.

    Z[i, j] = J((t0_grid[j], t1_grid[i])). Expanded as θᵀAθ - 2bᵀθ + c with
    A = XᵀX/n, b = Xᵀy/n, c = yᵀy/n, so the cost does not grow with n.
    """
    n = X.shape[0]
    A, b, c = X.T @ X / n, X.T @ y / n, y @ y / n
    T0, T1 = np.meshgrid(t0_grid, t1_grid)  # each (len(t1), len(t0))
    Z = A[0, 0] * T0**2 + 2 * A[0, 1] * T0 * T1 + A[1, 1] * T1**2 - 2 * (b[0] * T0 + b[1] * T1) + c
    return np.maximum(Z, 0.0)  # rounding can dip a hair below 0 at an exact fit


def path_losses(X: np.ndarray, y: np.ndarray, path: np.ndarray,
                mse: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
    """The loss ``mse(X θ, y)`` at every row θ of a descent path (K, d+1): shape (K,), inf/nan where it blew up."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([float(mse(X @ theta, y)) for theta in path])


def stability_limit(X: np.ndarray) -> float:
    """The largest stable learning rate of gradient descent on the MSE: 2/λ_max.

    The Hessian of J is H = 2/n XᵀX; along its top eigenvector each step
    multiplies the error by (1 - α λ_max), which grows when α > 2/λ_max.
    """
    return float(2.0 / np.linalg.eigvalsh(2.0 / X.shape[0] * X.T @ X)[-1])


def descent_misbehaves(X: np.ndarray, y: np.ndarray, path: np.ndarray, theta0: np.ndarray,
                       learning_rate: float, critical_rate: float) -> bool:
    """Whether a path (K, d+1) of gradient descent from ``theta0`` cannot come from a correct implementation.

    Below the stability limit (``learning_rate < critical_rate``) every step of
    correct descent on this quadratic lowers J until J sits at its minimum: in
    the eigenbasis of the Hessian each component of θ - θ* shrinks by a factor
    |1 - α λ_i| < 1. So a path that starts elsewhere than θ0, rises or stands
    still on the way down comes from a wrong function, not from the slider.
    Above the limit nothing is claimed (correct descent may diverge there).
    """
    path = np.asarray(path, dtype=np.float64)
    if not learning_rate < critical_rate * (1 - 1e-9) or path.shape[0] < 2:
        return False
    if not np.allclose(path[0], theta0, rtol=1e-12, atol=1e-12):
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        losses = np.mean((path @ X.T - y) ** 2, axis=1)  # J at every row, (K,)
    if not np.all(np.isfinite(losses)):
        return True
    loss_min = float(np.mean((X @ _optimum(X, y) - y) ** 2))
    excess, step = losses - loss_min, np.diff(losses)
    rises = step > 1e-9 * (losses[0] + abs(loss_min)) + 1e-300
    # Still well above the minimum (beyond what rounding can hide), yet no lower than before.
    stalls = (step >= 0) & (excess[:-1] > max(1e-9 * excess[0], 1e-10 * abs(loss_min)))
    return bool(np.any(rises | stalls))


def _optimum(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    # NumPy's SVD solver marks the optimum in the view whatever the student has done. Private, and not
    # exported: the student hand-out must not hand out a function that answers `normal_equations`.
    return np.linalg.lstsq(X, y, rcond=None)[0]


def solves_least_squares(X: np.ndarray, y: np.ndarray, theta: np.ndarray, rtol: float = 1e-3) -> bool:
    """Whether θ (d+1,) minimises ||X θ - y||², to ``rtol``: there the gradient X^T (X θ - y) is 0.

    Relative to the sizes of its two terms, so an ill-conditioned but correct
    solve (an explicit inverse at degree 15) still passes while a wrong formula
    (a missing column, a factor 1/n) is off by order 1.
    """
    theta = np.asarray(theta, dtype=np.float64)
    scale = np.linalg.norm(X.T @ X) * np.linalg.norm(theta) + np.linalg.norm(X.T @ y) + 1e-300
    return bool(np.linalg.norm(X.T @ (X @ theta - y)) <= rtol * scale)


def parameter_window(theta_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corners (lo, hi), each (2,), of a (θ0, θ1) box holding the optimum and the origin, with margin."""
    pad = 0.6 * max(1.0, *np.abs(theta_star))
    return np.minimum(theta_star, 0) - pad, np.maximum(theta_star, 0) + pad


def learning_rate_top(critical_rate: float) -> float:
    """The top of the learning-rate slider: a half decade at or above 3 × the stability limit.

    With the slider spanning 3.5 decades below it, divergence is one drag away whatever the data's scale.
    """
    return float(10 ** (np.ceil(2 * np.log10(3 * critical_rate)) / 2))


def unit_scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map [lo, hi] onto [-1, 1]: powers up to x^15 then stay between -1 and 1."""
    return 2.0 * (np.asarray(x, dtype=np.float64) - lo) / (hi - lo) - 1.0


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int, ridge: float = 0.0,
                   solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = _optimum) -> np.ndarray:
    """θ (degree+1,) minimising 1/n ||Φθ - y||² + ridge ||θ[1:]||², Φ = polynomial_features(x).

    Ridge as least squares on augmented data (rows √(n·ridge)·e_k with target
    0, the bias unpenalised), so any least-squares ``solve(X, y)``, such as a
    student's normal_equations, fits it.
    """
    Phi = polynomial_features(x, degree)
    if ridge > 0:
        n = x.shape[0]
        penalty = np.sqrt(n * ridge) * np.eye(degree + 1)[1:]
        Phi, y = np.vstack([Phi, penalty]), np.concatenate([y, np.zeros(degree)])
    return solve(Phi, y)


def evaluate_polynomial(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Φ(x) θ for x (n,) and θ (degree+1,): shape (n,)."""
    return polynomial_features(x, len(theta) - 1) @ theta


def polynomial_errors(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                      y_val: np.ndarray, max_degree: int, ridge: float = 0.0,
                      solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = _optimum
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation mean squared error for degrees 0..max_degree: two arrays (max_degree+1,)."""
    train, val = np.empty(max_degree + 1), np.empty(max_degree + 1)
    for d in range(max_degree + 1):
        theta = fit_polynomial(x_train, y_train, d, ridge, solve)
        train[d] = np.mean((evaluate_polynomial(x_train, theta) - y_train) ** 2)
        val[d] = np.mean((evaluate_polynomial(x_val, theta) - y_val) ** 2)
    return train, val
