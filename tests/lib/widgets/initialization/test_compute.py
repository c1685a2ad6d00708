"""Tests of dlcourse.widgets.initialization.compute: the computations of notebook 04's views.

The deep-stack summaries are checked on the reference's activations, the MLP's
loss and SGD step against PyTorch autograd.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from dlcourse.data import load_digits
from dlcourse.reference import init as ref
from dlcourse.widgets.initialization.compute import (
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    layer_stds,
    mlp_weights,
    softmax_cross_entropy,
    standardize,
    train_mlp,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


# -- computations --------------------------------------------------------------------

def test_histogram_rows_count_overflow_in_the_edge_bins() -> None:
    edges = np.linspace(-1.0, 1.0, 5)  # bins of width 0.5
    rows = histogram_rows([np.array([-5.0, -0.9, 0.1, 0.2, 0.9, np.inf]), np.zeros(4)], edges)
    np.testing.assert_allclose(rows[0], np.array([2, 0, 2, 2]) / 6)
    np.testing.assert_allclose(rows[1], [0, 0, 1, 0])  # 0 falls in the bin [0, 0.5)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    np.testing.assert_allclose(activation_rows(rows)[0], [1, 0, 1, 1])
    assert histogram_rows([], edges).shape == (0, 4)


def test_deep_stack_draws_the_inputs_and_matrices_once() -> None:
    x, Z = deep_stack(width=12, depth=5, n_samples=9, seed=3)
    assert x.shape == (9, 12) and len(Z) == 5 and Z[0].shape == (12, 12)
    again, Z_again = deep_stack(width=12, depth=5, n_samples=9, seed=3)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(Z[4], Z_again[4])


def test_layer_stds_are_the_std_of_each_layer() -> None:
    x, Z = deep_stack(width=12, depth=5, n_samples=9, seed=3)
    dout = np.random.default_rng(0).standard_normal((9, 12))
    for activation in ("tanh", "relu"):
        ws = [1.3 / math.sqrt(12) * z for z in Z]
        hs = ref.forward_activations(x, ws, activation)
        grads = ref.weight_gradients(x, ws, activation, dout)
        np.testing.assert_allclose(layer_stds(hs), [h.std() for h in hs], rtol=1e-12)
        np.testing.assert_allclose(layer_stds(grads), [g.std() for g in grads], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not np.isfinite(layer_stds([np.array([1e308, -1e308])])[0])  # overflow: shown at the border


def test_kaiming_keeps_relu_activations_while_small_weights_collapse() -> None:
    x, Z = deep_stack(width=200, depth=10, n_samples=100, seed=0)
    kaiming = layer_stds(ref.forward_activations(x, [math.sqrt(2 / 200) * z for z in Z], "relu"))
    tiny = layer_stds(ref.forward_activations(x, [0.01 * z for z in Z], "relu"))
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
