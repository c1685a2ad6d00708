"""Tests of dlcourse.data.synthetic: 1-D regression curves and 2-D classification sets."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import data


@pytest.mark.parametrize(
    ("kind", "f"),
    [
        ("linear", lambda x: 2 * x + 1),
        ("sine", lambda x: np.sin(np.pi * x)),
        ("cubic", lambda x: 2 * x**3 - x),
    ],
)
def test_make_regression_1d(kind: str, f) -> None:
    x, y = data.make_regression_1d(50, noise=0.0, seed=0, kind=kind)
    assert x.shape == y.shape == (50,) and x.dtype == y.dtype == np.float64
    assert np.all(np.abs(x) <= 1.0)
    np.testing.assert_allclose(y, f(x))
    x2, y2 = data.make_regression_1d(50, noise=0.3, seed=0, kind=kind)
    np.testing.assert_array_equal(x, x2)
    assert 0.15 < np.std(y2 - f(x2)) < 0.45, "noise is the std of the noise on y"
    np.testing.assert_array_equal(y2, data.make_regression_1d(50, 0.3, 0, kind)[1])


@pytest.mark.parametrize(
    ("kind", "classes"),
    [("blobs", 2), ("blobs", 4), ("moons", 2), ("circles", 2), ("circles", 3), ("spiral", 3)],
)
def test_make_classification_2d(kind: str, classes: int) -> None:
    X, y = data.make_classification_2d(101, kind=kind, noise=0.1, seed=0, classes=classes)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == classes and counts.max() - counts.min() <= 1, "classes are balanced"
    assert len(np.unique(y[:10])) > 1, "points are shuffled, not grouped by class"
    X2, y2 = data.make_classification_2d(101, kind=kind, noise=0.1, seed=0, classes=classes)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, data.make_classification_2d(101, kind, 0.1, 1, classes)[0])


def test_classification_blobs_sit_at_their_centres() -> None:
    X, y = data.make_classification_2d(400, "blobs", noise=0.1, seed=0, classes=4)
    for k in range(4):
        centre = [np.cos(np.pi * k / 2), np.sin(np.pi * k / 2)]
        np.testing.assert_allclose(X[y == k].mean(axis=0), centre, atol=0.05)


def test_classification_circles_radii() -> None:
    X, y = data.make_classification_2d(300, "circles", noise=0.0, seed=0, classes=3)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), (y + 1) / 3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.make_classification_2d(10, kind="swirl"), "'blobs', 'moons'"),
        (lambda: data.make_classification_2d(10, kind="moons", classes=3), "exactly 2 for moons"),
        (lambda: data.make_classification_2d(10, classes=1), "classes must be an integer >= 2"),
        (lambda: data.make_classification_2d(0), "n must be a positive integer"),
        (lambda: data.make_regression_1d(10, kind="quadratic"), "'linear', 'sine', 'cubic'"),
        (lambda: data.make_regression_1d(-1), "n must be a positive integer"),
        (lambda: data.make_regression_1d(10, noise=-0.1), "noise"),
    ],
)
def test_bad_arguments_say_what_is_valid(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
