"""Tests of dlcourse.data.sequences: the adding problem, copy/reverse/sort, sine waves."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dlcourse import data


def test_adding_problem_targets() -> None:
    X, y = data.adding_problem(200, T=30, seed=0)
    assert X.shape == (200, 30, 2) and y.shape == (200,)
    values, markers = X[..., 0], X[..., 1]
    assert np.all((0 <= values) & (values <= 1))
    assert np.all(markers.sum(axis=1) == 2) and set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :15].sum(axis=1) == 1), "one marker in each half"
    np.testing.assert_allclose(y, (values * markers).sum(axis=1))
    np.testing.assert_array_equal(y, data.adding_problem(200, T=30, seed=0)[1])


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (data.copy_task, lambda X: X),
        (data.reverse_task, lambda X: X[:, ::-1]),
        (data.sort_task, lambda X: np.sort(X, axis=1)),
    ],
)
def test_token_tasks(task, expected) -> None:
    X, Y = task(64, T=12, vocab=7, seed=0)
    assert X.shape == Y.shape == (64, 12) and X.dtype == Y.dtype == np.int64
    assert X.min() >= 0 and X.max() <= 6
    np.testing.assert_array_equal(Y, expected(X))
    np.testing.assert_array_equal(X, task(64, T=12, vocab=7, seed=0)[0])
    assert not np.array_equal(X, task(64, T=12, vocab=7, seed=1)[0])


def test_sort_task_target_is_sorted_input() -> None:
    X, Y = data.sort_task(32, T=9, vocab=5, seed=2)
    assert np.all(np.diff(Y, axis=1) >= 0)
    assert all(Counter(x) == Counter(t) for x, t in zip(X, Y, strict=True))


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_sine_sequences_next_step_targets(noise: float) -> None:
    X, y = data.sine_sequences(16, T=25, seed=0, noise=noise)
    assert X.shape == y.shape == (16, 25, 1) and X.dtype == np.float64
    np.testing.assert_array_equal(y[:, :-1], X[:, 1:])
    if noise == 0.0:
        assert np.abs(X).max() <= 1.5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.adding_problem(10, T=1), "T must be an integer >= 2"),
        (lambda: data.copy_task(10, 5, vocab=1), "vocab must be an integer >= 2"),
        (lambda: data.sort_task(0, 5), "n must be a positive integer"),
        (lambda: data.sine_sequences(10, T=0), "T must be a positive integer"),
    ],
)
def test_bad_arguments_say_what_is_valid(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
