"""Tests of dlcourse.widgets.backprop.compute, the computations of notebook 02's views: the deep network's
pass (checked against PyTorch autograd) with the student's layer functions or the reference, and the two-layer
network's training."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch

import dlcourse.lazy_reference
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import layers, mlp
from dlcourse.widgets.backprop import compute as bp
from dlcourse.widgets.backprop.compute import (
    ACTIVATIONS,
    LayerFunctions,
    class_probabilities,
    decision_boundary,
    gradient_flow,
    init_two_layer,
    packed_two_layer_loss,
    train_two_layer,
    unpack,
)
from dlcourse.widgets.fallback import FunctionMissing

pytestmark = pytest.mark.notebook("02_backprop")

REFERENCE_FUNCTIONS = {
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "sigmoid_backward": layers.sigmoid_backward,
    "leaky_relu_backward": layers.leaky_relu_backward,
    "softmax_cross_entropy": layers.softmax_cross_entropy,
}


def stub(*args: object) -> object:
    raise NotImplementedError("not done yet")


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 12)), rng.integers(0, 4, 40)


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    from dlcourse.data import make_classification_2d

    return make_classification_2d(n=120, kind="moons", noise=0.15, seed=0)


def weights(depth: int, gain: float, D: int = 12, H: int = 16, C: int = 4, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [D] + [H] * (depth - 1) + [C]
    return [gain * rng.standard_normal((a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]


TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "ReLU": torch.relu,
    "leaky ReLU": lambda t: torch.nn.functional.leaky_relu(t, bp.LEAKY_ALPHA),
}


# -- computations ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_flow_matches_torch_autograd(batch, activation):
    X, y = batch
    Ws = weights(5, 1.3)
    flow = gradient_flow(X, y, Ws, activation)
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    a = torch.tensor(X)
    stds = []
    for i, W in enumerate(tW):
        a = a @ W
        if i < len(tW) - 1:
            a = TORCH_ACTIVATIONS[activation](a)
            stds.append(float(a.detach().std(unbiased=False)))
    loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    loss.backward()
    np.testing.assert_allclose(flow["grad_norm"], [float(W.grad.norm()) for W in tW], rtol=1e-10)
    np.testing.assert_allclose(flow["act_std"], stds, rtol=1e-10)
    assert flow["loss"] == pytest.approx(loss.item(), rel=1e-12)


def test_mean_slopes(batch):
    X, y = batch
    Ws = weights(4, 1.0)
    assert np.all(gradient_flow(X, y, Ws, "sigmoid")["slope"] <= 0.25)
    relu = gradient_flow(X, y, Ws, "ReLU")["slope"]
    z1 = X @ Ws[0]
    assert relu[0] == pytest.approx(np.mean(z1 > 0))  # the fraction of active units
    leaky = gradient_flow(X, y, Ws, "leaky ReLU")["slope"]
    assert leaky[0] == pytest.approx(np.mean(z1 > 0) + bp.LEAKY_ALPHA * np.mean(z1 <= 0))


def test_sigmoid_gradients_vanish_and_kaiming_relu_keeps_them(batch):
    X, y = batch
    sigmoid = gradient_flow(X, y, weights(15, 1.0), "sigmoid")["grad_norm"]
    relu = gradient_flow(X, y, weights(15, np.sqrt(2)), "ReLU")["grad_norm"]
    assert sigmoid[0] / sigmoid[-1] < 1e-5
    assert 1e-2 < relu[0] / relu[-1] < 1e2


def test_gradient_flow_rejects_an_unknown_activation(batch):
    with pytest.raises(ValueError, match="activation"):
        gradient_flow(*batch, weights(3, 1.0), "softplus")


def test_layer_functions_say_which_ones_fell_back(batch):
    X, y = batch
    expected = gradient_flow(X, y, weights(4, 1.0), "sigmoid")
    student = LayerFunctions(**REFERENCE_FUNCTIONS)
    same = gradient_flow(X, y, weights(4, 1.0), "sigmoid", student)
    np.testing.assert_allclose(same["grad_norm"], expected["grad_norm"], rtol=1e-12)
    assert all(f.note == "" for f in student.all())

    stubs = LayerFunctions(**{name: stub for name in REFERENCE_FUNCTIONS})
    fallback = gradient_flow(X, y, weights(4, 1.0), "sigmoid", stubs)
    np.testing.assert_allclose(fallback["grad_norm"], expected["grad_norm"], rtol=1e-12)
    used = [f for f in stubs.all() if f.name != "leaky_relu_backward"]  # a sigmoid network has no leaky ReLU
    assert all(f.note == f"your {f.name} is not done yet" for f in used) and stubs._leaky.note == ""
    gradient_flow(X, y, weights(4, 1.0), "leaky ReLU", stubs)
    assert stubs._leaky.note == "your leaky_relu_backward is not done yet" and stubs._sigmoid.note == ""

    def transposed(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw.T, db

    wrong = LayerFunctions(**{**REFERENCE_FUNCTIONS, "affine_backward": transposed})
    gradient_flow(X, y, weights(4, 1.0), "ReLU", wrong)
    assert "affine_backward raised ValueError" in wrong._affine_grads.note


def test_student_backward_gets_the_cache_of_the_student_forward(batch):
    X, y = batch
    seen = []

    def forward(x, w, b):
        return x @ w + b, {"mine": (x, w)}

    def backward(dout, cache):
        seen.append(sorted(cache))
        x, w = cache["mine"]
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    fns = LayerFunctions(affine_forward=forward, affine_backward=backward)
    flow = gradient_flow(X, y, weights(3, 1.0), "tanh", fns)
    assert seen and seen[0] == ["mine"] and fns._affine_grads.note == ""
    np.testing.assert_allclose(flow["grad_norm"], gradient_flow(X, y, weights(3, 1.0), "tanh")["grad_norm"])


def test_train_two_layer_descends_and_keeps_snapshots(moons):
    X, y = moons
    params = init_two_layer(8, 2, np.random.default_rng(0))
    losses, snapshots = train_two_layer(mlp.mlp_loss, params, X, y, 1.0, 50)
    assert losses.shape == (50,) and len(snapshots) == 51
    assert losses[-1] < 0.6 * losses[0]
    assert all(np.array_equal(snapshots[0][k], params[k]) for k in params)  # the start, not changed
    expected = {k: v - 1.0 * g for (k, v), g in zip(params.items(), mlp.mlp_loss(params, X, y)[1].values(),
                                                     strict=True)}
    assert all(np.allclose(snapshots[1][k], expected[k]) for k in params)


def test_a_diverging_run_stops_quietly(moons):
    X, y = moons
    params = init_two_layer(8, 2, np.random.default_rng(0))
    params["W2"] *= 1e200  # the scores overflow at once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses, snapshots = train_two_layer(mlp.mlp_loss, params, X, y, 1e10, 20)
    assert len(snapshots) == 21 and not np.isfinite(losses).all()


def test_class_probabilities_match_the_reference_scores(moons):
    X, _ = moons
    params = init_two_layer(5, 3, np.random.default_rng(2))
    scores = mlp.mlp_scores(params, X)
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(class_probabilities(params, X), expected, rtol=1e-12)


def test_decision_boundary_of_a_linear_rule():
    gx, gy = np.linspace(-1, 1, 21), np.linspace(-1, 1, 21)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    p1 = 1 / (1 + np.exp(-4 * (grid[:, 0] - 0.3)))  # p(class 1) = 1/2 on the line x = 0.3
    x, y = decision_boundary(gx, gy, np.column_stack([1 - p1, p1]))
    assert np.nanmax(np.abs(x - 0.3)) < 1e-9 and np.nanmin(y) == -1 and np.nanmax(y) == 1
    x, y = decision_boundary(gx, gy, np.column_stack([np.ones(len(grid)), np.zeros(len(grid))]))
    assert x.size == y.size == 0  # class 0 everywhere: no boundary


def test_layer_functions_without_the_reference_run_the_students_or_ask_for_them(batch, monkeypatch):
    X, y = batch
    expected = gradient_flow(X, y, weights(4, 1.0), "leaky ReLU")
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    student = LayerFunctions(**REFERENCE_FUNCTIONS)
    np.testing.assert_allclose(gradient_flow(X, y, weights(4, 1.0), "leaky ReLU", student)["grad_norm"],
                               expected["grad_norm"], rtol=1e-12)
    missing = LayerFunctions(**{**REFERENCE_FUNCTIONS, "leaky_relu_backward": stub})
    with pytest.raises(FunctionMissing, match="implement `leaky_relu_backward` first"):
        gradient_flow(X, y, weights(4, 1.0), "leaky ReLU", missing)


def test_packed_two_layer_loss_round_trips(moons):
    X, y = moons
    params = init_two_layer(5, 2, np.random.default_rng(1))
    loss, grads = mlp.mlp_loss(params, X, y)
    flat = packed_two_layer_loss(mlp.mlp_loss)(params["W1"], params["b1"], params["W2"], params["b2"], X, y)
    shapes = [(), *(params[k].shape for k in ("W1", "b1", "W2", "b2"))]
    value, *unpacked = unpack(flat, shapes)
    assert float(value) == loss
    for k, g in zip(("W1", "b1", "W2", "b2"), unpacked, strict=True):
        np.testing.assert_array_equal(g, grads[k])
    with pytest.raises(ValueError, match="output 1 has shape"):
        packed_two_layer_loss(lambda p, X, y: (0.0, {**grads, "W1": grads["W1"].T}))(
            params["W1"], params["b1"], params["W2"], params["b2"], X, y)
