"""Tests of dlcourse.widgets.initialization: the computations of notebook 04's views, in-place updates, fallbacks.

No browser: views draw on Agg. The deep-stack statistics are checked against the
reference, the MLP's loss and SGD step against PyTorch autograd.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from dlcourse.data import load_digits
from dlcourse.reference import init as ref
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.initialization import (
    ActivationStatsView,
    InitialLossView,
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    mlp_weights,
    softmax_cross_entropy,
    stack_statistics,
    standardize,
    train_mlp,
)


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def loss_view(digits) -> InitialLossView:
    return InitialLossView(digits.X_train, digits.y_train, digits.X_val, digits.y_val, epochs=2)


@pytest.fixture(scope="module")
def stats_view() -> ActivationStatsView:
    return ActivationStatsView(ref.forward_activations, ref.weight_gradients, max_depth=8)


# -- computations --------------------------------------------------------------------

def test_histogram_rows_count_overflow_in_the_edge_bins() -> None:
    edges = np.linspace(-1.0, 1.0, 5)  # bins of width 0.5
    rows = histogram_rows([np.array([-5.0, -0.9, 0.1, 0.2, 0.9, np.inf]), np.zeros(4)], edges)
    np.testing.assert_allclose(rows[0], np.array([2, 0, 2, 2]) / 6)
    np.testing.assert_allclose(rows[1], [0, 0, 1, 0])  # 0 falls in the bin [0, 0.5)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    np.testing.assert_allclose(activation_rows(rows)[0], [1, 0, 1, 1])
    assert histogram_rows([], edges).shape == (0, 4)


def test_stack_statistics_agree_with_the_reference() -> None:
    x, Z = deep_stack(width=12, depth=5, n_samples=9, seed=3)
    assert x.shape == (9, 12) and len(Z) == 5 and Z[0].shape == (12, 12)
    dout = np.random.default_rng(0).standard_normal((9, 12))
    for activation in ("tanh", "relu"):
        ws = [1.3 / math.sqrt(12) * z for z in Z]
        forward, backward = stack_statistics(x, ws, activation, dout)
        hs = ref.forward_activations(x, ws, activation)
        grads = ref.weight_gradients(x, ws, activation, dout)
        np.testing.assert_allclose(forward, [h.std() for h in hs], rtol=1e-12)
        np.testing.assert_allclose(backward, [g.std() for g in grads], rtol=1e-12)


def test_kaiming_keeps_relu_activations_while_small_weights_collapse() -> None:
    x, Z = deep_stack(width=200, depth=10, n_samples=100, seed=0)
    dout = np.ones((100, 200))
    kaiming, _ = stack_statistics(x, [math.sqrt(2 / 200) * z for z in Z], "relu", dout)
    tiny, _ = stack_statistics(x, [0.01 * z for z in Z], "relu", dout)
    assert 0.3 < kaiming[-1] / kaiming[0] < 3
    assert tiny[-1] < 1e-8 * tiny[0]


def test_softmax_cross_entropy_matches_torch() -> None:
    rng = np.random.default_rng(1)
    scores, y = 5 * rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, dscores = softmax_cross_entropy(scores, y)
    t = torch.tensor(scores, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(t, torch.tensor(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dscores, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_initial_loss_is_log_k_for_tiny_weights(digits) -> None:
    X, = standardize(digits.X_train)
    tiny = mlp_weights([64, 32, 10], 1e-6, seed=0)
    assert initial_loss(tiny, X, digits.y_train) == pytest.approx(math.log(10), abs=1e-6)
    assert initial_loss(mlp_weights([64, 32, 10], 1.0, seed=0), X, digits.y_train) > 10


def test_one_sgd_step_of_train_mlp_matches_torch(digits) -> None:
    X, X_val = standardize(digits.X_train, digits.X_val)
    weights = mlp_weights([64, 16, 16, 10], 0.2, seed=4)
    n = 64
    run = train_mlp(weights, X[:n], digits.y_train[:n], X_val, digits.y_val, learning_rate=0.1, epochs=2,
                    batch_size=n, seed=0)
    assert run.steps_per_epoch == 1 and run.losses.shape == (2,) and run.val_accuracy.shape == (2,)
    # The same two full-batch steps in torch (the batch order does not matter for a full batch).
    ws = [torch.tensor(w, requires_grad=True) for w in weights]
    bs = [torch.zeros(w.shape[1], dtype=torch.float64, requires_grad=True) for w in weights]
    Xt, yt = torch.tensor(X[:n]), torch.tensor(digits.y_train[:n])
    losses = []
    for _ in range(2):
        h = Xt
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = h @ w + b
            h = torch.relu(h) if i < len(ws) - 1 else h
        loss = torch.nn.functional.cross_entropy(h, yt)
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (*ws, *bs):
                p -= 0.1 * p.grad
                p.grad = None
    np.testing.assert_allclose(run.losses, losses, rtol=1e-10)
    assert not run.diverged


def test_train_mlp_stops_when_the_loss_blows_up(digits) -> None:
    X, X_val = standardize(digits.X_train, digits.X_val)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = train_mlp(mlp_weights([64, 64, 64, 64, 10], 3.0, seed=0), X, digits.y_train, X_val, digits.y_val,
                        learning_rate=0.1, epochs=3)
    assert run.diverged and np.isnan(run.losses[-1])


# -- views ---------------------------------------------------------------------------

def test_views_are_registered() -> None:
    names = {(e.notebook, e.name) for e in ALL_VIEWS}
    assert ("04_initialization", "ActivationStatsView") in names
    assert ("04_initialization", "InitialLossView") in names


def test_stats_view_updates_in_place_with_the_students_functions(stats_view) -> None:
    view = stats_view
    artists = (list(view.fig.axes), view._fwd_line, list(view._ridges))
    view.update(gain=math.sqrt(2), activation=1, depth=6)
    view.draw()
    assert list(view.fig.axes) == artists[0] and view._fwd_line is artists[1] and view._ridges == artists[2]
    x, y = view._fwd_line.get_data()
    hs = ref.forward_activations(view.x, view.weights(math.sqrt(2), 6), "relu")
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_allclose(y, [h.std() for h in hs], rtol=1e-10)
    grads = ref.weight_gradients(view.x, view.weights(math.sqrt(2), 6), "relu", view.dout)
    np.testing.assert_allclose(view._bwd_line.get_ydata(), [g.std() for g in grads], rtol=1e-10)
    assert [r.get_visible() for r in view._ridges] == [True] * 6 + [False] * 2
    assert "reference" not in view.title.get_text()
    with pytest.raises(TypeError, match="unknown slider"):
        view.update(width=3)


def test_stats_view_clips_explosions_to_its_axes(stats_view) -> None:
    stats_view.update(gain=30.0, activation=1, depth=8)
    y = stats_view._fwd_line.get_ydata()
    assert np.all(np.isfinite(y)) and y.max() == stats_view.LIMITS[1]


def test_stats_view_falls_back_to_the_reference() -> None:
    view = ActivationStatsView(stub, lambda *a: [np.zeros((2, 2))], max_depth=4)
    title = view.title.get_text()
    assert "your forward_activations is not done yet" in title and "weight_gradients returned shape" in title
    expected = [h.std() for h in ref.forward_activations(view.x, view.weights(1.0, 4), "tanh")]
    np.testing.assert_allclose(view.forward_stats(1.0, "tanh")[0], expected, rtol=1e-10)


def test_loss_view_updates_in_place_and_caches_runs(loss_view) -> None:
    view = loss_view
    line, marker = view._train_line, view._marker
    view.update(std=1e-3, hidden_layers=1)
    first = view._train_line.get_ydata().copy()
    runs = len(view._runs)
    view.update(std=0.1)
    view.update(std=1e-3)
    assert view._train_line is line and view._marker is marker
    assert len(view._runs) == runs + 1  # 1e-3 came from the cache
    np.testing.assert_array_equal(view._train_line.get_ydata(), first)
    start = view._marker.get_ydata()[0]
    assert start == pytest.approx(math.log(10), abs=1e-3)  # tiny weights start at log K
    np.testing.assert_allclose(view.loss_curve(1)[0], math.log(10), atol=1e-6)


def test_loss_view_shows_divergence_without_warnings(loss_view) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_view.update(std=10**0.5, hidden_layers=3)
        loss_view.fig.canvas.draw()
    assert loss_view._text.get_text().startswith("diverged")
    assert np.all(np.isfinite(loss_view._train_line.get_ydata()))


def test_stats_view_works_where_the_reference_is_absent(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_reference(name, globals=None, locals=None, fromlist=(), level=0):
        if name.startswith("dlcourse.reference"):
            raise ImportError("dlcourse.reference is not available while grading")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_reference)
    view = ActivationStatsView(stub, stub, max_depth=4)
    assert "not done yet" in view.title.get_text()
    monkeypatch.undo()
    expected = [h.std() for h in ref.forward_activations(view.x, view.weights(1.0, 4), "tanh")]
    np.testing.assert_allclose(view._fwd_line.get_ydata(), expected, rtol=1e-10)
    grads = ref.weight_gradients(view.x, view.weights(1.0, 4), "tanh", view.dout)
    np.testing.assert_allclose(view._bwd_line.get_ydata(), [g.std() for g in grads], rtol=1e-10)
