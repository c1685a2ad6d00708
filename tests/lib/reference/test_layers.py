"""Tests of dlcourse.reference.layers.

Every backward pass is proven twice: against central-difference numerical
gradients (relative error < 1e-7) and against PyTorch autograd in float64.
Forward values are compared with torch.nn.functional as well.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient, eval_numerical_gradient_array
from dlcourse.reference import layers

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal samples pushed at least 0.1 away from 0, so central differences
    (h = 1e-5) never straddle the kink of ReLU or leaky ReLU."""
    z = rng.standard_normal(shape)
    return np.sign(z) * (0.1 + np.abs(z))


# ---- affine


@pytest.mark.parametrize("x_shape", [(4, 5), (3, 2, 4), (2, 3, 2, 2)])
def test_affine_backward_numerical(x_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    D, M = int(np.prod(x_shape[1:])), 3
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((x_shape[0], M))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    dx_num = eval_numerical_gradient_array(lambda v: layers.affine_forward(v, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: layers.affine_forward(x, v, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: layers.affine_forward(x, w, v)[0], b, dout)
    assert rel_error(dx, dx_num) < NUM_TOL
    assert rel_error(dw, dw_num) < NUM_TOL
    assert rel_error(db, db_num) < NUM_TOL


@pytest.mark.parametrize("x_shape", [(4, 5), (3, 2, 4)])
def test_affine_matches_torch(x_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    D, M = int(np.prod(x_shape[1:])), 6
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((x_shape[0], M))
    out, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    # torch's linear takes the weight as (M, D): out = x W^T + b
    out_t = F.linear(xt.reshape(x_shape[0], -1), wt.T, bt)
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dw, wt.grad.numpy()) < TORCH_TOL
    assert rel_error(db, bt.grad.numpy()) < TORCH_TOL


def test_affine_flattens_each_example() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4))  # (N, d1, d2)
    w, b = rng.standard_normal((12, 5)), rng.standard_normal(5)
    out, cache = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(2, 12) @ w + b, rtol=1e-13)
    assert cache[0].shape == (2, 3, 4)  # the cache keeps x's original shape
    dx, _, _ = layers.affine_backward(np.ones((2, 5)), cache)
    assert dx.shape == (2, 3, 4)
    np.testing.assert_allclose(dx[1, 2], w.sum(axis=1).reshape(3, 4)[2], rtol=1e-13)


# ---- elementwise activations: (forward, backward, torch function)

ACTIVATIONS = {
    "relu": (layers.relu_forward, layers.relu_backward, F.relu),
    "leaky_relu": (
        partial(layers.leaky_relu_forward, alpha=0.01),
        layers.leaky_relu_backward,
        partial(F.leaky_relu, negative_slope=0.01),
    ),
    "leaky_relu_0.3": (
        partial(layers.leaky_relu_forward, alpha=0.3),
        layers.leaky_relu_backward,
        partial(F.leaky_relu, negative_slope=0.3),
    ),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward, torch.sigmoid),
    "tanh": (layers.tanh_forward, layers.tanh_backward, torch.tanh),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_activation_backward_numerical(name: str, shape: tuple[int, ...]) -> None:
    forward, backward, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(3)
    x, dout = away_from_zero(rng, shape), rng.standard_normal(shape)
    _, cache = forward(x)
    dx = backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: forward(v)[0], x, dout)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_num) < NUM_TOL


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name: str) -> None:
    forward, backward, torch_fn = ACTIVATIONS[name]
    rng = np.random.default_rng(4)
    x, dout = 3 * rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    x[0, :3] = 0.0  # the kink: both sides take the gradient for x <= 0 there
    out, cache = forward(x)
    dx = backward(dout, cache)
    xt = t(x, True)
    out_t = torch_fn(xt)
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL


def test_sigmoid_is_stable_for_large_inputs() -> None:
    x = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow to 0 is fine)
        out, cache = layers.sigmoid_forward(x)
        dx = layers.sigmoid_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(out, torch.sigmoid(t(x)).numpy(), rtol=1e-14, atol=0)
    assert out[0] == 0.0 and out[-1] == 1.0 and out[3] == 0.5
    assert np.all(np.isfinite(dx))


# ---- dropout


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.9])
def test_dropout_mask_is_the_contract_formula(p: float) -> None:
    x = np.random.default_rng(5).standard_normal((8, 9))
    out, _ = layers.dropout_forward(x, p, "train", np.random.default_rng(6))
    mask = (np.random.default_rng(6).random(x.shape) >= p) / (1 - p)
    np.testing.assert_array_equal(out, x * mask)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_backward_numerical(p: float) -> None:
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    _, cache = layers.dropout_forward(x, p, "train", np.random.default_rng(8))
    dx = layers.dropout_backward(dout, cache)

    def f(v: np.ndarray) -> np.ndarray:  # the same seed, hence the same mask, on every call
        return layers.dropout_forward(v, p, "train", np.random.default_rng(8))[0]

    assert rel_error(dx, eval_numerical_gradient_array(f, x, dout)) < NUM_TOL


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_matches_torch_with_the_same_mask(p: float) -> None:
    rng = np.random.default_rng(9)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    out, cache = layers.dropout_forward(x, p, "train", np.random.default_rng(10))
    dx = layers.dropout_backward(dout, cache)
    keep = np.random.default_rng(10).random(x.shape) >= p
    xt = t(x, True)
    out_t = xt * t(keep.astype(np.float64)) / (1 - p)  # torch's inverted dropout with our mask
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_train_keeps_the_expectation(p: float) -> None:
    n = 200_000
    x = np.full(n, 2.0)
    out, _ = layers.dropout_forward(x, p, "train", np.random.default_rng(11))
    # Each out_i is 0 or 2 / (1 - p): mean 2, standard deviation 2 sqrt(p / (1 - p)).
    # Six standard errors of the mean: a wrong scaling (missing 1/(1-p)) is off by far more,
    # and the seed makes the test deterministic anyway.
    tol = 6 * 2 * np.sqrt(p / (1 - p)) / np.sqrt(n)
    assert abs(out.mean() - 2.0) < tol
    assert abs(np.mean(out == 0) - p) < 6 * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("rng", [None, np.random.default_rng(12)])
def test_dropout_test_mode_is_the_identity(rng: np.random.Generator | None) -> None:
    x = np.random.default_rng(13).standard_normal((4, 3))
    dout = np.random.default_rng(14).standard_normal((4, 3))
    out, cache = layers.dropout_forward(x, 0.5, "test", rng)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)


def test_dropout_p_zero_is_the_identity_in_train_mode() -> None:
    x = np.random.default_rng(15).standard_normal((4, 3))
    out, cache = layers.dropout_forward(x, 0.0, "train", np.random.default_rng(16))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layers.dropout_backward(np.ones_like(x), cache), np.ones_like(x))


# ---- losses: (ours, torch, a seeded (input, target) maker)


def _regression(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def _classification(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Unit-scale scores: with much larger ones some softmax gradients are ~1e-5, below
    # what a central difference of an O(1) loss resolves to a relative 1e-7.
    return rng.standard_normal((6, 5)), rng.integers(0, 5, size=6)


def _binary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.05, 0.95, size=(4, 3)), rng.integers(0, 2, size=(4, 3)).astype(float)


def _torch_ce(s: torch.Tensor, y: np.ndarray) -> torch.Tensor:
    return F.cross_entropy(s, torch.as_tensor(y))


def _torch_bce(p: torch.Tensor, y: np.ndarray) -> torch.Tensor:
    return F.binary_cross_entropy(p, t(y))


LOSSES: dict[str, tuple[Callable, Callable, Callable]] = {
    "mse": (layers.mse_loss, lambda a, y: F.mse_loss(a, t(y)), _regression),
    "softmax_ce": (layers.softmax_cross_entropy, _torch_ce, _classification),
    "bce": (layers.binary_cross_entropy, _torch_bce, _binary),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient_numerical(name: str) -> None:
    loss_fn, _, make = LOSSES[name]
    a, y = make(np.random.default_rng(17))
    loss, da = loss_fn(a, y)
    assert isinstance(loss, float) and da.shape == a.shape
    da_num = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], a)
    assert rel_error(da, da_num) < NUM_TOL


@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_torch(name: str) -> None:
    loss_fn, torch_fn, make = LOSSES[name]
    a, y = make(np.random.default_rng(18))
    loss, da = loss_fn(a, y)
    at = t(a, True)
    loss_t = torch_fn(at, y)
    loss_t.backward()
    assert rel_error(loss, loss_t.item()) < TORCH_TOL
    assert rel_error(da, at.grad.numpy()) < TORCH_TOL


def test_mse_is_a_mean_over_all_elements() -> None:
    loss, dpred = layers.mse_loss(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2)))
    assert loss == pytest.approx(30 / 4)
    np.testing.assert_allclose(dpred, 2 * np.array([[1.0, 2.0], [3.0, 4.0]]) / 4)


def test_softmax_cross_entropy_is_stable_for_scores_of_1e4() -> None:
    scores = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [-1e4, 1e4, 1e4]])
    y = np.array([0, 1, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no inf, no nan
        loss, dscores = layers.softmax_cross_entropy(scores, y)
    # Per row: -log softmax = 0, log 2 and 2e4 + log 2.
    assert loss == pytest.approx((0 + np.log(2) + 2e4 + np.log(2)) / 3, rel=1e-14)
    assert np.all(np.isfinite(dscores))
    st = t(scores, True)
    loss_t = F.cross_entropy(st, torch.as_tensor(y))
    loss_t.backward()
    assert rel_error(loss, loss_t.item()) < TORCH_TOL
    assert rel_error(dscores, st.grad.numpy()) < TORCH_TOL


def test_binary_cross_entropy_is_finite_at_0_and_1() -> None:
    p, y = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dp = layers.binary_cross_entropy(p, y)
    # Two confident mistakes cost -log(eps) each, two confident hits about 0.
    assert loss == pytest.approx(2 * -np.log(layers.BCE_EPS) / 4, rel=1e-6)
    assert np.all(np.isfinite(dp))
    assert dp[0] < 0 < dp[1]  # the gradient still points towards the target


# ---- bad input: a ValueError that says what was expected

RNG = np.random.default_rng(19)
X, W, B = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal(4)
_, AFFINE_CACHE = layers.affine_forward(X, W, B)
_, RELU_CACHE = layers.relu_forward(X)

BAD_INPUT = [
    pytest.param(layers.affine_forward, (X[0], W, B), r"batch axis first", id="affine-1d-x"),
    pytest.param(layers.affine_forward, (X, W[0], B), r"w must be 2-D", id="affine-1d-w"),
    pytest.param(layers.affine_forward, (X, W.T, B), r"is w transposed\?", id="affine-w-T"),
    pytest.param(layers.affine_forward, (X, W[:2], B), r"D = 3 features", id="affine-D-mismatch"),
    pytest.param(layers.affine_forward, (X, W, B[:3]), r"b must have shape", id="affine-b"),
    pytest.param(layers.affine_backward, (np.ones((2, 3)), AFFINE_CACHE), r"dout has shape",
                 id="affine-dout"),
    pytest.param(layers.relu_backward, (np.ones((3, 2)), RELU_CACHE), r"dout has shape",
                 id="relu-dout"),
    pytest.param(layers.relu_forward, (["a", "b"],), r"array of numbers", id="relu-strings"),
    pytest.param(layers.leaky_relu_forward, (X, "0.1"), r"alpha must be", id="leaky-alpha"),
    pytest.param(layers.dropout_forward, (X, 1.0, "train", RNG), r"\[0, 1\)", id="dropout-p-1"),
    pytest.param(layers.dropout_forward, (X, -0.1, "train", RNG), r"\[0, 1\)", id="dropout-p-neg"),
    pytest.param(layers.dropout_forward, (X, 0.5, "eval", RNG), r"'train' or 'test'",
                 id="dropout-mode"),
    pytest.param(layers.dropout_forward, (X, 0.5, "train", None), r"numpy Generator",
                 id="dropout-no-rng"),
    pytest.param(layers.dropout_forward, (X, 0.5, "train", 0), r"numpy Generator",
                 id="dropout-int-rng"),
    pytest.param(layers.mse_loss, (X, X.T), r"same shape", id="mse-shapes"),
    pytest.param(layers.mse_loss, (np.zeros(0), np.zeros(0)), r"empty", id="mse-empty"),
    pytest.param(layers.softmax_cross_entropy, (X[0], np.array([0])), r"\(N, C\)",
                 id="ce-1d-scores"),
    pytest.param(layers.softmax_cross_entropy, (X, np.array([0, 1, 2])), r"one label per row",
                 id="ce-y-length"),
    pytest.param(layers.softmax_cross_entropy, (X, np.array([0, 3])), r"\[0, 3\), got 3",
                 id="ce-label-too-big"),
    pytest.param(layers.softmax_cross_entropy, (X, np.array([-1, 0])), r"got -1",
                 id="ce-label-negative"),
    pytest.param(layers.softmax_cross_entropy, (X, np.array([0.0, 1.0])), r"integer class labels",
                 id="ce-float-labels"),
    pytest.param(layers.binary_cross_entropy, (np.full(3, 0.5), np.ones(4)), r"same shape",
                 id="bce-shapes"),
    pytest.param(layers.binary_cross_entropy, (np.array([1.5, 0.5]), np.ones(2)),
                 r"probabilities in \[0, 1\]", id="bce-p-range"),
    pytest.param(layers.binary_cross_entropy, (np.array([0.5, 0.5]), np.array([0.0, 2.0])),
                 r"targets in \[0, 1\]", id="bce-y-range"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
