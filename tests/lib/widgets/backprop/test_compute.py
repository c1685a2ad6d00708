"""Tests of dlcourse.widgets.backprop.compute, the computations of notebook 02's views: the backward walk through
the two-layer graph (every node's gradient checked against PyTorch autograd) with the student's layer functions or
the reference, the central-difference check that tells a wrong function from a right one, and the two-layer
network's training."""

from __future__ import annotations

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
    LOSSES,
    LayerFunctions,
    backward_walk,
    class_probabilities,
    decision_boundary,
    directional_check,
    init_two_layer,
    packed_two_layer_loss,
    train_flow_network,
    train_two_layer,
    unpack,
    walk_check,
)
from dlcourse.widgets.fallback import FunctionMissing

pytestmark = pytest.mark.notebook("02_backprop")

REFERENCE_FUNCTIONS = {
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "sigmoid_backward": layers.sigmoid_backward,
    "leaky_relu_backward": layers.leaky_relu_backward,
    "softmax_cross_entropy": layers.softmax_cross_entropy,
    "svm_loss": layers.svm_loss,
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


TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "ReLU": torch.relu,
    "leaky ReLU": lambda t: torch.nn.functional.leaky_relu(t, bp.LEAKY_ALPHA),
}


# -- the backward walk through the two-layer graph ---------------------------------------------------

def two_layer(D: int = 12, H: int = 7, C: int = 4, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((D, H)) / np.sqrt(D), "b1": 0.1 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)) / np.sqrt(H), "b2": 0.1 * rng.standard_normal(C)}


TORCH_LOSSES = {
    "cross entropy": lambda s, y: torch.nn.functional.cross_entropy(s, y),
    "hinge": lambda s, y: torch.nn.functional.multi_margin_loss(s, y, margin=1.0) * s.shape[1],
}


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_walk_matches_torch_autograd_at_every_node(batch, activation, loss):
    X, y = batch
    params = two_layer()
    x, label = X[3], int(y[3])
    walk = backward_walk(x, label, params, activation, loss)
    tx = torch.tensor(x[None], requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    z1 = tx @ tp["W1"] + tp["b1"]
    z1.retain_grad()
    a1 = TORCH_ACTIVATIONS[activation](z1)
    a1.retain_grad()
    s = a1 @ tp["W2"] + tp["b2"]
    s.retain_grad()
    value = TORCH_LOSSES[loss](s, torch.tensor([label]))
    value.backward()
    assert walk["loss"] == pytest.approx(value.item(), rel=1e-12, abs=1e-15)
    for node, tensor in (("s", s), ("a1", a1), ("z1", z1), ("x", tx)):
        np.testing.assert_allclose(walk["grads"][node], tensor.grad.numpy()[0], rtol=1e-10, atol=1e-15, err_msg=node)
    for name in params:
        np.testing.assert_allclose(walk["params"][name], tp[name].grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(walk["probs"], torch.softmax(s, 1).detach().numpy()[0], rtol=1e-12)


def test_the_relu_zeros_exactly_the_inactive_units(batch):
    X, y = batch
    params = two_layer(H=16)
    walk = backward_walk(X[0], int(y[0]), params, "ReLU", "cross entropy")
    inactive = (X[0] @ params["W1"] + params["b1"]) <= 0
    assert inactive.any() and np.all(walk["grads"]["z1"][inactive] == 0)
    np.testing.assert_array_equal(walk["slope"], ~inactive)


def test_a_satisfied_hinge_sends_back_exact_zeros(batch):
    X, y = batch
    params = two_layer()
    params["b2"] = np.zeros(4)
    params["b2"][int(y[0])] = 100.0  # the true class wins by far more than the margin
    walk = backward_walk(X[0], int(y[0]), params, "tanh", "hinge")
    assert walk["loss"] == 0 and all(not np.any(g) for g in walk["grads"].values())
    assert walk_check(X[0], int(y[0]), params, "tanh", "hinge", LayerFunctions(), walk) == 0.0


def test_walk_check_agrees_with_a_right_pass_and_catches_a_wrong_one(batch):
    X, y = batch
    params = two_layer()
    for activation in ACTIVATIONS:
        walk = backward_walk(X[5], int(y[5]), params, activation, "cross entropy")
        error = walk_check(X[5], int(y[5]), params, activation, "cross entropy", LayerFunctions(), walk)
        assert error < 1e-6, activation

    def negated_dx(dout, cache):  # two sign errors cancel in dL/dx, not in dW1
        dx, dw, db = layers.affine_backward(dout, cache)
        return -dx, dw, db

    wrong = LayerFunctions(**{**REFERENCE_FUNCTIONS, "affine_backward": negated_dx})
    walk = backward_walk(X[5], int(y[5]), params, "sigmoid", "cross entropy", wrong)
    np.testing.assert_allclose(walk["grads"]["x"], backward_walk(X[5], int(y[5]), params, "sigmoid",
                                                                 "cross entropy")["grads"]["x"])
    assert walk_check(X[5], int(y[5]), params, "sigmoid", "cross entropy", wrong, walk) > 0.5


def test_walk_check_skips_a_kink(batch):
    X, y = batch
    params = two_layer()
    params["b1"] = params["b1"] - (X[2] @ params["W1"] + params["b1"])  # every hidden unit exactly at 0
    walk = backward_walk(X[2], int(y[2]), params, "ReLU", "cross entropy")
    assert np.isnan(walk_check(X[2], int(y[2]), params, "ReLU", "cross entropy", LayerFunctions(), walk))


def test_train_flow_network_learns_with_the_functions_it_is_given(batch):
    X, y = batch
    params = train_flow_network(X, y, "ReLU", LayerFunctions(), hidden=16, steps=100, learning_rate=0.5, seed=0)
    scores = np.maximum(X @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    assert np.mean(scores.argmax(axis=1) == y) > 0.9
    again = train_flow_network(X, y, "ReLU", LayerFunctions(**REFERENCE_FUNCTIONS), hidden=16, steps=100,
                               learning_rate=0.5, seed=0)
    for k in params:
        np.testing.assert_allclose(again[k], params[k], rtol=1e-12)
    with pytest.raises(ValueError, match="activation"):
        train_flow_network(X, y, "softplus", LayerFunctions(), hidden=4, steps=1, learning_rate=0.1, seed=0)


def test_layer_functions_say_which_ones_fell_back(batch):
    X, y = batch
    params = two_layer()
    expected = backward_walk(X[0], int(y[0]), params, "sigmoid", "hinge")
    student = LayerFunctions(**REFERENCE_FUNCTIONS)
    same = backward_walk(X[0], int(y[0]), params, "sigmoid", "hinge", student)
    np.testing.assert_allclose(same["grads"]["x"], expected["grads"]["x"], rtol=1e-12)
    assert all(f.note == "" for f in student.all())

    stubs = LayerFunctions(**{name: stub for name in REFERENCE_FUNCTIONS})
    fallback = backward_walk(X[0], int(y[0]), params, "sigmoid", "hinge", stubs)
    np.testing.assert_allclose(fallback["grads"]["x"], expected["grads"]["x"], rtol=1e-12)
    used = {f.name: f.note for f in stubs.all() if f.note}
    assert set(used) == {"affine_forward", "affine_backward", "sigmoid_backward", "svm_loss"}
    assert all(note == f"your {name} is not done yet" for name, note in used.items())
    backward_walk(X[0], int(y[0]), params, "leaky ReLU", "cross entropy", stubs)
    assert stubs._leaky.note and stubs._loss.note and not stubs._sigmoid.note and not stubs._svm.note

    def transposed(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw.T, db

    wrong = LayerFunctions(**{**REFERENCE_FUNCTIONS, "affine_backward": transposed})
    backward_walk(X[0], int(y[0]), params, "ReLU", "cross entropy", wrong)
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
    walk = backward_walk(X[1], int(y[1]), two_layer(), "tanh", "cross entropy", fns)
    assert seen and seen[0] == ["mine"] and fns._affine_grads.note == ""
    np.testing.assert_allclose(walk["grads"]["x"], backward_walk(X[1], int(y[1]), two_layer(), "tanh",
                                                                 "cross entropy")["grads"]["x"])


def test_the_walk_rejects_an_unknown_activation_or_loss(batch):
    X, y = batch
    with pytest.raises(ValueError, match="activation"):
        backward_walk(X[0], int(y[0]), two_layer(), "softplus", "hinge")
    with pytest.raises(ValueError, match="loss"):
        backward_walk(X[0], int(y[0]), two_layer(), "tanh", "mse")


def test_directional_check_tells_a_wrong_gradient_from_a_right_one(moons):
    X, y = moons
    params = init_two_layer(6, 2, np.random.default_rng(0))
    assert directional_check(mlp.mlp_loss, params, X, y) < 1e-6

    def flipped(p, X, y):
        loss, grads = mlp.mlp_loss(p, X, y)
        return loss, {k: -g for k, g in grads.items()}

    def bias_mean(p, X, y):
        loss, grads = mlp.mlp_loss(p, X, y)
        return loss, {**grads, "b1": grads["b1"] / len(y)}

    assert directional_check(flipped, params, X, y) == pytest.approx(2.0, rel=1e-4)
    assert directional_check(bias_mean, params, X, y) > 1e-3


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
    expected = backward_walk(X[0], int(y[0]), two_layer(), "leaky ReLU", "hinge")
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    student = LayerFunctions(**REFERENCE_FUNCTIONS)
    walk = backward_walk(X[0], int(y[0]), two_layer(), "leaky ReLU", "hinge", student)
    np.testing.assert_allclose(walk["grads"]["x"], expected["grads"]["x"], rtol=1e-12)
    missing = LayerFunctions(**{**REFERENCE_FUNCTIONS, "svm_loss": None})  # not given: the reference, absent
    with pytest.raises(FunctionMissing, match="implement `svm_loss` first"):
        backward_walk(X[0], int(y[0]), two_layer(), "leaky ReLU", "hinge", missing)


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
