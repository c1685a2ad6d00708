"""Tests of dlcourse.data.features: bias column, polynomial features, a seeded validation split."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import data


def test_add_bias_column_prepends_ones_and_leaves_x_alone() -> None:
    X = np.arange(6.0).reshape(3, 2)
    before = X.copy()
    out = data.add_bias_column(X)
    np.testing.assert_array_equal(out, [[1, 0, 1], [1, 2, 3], [1, 4, 5]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(X, before)
    with pytest.raises(ValueError, match=r"X must be 2-D \(n, d\)"):
        data.add_bias_column(np.ones(3))


def test_polynomial_features_columns_are_powers() -> None:
    x = np.array([-2.0, 0.5, 3.0])
    Phi = data.polynomial_features(x, 3)
    assert Phi.shape == (3, 4)
    np.testing.assert_allclose(Phi, np.stack([x**0, x, x**2, x**3], axis=1))
    assert data.polynomial_features(x, 0).shape == (3, 1)
    with pytest.raises(ValueError, match="x must be 1-D"):
        data.polynomial_features(x[:, None], 2)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        data.polynomial_features(x, -1)


def test_train_val_split_partitions_pairs_reproducibly() -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    X_tr, y_tr, X_val, y_val = data.train_val_split(X, y, 0.3, np.random.default_rng(0))
    assert len(X_val) == 3 and len(X_tr) == 7
    np.testing.assert_array_equal(X_tr[:, 0] / 2, y_tr)  # rows stay paired with their labels
    np.testing.assert_array_equal(X_val[:, 0] / 2, y_val)
    assert sorted(np.concatenate([y_tr, y_val])) == list(range(10))
    again = data.train_val_split(X, y, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(again[3], y_val)
    np.testing.assert_array_equal(X, np.arange(20.0).reshape(10, 2))


@pytest.mark.parametrize(
    ("y", "fraction", "match"),
    [(np.arange(10), 0.0, r"val_fraction must be in \(0, 1\)"), (np.arange(9), 0.3, "X has 10 rows but y has 9")],
    ids=["fraction outside (0, 1)", "y shorter than X"],
)
def test_train_val_split_bad_arguments(y: np.ndarray, fraction: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        data.train_val_split(np.zeros((10, 2)), y, fraction, np.random.default_rng(0))
