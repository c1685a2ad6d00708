"""Linear, regularized, logistic and softmax regression (I2DL lecture 2, "Machine Learning Basics";
the penalties of I2DL lecture 3, "Regularization"; softmax of I2DL lecture 4, "Multiclass Classification").

Notation follows the lecture: a design matrix ``X`` of shape (n, d+1) whose
first column is all ones, parameters ``theta`` of shape (d+1,) with
``theta[0]`` the bias, predictions ``y_hat = X @ theta``, and the loss
``J(theta) = 1/n * sum_i (y_hat_i - y_i)^2``. A penalty ``lam * R(theta)``
never includes the bias ``theta[0]``. Softmax regression has one parameter
column per class: ``Theta`` of shape (d+1, C), scores ``X @ Theta`` (n, C).
"""

from __future__ import annotations

import numpy as np

# Data preparation lives in dlcourse.data (notebooks use it where the reference is absent).
from dlcourse.data import add_bias_column, polynomial_features, train_val_split
from dlcourse.reference.layers import softmax_cross_entropy

__all__ = [
    "add_bias_column",
    "gaussian_log_likelihood",
    "gradient_descent",
    "logistic_loss_and_gradient",
    "mse",
    "mse_gradient",
    "normal_equations",
    "polynomial_features",
    "regularized_loss_and_gradient",
    "ridge_regression",
    "sigmoid",
    "softmax_loss_and_gradient",
    "train_val_split",
]

PENALTIES = ("l1", "l2")


def mse(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error ``1/n sum (y_hat - y)^2`` over n predictions of shape (n,)."""
    y_hat = np.asarray(y_hat, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y_hat.shape != y.shape:
        raise ValueError(f"y_hat {y_hat.shape} and y {y.shape} must have the same shape")
    return float(np.mean((y_hat - y) ** 2))


def normal_equations(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares parameters ``theta = (X^T X)^{-1} X^T y``.

    Solves the linear system instead of forming the inverse (cheaper and more
    accurate). X: (n, d+1) design matrix, y: (n,). Returns theta: (d+1,).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.linalg.solve(X.T @ X, X.T @ y)


def mse_gradient(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of J(theta) = 1/n ||X theta - y||^2: ``2/n X^T (X theta - y)``, shape (d+1,)."""
    n = X.shape[0]
    return 2.0 / n * X.T @ (X @ theta - y)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, learning_rate: float, num_iters: int, theta0: np.ndarray
) -> np.ndarray:
    """Full-batch gradient descent on the MSE; returns the path, shape (num_iters+1, d+1).

    Row k is theta after k steps: row 0 is ``theta0``, the last row the result.
    """
    path = np.empty((num_iters + 1, theta0.shape[0]))
    theta = np.array(theta0, dtype=np.float64)
    path[0] = theta
    for k in range(num_iters):
        theta = theta - learning_rate * mse_gradient(X, y, theta)
        path[k + 1] = theta
    return path


def gaussian_log_likelihood(y: np.ndarray, y_hat: np.ndarray, sigma: float) -> float:
    """log p(y | X, theta) when ``y_i ~ N(y_hat_i, sigma^2)`` independently:

    ``-n/2 log(2 pi sigma^2) - 1/(2 sigma^2) sum (y_i - y_hat_i)^2``.
    """
    n = y.shape[0]
    r = y - y_hat
    return float(-0.5 * n * np.log(2 * np.pi * sigma**2) - (r @ r) / (2 * sigma**2))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])  # z < 0: exp(z) cannot overflow
    out[~pos] = ez / (1.0 + ez)
    return out


def logistic_loss_and_gradient(
    X: np.ndarray, y: np.ndarray, theta: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean binary cross entropy of ``p = sigmoid(X theta)`` against labels y in {0, 1},
    and its gradient ``X^T (p - y) / n``.

    The loss is computed from the logits, ``mean(log(1 + exp(s)) - y s)`` with
    ``s = X theta``, which is exact where log(p) would round to log(0).
    """
    s = X @ theta
    loss = float(np.mean(np.logaddexp(0.0, s) - y * s))
    grad = X.T @ (sigmoid(s) - y) / X.shape[0]
    return loss, grad


# -- regularization (I2DL lecture 3, "Regularization") -----------------------------------------


def _design(X: object, y: object, theta: object | None = None) -> tuple[np.ndarray, ...]:
    """X (n, d+1), y (n,) and theta (d+1,) as float64, or a ValueError naming the argument and the shape."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a design matrix of shape (n, d+1) with n >= 1, got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape (n,) = ({X.shape[0]},) for X of shape {X.shape}, got {y.shape}")
    if theta is None:
        return X, y
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (X.shape[1],):
        raise ValueError(f"theta must have shape (d+1,) = ({X.shape[1]},) for X of shape {X.shape}, "
                         f"got {theta.shape}")
    return X, y, theta


def _strength(lam: object) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)) \
            or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return float(lam)


def regularized_loss_and_gradient(
    X: np.ndarray, y: np.ndarray, theta: np.ndarray, lam: float, penalty: str = "l2"
) -> tuple[float, np.ndarray]:
    """``J(theta) = 1/n ||X theta - y||^2 + lam R(theta)`` and its gradient, shape (d+1,).

    ``R`` is the lecture's L2 penalty ``sum_{j>=1} theta_j^2`` (``penalty="l2"``)
    or L1 penalty ``sum_{j>=1} |theta_j|`` (``"l1"``); the bias ``theta[0]`` is
    not penalised (shifting every target by a constant should shift the bias,
    not cost anything). |t| has no derivative at 0: the gradient uses
    ``sign(0) = 0`` there, the subgradient of smallest size.
    """
    X, y, theta = _design(X, y, theta)
    lam = _strength(lam)
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    weights = theta.copy()
    weights[0] = 0.0  # the bias is not penalised
    if penalty == "l2":
        loss, dpenalty = float(weights @ weights), 2.0 * weights
    else:
        loss, dpenalty = float(np.abs(weights).sum()), np.sign(weights)
    return mse(X @ theta, y) + lam * loss, mse_gradient(X, y, theta) + lam * dpenalty


def ridge_regression(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """The minimiser of ``1/n ||X theta - y||^2 + lam sum_{j>=1} theta_j^2``: shape (d+1,).

    Setting the gradient to zero gives ``(X^T X + n lam D) theta = X^T y`` with
    ``D = diag(0, 1, ..., 1)`` (the bias is not penalised). For lam > 0 the
    system has a unique solution even where X^T X is singular (fewer samples
    than features, or repeated columns), as long as the bias column is not zero.
    """
    X, y = _design(X, y)
    lam = _strength(lam)
    n, p = X.shape
    D = np.eye(p)
    D[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + n * lam * D, X.T @ y)


# -- softmax regression (I2DL lecture 4, "Multiclass Classification: Softmax") -------------------


def softmax_loss_and_gradient(X: np.ndarray, y: np.ndarray, Theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross entropy of softmax regression and its gradient with respect to ``Theta``.

    Scores ``S = X Theta`` (n, C), ``p(y_i | x_i) = exp(S[i, y_i]) / sum_k exp(S[i, k])``,
    loss ``-1/n sum_i log p(y_i | x_i)``; the gradient is ``X^T (P - Y) / n``
    with P the softmax probabilities and Y the one-hot labels, shape (d+1, C).
    Exact for scores of any size: the log-probabilities come from each row's
    scores minus that row's maximum (:func:`dlcourse.reference.layers.softmax_cross_entropy`).

    Inputs: X (n, d+1); y (n,) integer labels in 0..C-1; Theta (d+1, C).
    """
    X = np.asarray(X, dtype=np.float64)
    Theta = np.asarray(Theta, dtype=np.float64)
    if X.ndim != 2 or Theta.ndim != 2 or Theta.shape[0] != X.shape[1]:
        raise ValueError(f"X must be (n, d+1) and Theta (d+1, C) with the same d+1, got X {X.shape} and "
                         f"Theta {Theta.shape}")
    loss, dscores = softmax_cross_entropy(X @ Theta, y)  # validates y: (n,) integers in 0..C-1
    return loss, X.T @ dscores
