"""Tests of dlcourse.widgets.batchnorm: the computations of notebook 05's views (checked against PyTorch autograd
where they train), in-place updates on the precomputed grid, the student's functions and their fallbacks.

No browser: views draw on Agg, built on small grids so that the module runs in seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dlcourse.lazy_reference
from dlcourse.data import load_digits
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import layers, norm
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.batchnorm import (
    VIEWS,
    BatchNormLRView,
    RegularizationGapView,
    kaiming_directions,
    noisy_subset,
    preactivation_stds,
    standardize,
    train_curve,
    train_regularized,
)
from dlcourse.widgets.batchnorm.compute import _cross_entropy

pytestmark = pytest.mark.notebook("05_batchnorm")

BN = (norm.batchnorm_forward, norm.batchnorm_backward)
DROPOUT = (layers.dropout_forward, layers.dropout_backward)


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def small(digits):
    X, y = noisy_subset(digits.X_train, digits.y_train, n=120, noise=0.3, seed=0)
    return X, y, digits.X_val[:100], digits.y_val[:100]


def lr_view(digits, **kw) -> BatchNormLRView:
    options = {"n_samples": 64, "hidden": (16, 16), "epochs": 2, "batch_size": 32, "learning_rates": (1e-2, 1.0),
               "scales": (0.1, 10.0), "step_decades": 1.0}
    return BatchNormLRView(digits.X_train, digits.y_train, **(options | kw))


def gap_view(small, **kw) -> RegularizationGapView:
    options = {"drop_rates": (0.0, 0.5), "weight_decays": (0.1, 10.0), "step_decades": 2.0, "hidden": 16,
               "epochs": 5}
    return RegularizationGapView(*small, **(options | kw))


# -- computations -----------------------------------------------------------------------------------------


def test_standardize_and_noisy_subset(digits):
    Z, Z_val = standardize(digits.X_train, digits.X_val)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    assert np.all(Z.std(axis=0)[digits.X_train.std(axis=0) > 0] > 0.999) and Z_val.shape == digits.X_val.shape
    X, y = noisy_subset(digits.X_train, digits.y_train, n=300, noise=0.3, seed=0)
    X0, y0 = noisy_subset(digits.X_train, digits.y_train, n=300, noise=0.0, seed=0)
    np.testing.assert_array_equal(X, X0)  # the same images, only some labels differ
    assert X.shape == (300, 64) and 0.2 < np.mean(y != y0) < 0.32
    rows = [np.flatnonzero((digits.X_train == row).all(axis=1))[0] for row in X0[:20]]
    np.testing.assert_array_equal(y0[:20], digits.y_train[rows])  # noise 0: the true labels
    with pytest.raises(ValueError, match="0 < n"):
        noisy_subset(digits.X_train, digits.y_train, n=0, noise=0.1)


def test_cross_entropy_matches_torch():
    rng = np.random.default_rng(0)
    scores, y = 5 * rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, dscores = _cross_entropy(scores, y)
    t = torch.tensor(scores, requires_grad=True)
    expected = F.cross_entropy(t, torch.tensor(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dscores, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_kaiming_directions_have_kaimings_std():
    ws = kaiming_directions([400, 300, 10], seed=1)
    assert [w.shape for w in ws] == [(400, 300), (300, 10)]
    assert ws[0].std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)


def _torch_losses(X, y, weights, lr, batchnorm, steps):
    """Full-batch SGD on the same network in PyTorch (float64): the loss before each step."""
    ws = [torch.tensor(w, requires_grad=True) for w in weights]
    bs = [torch.zeros(w.shape[1], dtype=torch.float64, requires_grad=True) for w in weights]
    gammas = [torch.ones(w.shape[1], dtype=torch.float64, requires_grad=True) for w in weights[:-1]]
    betas = [torch.zeros(w.shape[1], dtype=torch.float64, requires_grad=True) for w in weights[:-1]]
    params = ws + [bs[-1]] + (gammas + betas if batchnorm else bs[:-1])
    losses = []
    for _ in range(steps):
        h = torch.tensor(X)
        for i in range(len(ws) - 1):
            a = h @ ws[i]
            a = F.batch_norm(a, None, None, gammas[i], betas[i], training=True, eps=1e-5) if batchnorm else a + bs[i]
            h = torch.relu(a)
        loss = F.cross_entropy(h @ ws[-1] + bs[-1], torch.tensor(y))
        losses.append(loss.item())
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
    return np.array(losses)


@pytest.mark.parametrize("batchnorm", [None, BN], ids=["plain", "batch norm"])
def test_train_curve_is_sgd_on_the_network_torch_computes(digits, batchnorm):
    X, y = standardize(digits.X_train[:40])[0], digits.y_train[:40]
    weights = kaiming_directions([64, 12, 8, 10], seed=3)
    # One batch of all 40 samples: three full-batch steps, whatever the shuffling.
    ours = train_curve(X, y, weights, 0.3, batchnorm=batchnorm, epochs=3, batch_size=40)
    np.testing.assert_allclose(ours, _torch_losses(X, y, weights, 0.3, batchnorm is not None, 3), rtol=1e-9)
    np.testing.assert_array_equal(weights[0], kaiming_directions([64, 12, 8, 10], seed=3)[0])  # not modified


def test_train_curve_marks_divergence_with_nan(digits):
    X, y = standardize(digits.X_train[:64])[0], digits.y_train[:64]
    losses = train_curve(X, y, kaiming_directions([64, 32, 32, 10]), 10.0, epochs=3, batch_size=16)
    first_bad = int(np.argmax(~np.isfinite(losses)))
    assert 0 < first_bad and np.all(np.isnan(losses[first_bad:])) and np.all(np.isfinite(losses[:first_bad]))


def test_preactivation_stds_with_and_without_batchnorm(digits):
    X = standardize(digits.X_train[:64])[0]
    ws = kaiming_directions([64, 32, 32, 32, 10])
    plain1, plain2 = preactivation_stds(X, ws), preactivation_stds(X, [2 * w for w in ws])
    np.testing.assert_allclose(plain2 / plain1, [2, 4, 8], rtol=1e-10)  # ReLU layers are positively homogeneous
    np.testing.assert_allclose(preactivation_stds(X, [100 * w for w in ws], BN), 1.0, atol=1e-3)


def test_train_regularized_uses_the_dropout_it_is_given(small):
    calls = []

    def spy_forward(x, p, mode, rng):
        calls.append((x.shape, p, mode))
        return layers.dropout_forward(x, p, mode, rng)

    run = train_regularized(*small, p=0.4, weight_decay=0.0, dropout=(spy_forward, layers.dropout_backward),
                            hidden=16, epochs=3, batch_size=60)
    assert len(calls) == 3 * 2 and all(c == ((60, 16), 0.4, "train") for c in calls)
    assert run.train_accuracy.shape == run.val_accuracy.shape == (3,)
    again = train_regularized(*small, p=0.4, weight_decay=0.0, dropout=DROPOUT, hidden=16, epochs=3, batch_size=60)
    np.testing.assert_array_equal(run.val_accuracy, again.val_accuracy)  # seeded
    without = train_regularized(*small, p=0.4, weight_decay=0.0, dropout=None, hidden=16, epochs=3, batch_size=60)
    with_zero = train_regularized(*small, p=0.0, weight_decay=0.0, dropout=DROPOUT, hidden=16, epochs=3,
                                  batch_size=60)
    np.testing.assert_array_equal(without.val_accuracy, with_zero.val_accuracy)


def test_regularization_closes_the_gap_on_noisy_labels(digits):
    X, y = noisy_subset(digits.X_train, digits.y_train, n=300, noise=0.3, seed=0)
    X, X_val = standardize(X, digits.X_val)
    kw = {"hidden": 64, "epochs": 60, "batch_size": 300, "learning_rate": 1e-2}
    free = train_regularized(X, y, X_val, digits.y_val, p=0.0, weight_decay=0.0, dropout=DROPOUT, **kw)
    dropped = train_regularized(X, y, X_val, digits.y_val, p=0.8, weight_decay=0.0, dropout=DROPOUT, **kw)
    decayed = train_regularized(X, y, X_val, digits.y_val, p=0.0, weight_decay=10.0, dropout=DROPOUT, **kw)
    assert free.train_accuracy[-1] > 0.95 and free.gap > 0.15  # it memorizes the wrong labels
    assert dropped.gap < free.gap - 0.15 and decayed.gap < free.gap - 0.15


# -- views ----------------------------------------------------------------------------------------------------


def test_batchnorm_view_updates_in_place_on_its_grid(digits):
    view = lr_view(digits, batchnorm_forward=norm.batchnorm_forward, batchnorm_backward=norm.batchnorm_backward)
    view.fig.canvas.draw()
    assert view.title.get_text() == view.base_title  # the student's functions ran: no note
    axes, lines = list(view.fig.axes), [list(ax.lines) for ax in view.fig.axes]
    assert list(view.lrs) == pytest.approx([1e-2, 1e-1, 1.0]) and view.plain.shape == (3, 3, view.steps)
    before = view._bn_line.get_ydata().copy()
    view.update(learning_rate=0.9, init_scale=11.0)  # snaps to 1.0 and 10.0
    view.draw()
    assert view.fig.axes == axes and [list(ax.lines) for ax in view.fig.axes] == lines
    assert not np.allclose(view._bn_line.get_ydata(), before)
    np.testing.assert_allclose(view._lr_marker.get_xdata(), [1.0, 1.0])
    np.testing.assert_allclose(view._bn_std.get_ydata(), 1.0, atol=1e-3)
    assert "lr 1, scale 10" in view._text.get_text()
    # The grid's runs are the computation's: the same call gives the same curve.
    weights = [10.0 * w for w in view.directions]
    np.testing.assert_allclose(view.plain[2, 2], train_curve(view.X, view.y, weights, 1.0, epochs=2, batch_size=32))


def test_batchnorm_view_falls_back_and_says_what_is_missing(digits, monkeypatch):
    view = lr_view(digits, batchnorm_forward=stub, batchnorm_backward=stub)
    assert "using the reference: your batchnorm_forward/backward is not done yet" in view.title.get_text()
    assert view._bn_line.get_visible()
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = lr_view(digits, batchnorm_forward=stub, batchnorm_backward=stub)
    assert view.title.get_text().endswith("(implement `batchnorm_forward/backward` first)")
    assert not view._bn_line.get_visible() and view._plain_line.get_visible()
    working = lr_view(digits, batchnorm_forward=norm.batchnorm_forward, batchnorm_backward=norm.batchnorm_backward)
    assert working.title.get_text() == working.base_title and working._bn_line.get_visible()


def test_gap_view_updates_in_place_and_uses_the_students_dropout(small):
    calls = []

    def spy(x, p, mode, rng):
        calls.append(p)
        return layers.dropout_forward(x, p, mode, rng)

    view = gap_view(small, dropout_forward=spy, dropout_backward=layers.dropout_backward)
    assert calls and set(calls) == {0.5}  # p = 0 draws nothing
    assert view.title.get_text() == view.base_title and view.runs.shape == (2, 2, 2, 5)
    view.fig.canvas.draw()
    lines = list(view._train_line.axes.lines)
    view.update(p=0.45, weight_decay=9.0)  # snaps to p = 0.5 and weight decay 10
    view.draw()
    assert list(view._train_line.axes.lines) == lines
    np.testing.assert_array_equal(view._val_line.get_ydata(), view.runs[1, 1, 1])
    np.testing.assert_array_equal(view._markers[0].get_xdata(), [1])
    assert f"gap {view.gap[1, 1]:+.1%}" in view._text.get_text()


def test_gap_view_falls_back_and_says_what_is_missing(small, monkeypatch):
    view = gap_view(small, dropout_forward=stub, dropout_backward=stub)
    assert "using the reference: your dropout_forward/backward is not done yet" in view.title.get_text()
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = gap_view(small)
    assert view.title.get_text().endswith("(implement `dropout_forward/backward` first)")
    assert not view._val_line.get_visible()


def test_the_notebooks_views_are_in_the_catalogue():
    names = {(e.notebook, e.name) for e in ALL_VIEWS}
    assert {("05_batchnorm", "BatchNormLRView"), ("05_batchnorm", "RegularizationGapView")} <= names
    assert [name for _, name, _ in VIEWS] == ["BatchNormLRView", "RegularizationGapView"]
