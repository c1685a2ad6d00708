"""k-nearest neighbours and k-fold cross-validation (I2DL lecture 2, "Machine Learning Basics").

The lecture's first classifier: a query gets the label that most of its k
nearest training points carry, with the distance (L1 ``sum |x - c|`` or L2
``||x - c||_2``) and k as hyperparameters. They are chosen by cross-validation:
the training data are cut into folds, each fold serves once as validation data
while the others train, and the validation accuracies are averaged. The test
set is used once, at the very end.

Conventions (fixed so that results are reproducible and comparable):

- ties between equally distant training points go to the one that comes first
  in ``X_train`` (a stable sort); ties in the vote go to the smallest label;
- fold j of n samples is the contiguous block ``np.array_split(np.arange(n), num_folds)[j]``
  (the first ``n % num_folds`` folds are one sample larger), as
  ``sklearn.model_selection.KFold(num_folds)`` without shuffling: shuffle the data before, once;
- a cross-validated score is the plain mean of the folds' accuracies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["DISTANCES", "cross_validate", "fold_indices", "knn_predict", "pairwise_distances"]

DISTANCES = ("l1", "l2")
_BLOCK = 256  # queries per block: bounds the (block, n, D) array of differences


def _matrix(a: object, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows = samples, columns = features), got shape {a.shape}")
    return a


def pairwise_distances(A: np.ndarray, B: np.ndarray, distance: str = "l2") -> np.ndarray:
    """Distances between every row of A (m, D) and every row of B (n, D): shape (m, n).

    From the differences themselves (not ``|a|^2 - 2 a.b + |b|^2``, which
    loses digits when points are far from the origin and close to each other).
    """
    A, B = _matrix(A, "A"), _matrix(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A (m, D) and B (n, D) need the same D, got {A.shape} and {B.shape}")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    out = np.empty((A.shape[0], B.shape[0]))
    for start in range(0, A.shape[0], _BLOCK):
        diff = A[start:start + _BLOCK, None, :] - B[None, :, :]  # (block, n, D)
        if distance == "l1":
            out[start:start + _BLOCK] = np.abs(diff).sum(axis=2)
        else:
            out[start:start + _BLOCK] = np.sqrt((diff * diff).sum(axis=2))
    return out


def knn_predict(X_train: np.ndarray, y_train: np.ndarray, X_query: np.ndarray, k: int,
                distance: str = "l2") -> np.ndarray:
    """The majority label of each query's k nearest training points.

    Inputs:
    - X_train: (n, D) training points; y_train: (n,) integer labels in 0..C-1
    - X_query: (m, D) points to classify
    - k: number of neighbours, 1 <= k <= n
    - distance: "l2" (Euclidean) or "l1" (sum of absolute differences)

    Returns: (m,) int64 labels. Ties: see the module docstring.
    """
    X_train, X_query = _matrix(X_train, "X_train"), _matrix(X_query, "X_query")
    y_train = np.asarray(y_train)
    n = X_train.shape[0]
    if y_train.shape != (n,) or not np.issubdtype(y_train.dtype, np.integer) or (n and y_train.min() < 0):
        raise ValueError(f"y_train must hold ({n},) integer labels >= 0, got shape {y_train.shape}, "
                         f"dtype {y_train.dtype}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, n] = [1, {n}], got {k!r}")
    dist = pairwise_distances(X_query, X_train, distance)  # (m, n)
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]  # (m, k): stable, so ties keep X_train's order
    votes = y_train[nearest]  # (m, k)
    num_classes = int(y_train.max()) + 1
    counts = np.zeros((X_query.shape[0], num_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(X_query.shape[0])[:, None], votes), 1)
    return counts.argmax(axis=1).astype(np.int64)  # argmax takes the first maximum: the smallest label


def fold_indices(n: int, num_folds: int) -> list[np.ndarray]:
    """The indices of each of ``num_folds`` contiguous folds of ``arange(n)`` (sizes differ by at most 1)."""
    if isinstance(num_folds, bool) or not isinstance(num_folds, (int, np.integer)) or not 2 <= num_folds <= n:
        raise ValueError(f"num_folds must be an integer in [2, n] = [2, {n}], got {num_folds!r}")
    return np.array_split(np.arange(n), num_folds)


def cross_validate(predict: Callable[[np.ndarray, np.ndarray, np.ndarray, Any], np.ndarray],
                   X: np.ndarray, y: np.ndarray, params: Sequence[Any], num_folds: int) -> np.ndarray:
    """Mean validation accuracy of ``predict`` over ``num_folds`` folds, for each hyperparameter value.

    Inputs:
    - predict: ``predict(X_train, y_train, X_val, param) -> (m,) labels`` for X_val (m, D)
    - X: (n, D) samples, already shuffled; y: (n,) labels
    - params: P hyperparameter values (k of k-NN, for example)
    - num_folds: 2 <= num_folds <= n (n: leave-one-out)

    Returns: (P,) float64; entry p is the mean over the folds of the accuracy of
    ``predict(<the other folds>, <this fold>, params[p])`` on this fold. The
    training rows keep their order in X.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 1 or y.shape != (X.shape[0],):
        raise ValueError(f"X (n, D) and y (n,) need the same n, got {X.shape} and {y.shape}")
    folds = fold_indices(X.shape[0], num_folds)
    scores = np.zeros((len(params), len(folds)))
    for j, val in enumerate(folds):
        train = np.setdiff1d(np.arange(X.shape[0]), val)  # sorted: the other folds in their order
        for p, param in enumerate(params):
            predicted = np.asarray(predict(X[train], y[train], X[val], param))
            if predicted.shape != val.shape:
                raise ValueError(f"predict returned shape {predicted.shape} for {val.size} validation samples")
            scores[p, j] = np.mean(predicted == y[val])
    return scores.mean(axis=1)
