"""Tests of dlcourse.reference.knn: k-NN against scikit-learn, its tie rules by hand, folds as KFold cuts them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from dlcourse.reference.knn import cross_validate, fold_indices, knn_predict, pairwise_distances


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    return rng.standard_normal((120, 5)) + 1.2 * y[:, None], y


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_pairwise_distances_equal_scipy(distance):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((300, 4)), rng.standard_normal((7, 4))  # more rows than one block
    metric = {"l1": "cityblock", "l2": "euclidean"}[distance]
    np.testing.assert_allclose(pairwise_distances(A, B, distance), cdist(A, B, metric), rtol=1e-12)


@pytest.mark.parametrize(("distance", "metric"), [("l2", "euclidean"), ("l1", "manhattan")])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_knn_predict_equals_scikit_learn(blobs, distance, metric, k):
    X, y = blobs
    ours = knn_predict(X[:90], y[:90], X[90:], k, distance)
    theirs = KNeighborsClassifier(k, algorithm="brute", metric=metric).fit(X[:90], y[:90]).predict(X[90:])
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, theirs)


def test_vote_ties_go_to_the_smallest_label():
    # On a line: the query at 0 has neighbours at distances 1 (label 2), 2 (label 0), 3 (label 1), 4 (label 0).
    X_train = np.array([[1.0], [2.0], [3.0], [4.0]])
    y_train = np.array([2, 0, 1, 0])
    q = np.zeros((1, 1))
    assert knn_predict(X_train, y_train, q, 1)[0] == 2
    assert knn_predict(X_train, y_train, q, 2)[0] == 0  # one vote each for 2 and 0: the smaller label
    assert knn_predict(X_train, y_train, q, 3)[0] == 0  # 2, 0, 1: a three-way tie
    assert knn_predict(X_train, y_train, q, 4)[0] == 0  # two votes for 0


def test_equally_distant_points_are_taken_in_their_order():
    X_train = np.array([[1.0], [-1.0], [5.0]])
    assert knn_predict(X_train, np.array([1, 0, 0]), np.zeros((1, 1)), 1)[0] == 1
    assert knn_predict(X_train, np.array([0, 1, 1]), np.zeros((1, 1)), 1)[0] == 0


def test_l1_and_l2_can_disagree():
    # From the origin, (2, 2) is nearer in L2 (2.83 < 3) and farther in L1 (4 > 3) than (3, 0).
    X_train, y_train = np.array([[2.0, 2.0], [3.0, 0.0]]), np.array([0, 1])
    q = np.zeros((1, 2))
    assert knn_predict(X_train, y_train, q, 1, "l2")[0] == 0
    assert knn_predict(X_train, y_train, q, 1, "l1")[0] == 1


def test_one_nearest_neighbour_is_perfect_on_its_own_training_data(blobs):
    X, y = blobs
    np.testing.assert_array_equal(knn_predict(X, y, X, 1), y)


def test_knn_leaves_its_arguments_alone(blobs):
    X, y = blobs
    copies = X.copy(), y.copy()
    knn_predict(X[:50], y[:50], X[50:60], 3)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"k": 0}, "k must be"), ({"k": 11}, "k must be"), ({"k": 2.0}, "k must be"),
    ({"distance": "cosine"}, "distance must be"), ({"y_train": np.zeros(10)}, "integer labels"),
    ({"y_train": np.zeros(9, dtype=int)}, r"\(10,\)"), ({"X_query": np.zeros((3, 4))}, "same D"),
    ({"X_train": np.zeros(10)}, "2-D"),
])
def test_knn_rejects_bad_input_by_name(kwargs, match):
    args = {"X_train": np.zeros((10, 3)), "y_train": np.zeros(10, dtype=int), "X_query": np.zeros((2, 3)), "k": 3}
    with pytest.raises(ValueError, match=match):
        knn_predict(**{**args, **kwargs})


@pytest.mark.parametrize(("n", "folds"), [(10, 2), (11, 3), (7, 7), (23, 5)])
def test_folds_are_kfolds_contiguous_blocks(n, folds):
    ours = fold_indices(n, folds)
    theirs = [val for _, val in KFold(folds).split(np.zeros(n))]
    assert len(ours) == folds
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="num_folds"):
        fold_indices(n, n + 1)
    with pytest.raises(ValueError, match="num_folds"):
        fold_indices(n, 1)


@pytest.mark.parametrize("num_folds", [3, 5, 7])
def test_cross_validate_equals_scikit_learn(blobs, num_folds):
    X, y = blobs
    X, y = X[:101], y[:101]  # 101 samples: folds of unequal size

    def predict(X_train, y_train, X_val, k):
        return knn_predict(X_train, y_train, X_val, k)

    ks = [1, 5, 9]
    ours = cross_validate(predict, X, y, ks, num_folds)
    theirs = [cross_val_score(KNeighborsClassifier(k, algorithm="brute"), X, y, cv=KFold(num_folds)).mean()
              for k in ks]
    assert ours.shape == (3,) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_cross_validate_trains_on_the_other_folds_in_order():
    calls = []

    def spy(X_train, y_train, X_val, param):
        calls.append((X_train[:, 0].tolist(), X_val[:, 0].tolist(), param))
        return np.zeros(len(X_val), dtype=int)

    X, y = np.arange(5.0)[:, None], np.array([0, 0, 1, 0, 1])
    scores = cross_validate(spy, X, y, ["a"], 2)
    assert calls == [([3.0, 4.0], [0.0, 1.0, 2.0], "a"), ([0.0, 1.0, 2.0], [3.0, 4.0], "a")]
    np.testing.assert_allclose(scores, [(2 / 3 + 1 / 2) / 2])  # the mean of the folds, not 3 of 5 pooled


def test_cross_validate_says_when_predict_returns_the_wrong_shape():
    with pytest.raises(ValueError, match="predict returned shape"):
        cross_validate(lambda *a: np.zeros(1), np.zeros((6, 1)), np.zeros(6, dtype=int), [1], 2)
