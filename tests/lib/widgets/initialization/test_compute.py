"""Tests of dlcourse.widgets.initialization.compute: the computations of notebook 04's views.

The deep-stack summaries are checked on the reference's activations; the MLP's
loss and SGD step, and the first steps of the stack trained by train_stack,
against PyTorch autograd.
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
    SATURATED,
    _softmax_cross_entropy,
    activation_rows,
    deep_stack,
    histogram_rows,
    initial_loss,
    layer_stds,
    mlp_weights,
    off_fraction,
    standardize,
    train_mlp,
    train_stack,
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


def test_activation_rows_can_cut_the_spike_of_relu_zeros() -> None:
    rows = np.array([[0.0, 0.0, 0.8, 0.1, 0.1]])  # 80 % of a ReLU layer's values are 0 (bin 2)
    np.testing.assert_allclose(activation_rows(rows), [[0, 0, 1, 0.125, 0.125]])
    np.testing.assert_allclose(activation_rows(rows, skip=2), [[0, 0, 1, 1, 1]])  # the rest, scaled to its own peak
    np.testing.assert_array_equal(activation_rows(np.zeros((2, 3)), skip=1), np.zeros((2, 3)))


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
    loss, dscores = _softmax_cross_entropy(scores, y)
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


# -- the stack trained on the digits -------------------------------------------------------------

def test_off_fraction_counts_dead_relus_and_saturated_tanh_units() -> None:
    h = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # unit 0 is 0 on both samples: dead on this batch
    np.testing.assert_allclose(off_fraction([h, np.zeros((2, 4))], "relu"), [1 / 3, 1.0])
    t = np.array([[SATURATED + 0.001, 0.5], [-1.0, -0.2]])
    np.testing.assert_allclose(off_fraction([t], "tanh"), [0.5])
    assert np.isnan(off_fraction([np.array([[np.inf]])], "relu")[0])


def _stack_setup(depth: int = 3, width: int = 5, n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, width)), rng.integers(0, 3, n)
    directions = [rng.standard_normal((width, width)) for _ in range(depth)]
    readout = rng.standard_normal((width, 3)) / math.sqrt(width)
    return X, y, directions, readout


def test_train_stack_takes_the_sgd_steps_torch_takes() -> None:
    X, y, directions, readout = _stack_setup()
    edges = np.linspace(-3, 3, 13)
    run = train_stack(ref.forward_activations, ref.weight_gradients, X, y, X[:7], y[:7], directions, readout, 1.3,
                      "tanh", steps=4, every=2, learning_rate=0.2, edges=edges, batch_size=16, seed=3)
    assert run.diverged_at is None and run.losses.shape == (4,) and run.stds.shape == (3, 3)
    np.testing.assert_array_equal(run.snapshot_steps, [0, 2, 4])
    # The same four steps in torch: the same batches (one permutation per epoch from the same generator).
    order = np.random.default_rng(3)
    queue = np.concatenate([order.permutation(40), order.permutation(40)])
    ws = [torch.tensor(1.3 / math.sqrt(5) * d, requires_grad=True) for d in directions]
    v = torch.tensor(readout, requires_grad=True)
    losses, snapshots = [], []
    for step in range(5):
        if step % 2 == 0:
            with torch.no_grad():
                h = torch.tensor(X[:7])
                for w in ws:
                    h = torch.tanh(h @ w)
            snapshots.append(float(h.std(unbiased=False)))
        if step == 4:
            break
        idx = queue[16 * step:16 * (step + 1)]
        h = torch.tensor(X[idx])
        for w in ws:
            h = torch.tanh(h @ w)
        loss = torch.nn.functional.cross_entropy(h @ v, torch.tensor(y[idx]))
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (*ws, v):
                p -= 0.2 * p.grad
                p.grad = None
    np.testing.assert_allclose(run.losses, losses, rtol=1e-10)
    np.testing.assert_allclose(run.stds[:, -1], snapshots, rtol=1e-10)  # the last layer's std at steps 0, 2, 4
    np.testing.assert_allclose(run.hist.sum(axis=2), 1.0)  # every row is a histogram of one layer


def test_train_stack_stops_at_a_divergence_and_leaves_nan() -> None:
    X, y, directions, readout = _stack_setup()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Activations of 1e300 by the last layer: the scores overflow, the loss is not a number.
        run = train_stack(ref.forward_activations, ref.weight_gradients, X, y, X[:7], y[:7], directions, readout,
                          1e100, "relu", steps=30, every=5, learning_rate=0.1, edges=np.linspace(-3, 3, 7))
    assert run.diverged_at is not None and not np.isfinite(run.losses[run.diverged_at])
    assert np.all(np.isfinite(run.losses[:run.diverged_at]))
    assert np.all(np.isnan(run.losses[run.diverged_at + 1:]))
    after = run.diverged_at // 5 + 1
    assert np.all(np.isnan(run.stds[after:])) and np.all(run.hist[after:] == 0)


def test_train_stack_does_not_change_its_arguments() -> None:
    X, y, directions, readout = _stack_setup()
    saved = [X.copy(), y.copy(), readout.copy(), *[d.copy() for d in directions]]
    train_stack(ref.forward_activations, ref.weight_gradients, X, y, X[:7], y[:7], directions, readout, 1.0,
                "relu", steps=3, every=1, learning_rate=0.1, edges=np.linspace(-3, 3, 7))
    for before, after in zip(saved, [X, y, readout, *directions], strict=True):
        np.testing.assert_array_equal(before, after)
