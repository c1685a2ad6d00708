"""Notebook 01's k-nearest-neighbour exercises: ``knn_predict`` and ``cross_validate`` (I2DL lecture 2).

``knn_predict`` must return integer labels (the docstring promises them; a float array of the right values is
rejected with the reason), judged exactly. Its edge cases: 1-NN on its own training points, ties in the vote at
k = 2 and k = 4 (the smallest label wins), a query whose nearest point in L1 is not its nearest in L2, k = n (every
query gets the overall majority), a label that never occurs, one query, one feature.

``cross_validate(predict, X, y, params, num_folds)`` takes the classifier as an argument, so its test does not
depend on ``knn_predict``: the notebook's test cell calls it with :func:`nearest_mean` (a locked helper cell of
the notebook holds the same function; the harness proves they agree). Edge cases: leave-one-out, folds of unequal
size (the mean of the folds' accuracies differs from the pooled accuracy), two folds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference

# -- k-nearest neighbours ------------------------------------------------------------------------


def _blobs(rng: np.random.Generator, n: int, dims: int, classes: int, spread: float = 1.0):
    """n points around ``classes`` random centres in ``dims`` dimensions, and their int64 labels."""
    centres = 2.0 * rng.standard_normal((classes, dims))
    y = rng.integers(0, classes, n)
    return centres[y] + spread * rng.standard_normal((n, dims)), y.astype(np.int64)


def _knn_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        n, dims, classes = int(rng.integers(8, 40)), int(rng.integers(1, 5)), int(rng.integers(2, 5))
        X, y = _blobs(rng, n, dims, classes)
        queries, _ = _blobs(rng, int(rng.integers(3, 15)), dims, classes)
        k, distance = int(rng.choice([1, 3, 5])), str(rng.choice(["l1", "l2"]))
        cases.append(Case((X, y, queries, k, distance),
                          label=f"random case {i + 1} (n={n}, D={dims}, C={classes}, k={k}, {distance})"))
    X, y = _blobs(rng, 12, 3, 3)
    cases.append(Case((X, y, X.copy(), 1, "l2"), label="1-NN on its own training points (must give y_train)"))
    # On a line, nearest first: labels 2, 0, 0, 2, 1 at distances 1, 2, 3, 4, 5 from the query at 0.
    line = np.array([[5.0], [-3.0], [1.0], [4.0], [-2.0]])
    line_y = np.array([1, 0, 2, 2, 0])
    q = np.zeros((1, 1))
    cases.append(Case((line, line_y, q, 2, "l2"),
                      label="k = 2: labels 2 and 0 tie in the vote (the smallest label wins)"))
    cases.append(Case((line, line_y, q, 4, "l1"),
                      label="k = 4: two votes each for 0 and 2 (the smallest label wins)"))
    square = np.array([[2.0, 2.0], [3.0, 0.0], [-2.2, -2.2], [0.0, -3.2]])
    cases.append(Case((square, np.array([0, 1, 0, 1]), np.zeros((1, 2)), 1, "l1"),
                      label="L1: the nearest point in L1 is not the nearest in L2"))
    X, y = _blobs(rng, 9, 2, 2)
    cases.append(Case((X, y, _blobs(rng, 4, 2, 2)[0], 9, "l2"), label="k = n: the overall majority everywhere"))
    X, y = _blobs(rng, 10, 2, 4)
    y = np.where(y == 2, 3, y)  # no sample has label 2
    cases.append(Case((X, y, _blobs(rng, 5, 2, 4)[0], 3, "l2"), label="labels 0, 1 and 3 only (no 2)"))
    X, y = _blobs(rng, 7, 1, 2)
    cases.append(Case((X, y, rng.standard_normal((1, 1)), 3, "l1"), label="one query with one feature"))
    return cases


def _check_labels(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """Integer labels, exactly the reference's."""
    if len(outputs) != 1:
        return Comparison(False, f"expected one array of labels, your function returned {len(outputs)} outputs.")
    labels = outputs[0]
    expected = np.asarray(reference("knn.knn_predict")(*case["args"], **case.get("kwargs", {})))
    if labels.shape == expected.shape and labels.dtype.kind not in "iu":
        values = "the right values" if np.array_equal(labels, expected) else "values"
        return Comparison(False, f"your labels have {values} but dtype {labels.dtype}: labels are integers "
                                 "like y_train (index with them, or .astype(np.int64)).")
    return compare(labels, expected, name="labels", rtol=0.0, atol=0.0)


def _knn_wrong(order: str = "near", tie: str = "smallest", ignore_distance: bool = False):
    """The reference's k-NN with one thing done the wrong way, for the hints."""
    def predict(X_train, y_train, X_query, k, distance="l2"):
        diff = X_query[:, None, :] - X_train[None, :, :]
        use = "l2" if ignore_distance else distance
        dist = np.abs(diff).sum(2) if use == "l1" else np.sqrt((diff**2).sum(2))
        ranked = np.argsort(-dist if order == "far" else dist, axis=1, kind="stable")[:, :k]
        out = []
        for row in y_train[ranked]:
            counts = np.bincount(row)
            best = np.flatnonzero(counts == counts.max())
            out.append(best[0] if tie == "smallest" else next(v for v in row if v in best))
        return np.array(out, dtype=np.int64)
    return predict


register(Exercise(
    name="regression.knn_predict",
    reference=reference("knn.knn_predict"),
    cases=_knn_cases,
    names=("labels",),
    check=_check_labels,
    mistakes=(
        Mistake("you took the k FARTHEST points: sort the distances in increasing order.", _knn_wrong(order="far")),
        Mistake("a tie in the vote goes to the smallest label (np.bincount(...).argmax() does that), not to the "
                "label met first.", _knn_wrong(tie="first")),
        Mistake("the distance argument is ignored: with distance='l1' use the sum of absolute differences.",
                _knn_wrong(ignore_distance=True)),
    ),
))


# -- k-fold cross-validation --------------------------------------------------------------------


def nearest_mean(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, p: int) -> np.ndarray:
    """The classifier of cross_validate's test cell: the class whose mean of the first p features is nearest.

    Keep it identical to the notebook's locked helper cell (the variants harness runs both against each other).
    """
    classes = np.unique(y_train)
    means = np.stack([X_train[y_train == c, :p].mean(axis=0) for c in classes])  # (C, p)
    dist = ((X_val[:, None, :p] - means[None, :, :]) ** 2).sum(axis=2)  # (m, C)
    return classes[np.argmin(dist, axis=1)]


def _cv_reference(X: np.ndarray, y: np.ndarray, params: list[int], num_folds: int) -> np.ndarray:
    return reference("knn.cross_validate")(nearest_mean, X, y, params, num_folds)


def _cv_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        n, folds = int(rng.integers(12, 40)), int(rng.integers(3, 7))
        X, y = _blobs(rng, n, 3, int(rng.integers(2, 4)), spread=1.6)
        params = sorted(int(p) for p in rng.choice([1, 2, 3], size=int(rng.integers(2, 4)), replace=False))
        cases.append(Case((X, y, params, folds), label=f"random case {i + 1} (n={n}, {folds} folds, p in {params})"))
    X, y = _blobs(rng, 8, 3, 2, spread=1.6)
    cases.append(Case((X, y, [1, 3], 8), label="leave-one-out (num_folds = n = 8)"))
    X, y = _blobs(rng, 11, 3, 2, spread=1.6)
    cases.append(Case((X, y, [2, 3], 3), label="11 samples in 3 folds of 4, 4 and 3 (a mean of the folds)"))
    X, y = _blobs(rng, 14, 3, 3, spread=1.6)
    cases.append(Case((X, y, [3], 2), label="two folds, one hyperparameter value"))
    return cases


def _cv_wrong(folds_of: str = "blocks", leak: bool = False, pooled: bool = False):
    def cross_validate(X, y, params, num_folds):
        n = len(y)
        if folds_of == "strided":
            folds = [np.arange(j, n, num_folds) for j in range(num_folds)]
        else:
            folds = np.array_split(np.arange(n), num_folds)
        scores = np.zeros((len(params), num_folds))
        correct = np.zeros(len(params))
        for j, val in enumerate(folds):
            train = np.arange(n) if leak else np.setdiff1d(np.arange(n), val)
            for p, param in enumerate(params):
                hits = nearest_mean(X[train], y[train], X[val], param) == y[val]
                scores[p, j], correct[p] = hits.mean(), correct[p] + hits.sum()
        return correct / n if pooled else scores.mean(axis=1)
    return cross_validate


register(Exercise(
    name="regression.cross_validate",
    reference=_cv_reference,
    cases=_cv_cases,
    names=("mean validation accuracy",),
    float64=True,
    mistakes=(
        Mistake("the validation fold is also in the training data: train on the OTHER folds only.",
                _cv_wrong(leak=True)),
        Mistake("fold j is the contiguous block np.array_split(np.arange(n), num_folds)[j], not every "
                "num_folds-th sample.", _cv_wrong(folds_of="strided")),
        Mistake("you pooled the correct predictions of all folds; the docstring asks for the mean of the folds' "
                "accuracies (they differ when the folds have different sizes).", _cv_wrong(pooled=True)),
    ),
))
