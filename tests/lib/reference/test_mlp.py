"""Tests of dlcourse.reference.mlp: ReLU networks with a hand-written backward pass.

The gradients of every parameter are proven against central differences and
against PyTorch autograd in float64, for one, two and three layers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient
from dlcourse.reference import mlp

NUM_TOL = 1e-6
TORCH_TOL = 1e-10


def make(sizes: list[int], seed: int, N: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = mlp.init_mlp(sizes, rng)
    for key in params:
        if key.startswith("b"):
            params[key] = 0.1 * rng.standard_normal(params[key].shape)  # nonzero biases: test db too
    return params, rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N)


SIZES = [[5, 3], [6, 8, 4], [4, 7, 5, 3]]


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: f"{len(s) - 1}-layer")
def test_mlp_loss_gradients_numerical(sizes: list[int]) -> None:
    params, X, y = make(sizes, seed=len(sizes))
    _, grads = mlp.mlp_loss(params, X, y)
    assert list(grads) == list(params)
    for key, value in params.items():
        num = eval_numerical_gradient(lambda _: mlp.mlp_loss(params, X, y)[0], value)
        assert grads[key].shape == value.shape
        assert rel_error(grads[key], num) < NUM_TOL, key


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: f"{len(s) - 1}-layer")
def test_mlp_loss_matches_torch(sizes: list[int]) -> None:
    params, X, y = make(sizes, seed=10 + len(sizes))
    loss, grads = mlp.mlp_loss(params, X, y)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = torch.tensor(X, dtype=torch.float64)
    L = len(sizes) - 1
    for i in range(1, L + 1):
        a = a @ tp[f"W{i}"] + tp[f"b{i}"]
        if i < L:
            a = torch.relu(a)
    loss_t = F.cross_entropy(a, torch.tensor(y))
    loss_t.backward()
    assert abs(loss - loss_t.item()) < TORCH_TOL
    for key in params:
        assert rel_error(grads[key], tp[key].grad.numpy()) < TORCH_TOL, key
    np.testing.assert_allclose(mlp.mlp_scores(params, X), a.detach().numpy(), rtol=1e-12)


def test_init_mlp_shapes_and_scale() -> None:
    params = mlp.init_mlp([64, 100, 10], np.random.default_rng(0))
    assert [(k, v.shape) for k, v in params.items()] == [
        ("W1", (64, 100)), ("b1", (100,)), ("W2", (100, 10)), ("b2", (10,))]
    assert np.std(params["W1"]) == pytest.approx(np.sqrt(2 / 64), rel=0.05)
    assert not params["b1"].any()
    fixed = mlp.init_mlp([3, 4], np.random.default_rng(0), scale=0.01)
    assert np.abs(fixed["W1"]).max() < 0.05


def test_init_mlp_is_seeded() -> None:
    a = mlp.init_mlp([3, 4, 2], np.random.default_rng(5))
    b = mlp.init_mlp([3, 4, 2], np.random.default_rng(5))
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("sizes", "rng", "scale", "match"), [
    ([3], np.random.default_rng(0), None, "at least"),
    ([3, 0], np.random.default_rng(0), None, "at least"),
    ([3, 4], 0, None, "Generator"),
    ([3, 4], np.random.default_rng(0), -1.0, "positive"),
])
def test_init_mlp_rejects_bad_input(sizes, rng, scale, match) -> None:
    with pytest.raises(ValueError, match=match):
        mlp.init_mlp(sizes, rng, scale)


def test_num_layers_checks_the_parameters() -> None:
    params = mlp.init_mlp([3, 4, 2], np.random.default_rng(0))
    assert mlp.num_layers(params) == 2
    with pytest.raises(ValueError, match="W1, b1"):
        mlp.num_layers({"W1": params["W1"]})
    with pytest.raises(ValueError, match="rows"):
        mlp.num_layers({**params, "W2": np.zeros((5, 2))})
    with pytest.raises(ValueError, match=r"\(D_out,\)"):
        mlp.num_layers({**params, "b1": np.zeros(3)})
    with pytest.raises(ValueError, match="non-empty"):
        mlp.num_layers({})
