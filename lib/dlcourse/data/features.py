"""Preparing features for linear models: a bias column, polynomial features, a validation split.

Used by notebooks 01 (normal equations, gradient descent, polynomial degree and
overfitting) and 03 (softmax regression on the digits); ``dlcourse.reference.regression``
re-exports all three, and the views of notebooks 01 and 03 use them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_bias_column", "polynomial_features", "train_val_split"]


def add_bias_column(X: np.ndarray) -> np.ndarray:
    """Prepend a column of ones: (n, d) -> (n, d+1), so ``theta[0]`` acts as the bias."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    return np.hstack([np.ones((X.shape[0], 1)), X])


def polynomial_features(x: np.ndarray, degree: int) -> np.ndarray:
    """Columns ``x^0, x^1, ..., x^degree`` of a 1-D input x (n,): shape (n, degree+1)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    return x[:, None] ** np.arange(degree + 1)


def train_val_split(
    X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle once and split X (n, ...) and y (n, ...) into (X_train, y_train, X_val, y_val).

    The validation part has ``max(1, round(val_fraction * n))`` rows; ``rng`` draws the one permutation.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
    perm = rng.permutation(n)
    n_val = max(1, round(val_fraction * n))
    val, train = perm[:n_val], perm[n_val:]
    return X[train], y[train], X[val], y[val]
