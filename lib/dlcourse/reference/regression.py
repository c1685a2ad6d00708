"""Linear and logistic regression (I2DL lecture 2, "Machine Learning Basics").

Notation follows the lecture: a design matrix ``X`` of shape (n, d+1) whose
first column is all ones, parameters ``theta`` of shape (d+1,) with
``theta[0]`` the bias, predictions ``y_hat = X @ theta``, and the loss
``J(theta) = 1/n * sum_i (y_hat_i - y_i)^2``.
"""

from __future__ import annotations

import numpy as np

# Data preparation lives in dlcourse.data (notebooks use it where the reference is absent).
from dlcourse.data import add_bias_column, polynomial_features, train_val_split

__all__ = [
    "add_bias_column",
    "gaussian_log_likelihood",
    "gradient_descent",
    "logistic_loss_and_gradient",
    "mse",
    "mse_gradient",
    "normal_equations",
    "polynomial_features",
    "sigmoid",
    "train_val_split",
]


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
