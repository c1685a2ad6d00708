"""Tests of dlcourse.reference.tuning: grid and random search against brute force and their statistics, early
stopping against dlcourse.train.EarlyStopping, and the lecture's third decay schedule of dlcourse.reference.optim
(added for the same notebook) against torch's LambdaLR."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.reference import optim
from dlcourse.reference.tuning import early_stopping, grid_search, random_search
from dlcourse.train import EarlyStopping


def bowl(p: np.ndarray) -> float:
    """A validation-loss stand-in: best at params[0] = 1e-2; NaN (diverged) above 1."""
    if p[0] > 1:
        return math.nan
    return float((np.log10(p[0]) + 2) ** 2 + 0.1 * np.sum((np.log10(p[1:]) + 3) ** 2))


# -- grid search --------------------------------------------------------------------------------


def test_grid_search_scores_every_combination_in_row_major_order():
    values = [np.array([1e-3, 1e-2, 1e-1]), np.array([1e-5, 1e-4]), np.array([0.5, 0.9, 0.99, 0.999])]
    best, scores = grid_search(bowl, values)
    assert scores.shape == (3, 2, 4)
    for (i, a), (j, b), (k, c) in itertools.product(*(enumerate(v) for v in values)):
        assert scores[i, j, k] == bowl(np.array([a, b, c]))
    i, j, k = np.unravel_index(np.argmin(scores), scores.shape)
    np.testing.assert_array_equal(best, [values[0][i], values[1][j], values[2][k]])


def test_grid_search_skips_diverged_runs_and_breaks_ties_by_order():
    # 1e-3 and 1e-1 are equally far from 1e-2 in log10: the first one wins; 10 diverges (NaN) and never wins.
    best, scores = grid_search(bowl, [np.array([10.0, 1e-1, 1e-3])])
    assert np.isnan(scores[0]) and scores[1] == scores[2] == 1.0
    np.testing.assert_array_equal(best, [1e-1])
    with pytest.raises(ValueError, match="NaN"):
        grid_search(bowl, [np.array([5.0, 10.0])])


def test_grid_search_leaves_its_values_alone_and_rejects_bad_grids():
    values = [np.array([1e-3, 1e-2]), np.array([1e-4])]
    copies = [v.copy() for v in values]
    grid_search(lambda p: float(p.sum()), values)
    for v, c in zip(values, copies, strict=True):
        np.testing.assert_array_equal(v, c)
    for bad in ([], [np.array([])], [np.ones((2, 2))]):
        with pytest.raises(ValueError, match="1-D"):
            grid_search(bowl, bad)


# -- random search --------------------------------------------------------------------------------


def test_random_search_draws_log_and_linear_values_independently_in_the_box():
    low, high, log_scale = np.array([1e-5, 0.5]), np.array([1.0, 0.99]), np.array([True, False])
    best, points, scores = random_search(bowl, low, high, log_scale, 4000, np.random.default_rng(0))
    assert points.shape == (4000, 2) and scores.shape == (4000,) and best.shape == (2,)
    assert np.all((points >= low) & (points <= high))
    z = np.column_stack([(np.log(points[:, 0]) - np.log(low[0])) / (np.log(high[0]) - np.log(low[0])),
                         (points[:, 1] - low[1]) / (high[1] - low[1])])
    np.testing.assert_allclose(z.mean(axis=0), 0.5, atol=0.03)  # uniform on [0, 1]: mean 1/2, std 1/sqrt(12)
    np.testing.assert_allclose(z.std(axis=0), 12**-0.5, atol=0.02)
    assert abs(np.corrcoef(z.T)[0, 1]) < 0.06
    assert len(np.unique(points[:, 0])) == 4000  # every trial a new learning rate: what a grid cannot do
    np.testing.assert_array_equal(scores, [bowl(p) for p in points])
    np.testing.assert_array_equal(best, points[np.nanargmin(scores)])


def test_random_search_is_its_generator_and_nothing_else():
    args = (bowl, np.array([1e-4]), np.array([1.0]), np.array([True]), 5)
    a = random_search(*args, np.random.default_rng(3))
    b = random_search(*args, np.random.default_rng(3))
    c = random_search(*args, np.random.default_rng(4))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_random_search_rejects_bad_boxes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="0 < low < high"):
        random_search(bowl, np.array([0.0]), np.array([1.0]), np.array([True]), 3, rng)
    with pytest.raises(ValueError, match="0 < low < high"):
        random_search(bowl, np.array([2.0]), np.array([1.0]), np.array([False]), 3, rng)
    with pytest.raises(ValueError, match=r"shape \(P,\)"):
        random_search(bowl, np.array([1e-3, 1e-2]), np.array([1.0]), np.array([True]), 3, rng)
    with pytest.raises(ValueError, match="num_trials"):
        random_search(bowl, np.array([1e-3]), np.array([1.0]), np.array([True]), 0, rng)


# -- early stopping --------------------------------------------------------------------------------


def library_stop(losses: list[float], patience: int) -> tuple[int, int]:
    """Where dlcourse.train.EarlyStopping stops on these validation losses, and its best epoch."""
    stopper, model = EarlyStopping(monitor="val_loss", patience=patience, restore_best=False), nn.Linear(1, 1)
    stopper.reset()
    for epoch, loss in enumerate(losses):
        if stopper.update(loss, epoch, model):
            return stopper.best_epoch, epoch
    return stopper.best_epoch, len(losses) - 1


@pytest.mark.parametrize("patience", [0, 1, 2, 5])
def test_early_stopping_is_the_rule_of_the_training_library(patience):
    rng = np.random.default_rng(patience)
    for _ in range(50):
        # A falling curve that turns up, with noise and some exact ties.
        epochs = int(rng.integers(1, 30))
        t = np.arange(epochs)
        losses = np.round(1 / (1 + t) + 0.004 * t + 0.02 * rng.standard_normal(epochs), 2)
        assert early_stopping(losses, patience) == library_stop(list(losses), patience)


def test_early_stopping_by_hand():
    losses = np.array([1.0, 0.8, 0.8, 0.9, 0.7, 0.75, 0.76, 0.77])
    assert early_stopping(losses, 0) == (1, 2)  # an equal loss is no improvement
    assert early_stopping(losses, 2) == (4, 7)  # 0.7 at epoch 4 came just in time
    assert early_stopping(losses, 3) == (4, 7)  # never stops early: the last epoch
    assert early_stopping(np.array([0.5]), 1) == (0, 0)
    assert early_stopping(np.linspace(1, 0, 9), 0) == (8, 8)  # still improving at the end: underfitting


def test_early_stopping_rejects_bad_input():
    for bad in (np.array([]), np.ones((2, 2)), np.array([1.0, np.nan])):
        with pytest.raises(ValueError, match="val_losses"):
            early_stopping(bad, 1)
    for patience in (-1, 1.5, True):
        with pytest.raises(ValueError, match="patience"):
            early_stopping(np.ones(3), patience)


# -- the lecture's third decay (dlcourse.reference.optim) ----------------------------------------------


def test_inverse_sqrt_decay_matches_lambdalr_and_the_lectures_tail():
    rate = 0.5
    ours = np.array([optim.inverse_sqrt_decay(s, 0.1, rate) for s in range(30)])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: (1 + rate * e) ** -0.5)
    theirs = []
    for _ in range(30):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0] == 0.1
    # For large steps it is the lecture's t / sqrt(epoch) * alpha_0 with t = 1 / sqrt(decay_rate).
    far = 10**8
    assert optim.inverse_sqrt_decay(far, 0.1, rate) == pytest.approx(rate**-0.5 / math.sqrt(far) * 0.1, rel=1e-7)
    assert optim.inverse_sqrt_decay(1000, 0.1, 0.0) == 0.1
    # Slower than 1/t at the same decay rate, for every step after the first.
    assert all(optim.inverse_sqrt_decay(s, 0.1, rate) > optim.inverse_time_decay(s, 0.1, rate) for s in range(1, 50))
    with pytest.raises(ValueError, match="step"):
        optim.inverse_sqrt_decay(-1, 0.1, rate)
    with pytest.raises(ValueError, match="decay_rate"):
        optim.inverse_sqrt_decay(3, 0.1, -0.5)
