"""Notebook 02's network exercises: the loss and gradients of two- and three-layer ReLU networks.

A network's gradient dict is returned as a tuple in the order of its parameters (:func:`as_tuple`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

# -- networks: two and three layers -----------------------------------------------------------

def as_tuple(loss: float, grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """(loss, grads in the order of params): what a network's test cell returns."""
    return (loss, *(grads[name] for name in params))


def _net_cases(rng: np.random.Generator, n_layers: int) -> list[Case]:
    cases = []
    for k in range(3):
        sizes = [int(rng.integers(3, 10))] + [int(rng.integers(2, 9)) for _ in range(n_layers - 1)]
        sizes.append(int(rng.integers(2, 6)))
        N = int(rng.integers(2, 16))
        params = module("mlp").init_mlp(sizes, rng)
        for i in range(1, n_layers + 1):
            params[f"b{i}"] = 0.1 * rng.standard_normal(sizes[i])
        cases.append(Case((params, rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N)),
                          label=f"random network {k + 1}, sizes {sizes}, N={N}"))
    sizes = [4] + [5] * (n_layers - 1) + [3]
    params = module("mlp").init_mlp(sizes, rng)
    params["b1"] = np.array([-100.0, 0.0, 0.0, 0.0, 0.0])  # hidden unit 0 is dead for every input
    cases.append(Case((params, rng.standard_normal((6, 4)), rng.integers(0, 3, 6)),
                      label="a dead ReLU unit in layer 1 (no gradient flows through it)"))
    params = module("mlp").init_mlp(sizes, rng)
    cases.append(Case((params, rng.standard_normal((1, 4)), np.array([2])), label="a batch of one"))
    return cases


def _net_ref(n_layers: int) -> Callable[..., tuple[Any, ...]]:
    def ref(params, X, y):
        if module("mlp").num_layers(params) != n_layers:
            raise ValueError(f"expected {n_layers} layers")
        return as_tuple(*module("mlp").mlp_loss(params, X, y), params)

    return ref


def _wrong_net(mistake: str) -> Callable[..., tuple[Any, ...]]:
    """A hand-written backward pass with one known mistake."""

    def loss_fn(params, X, y):
        layers, L = module("layers"), module("mlp").num_layers(params)
        a, cache = X, []
        for i in range(1, L + 1):
            z = a.reshape(a.shape[0], -1) @ params[f"W{i}"] + params[f"b{i}"]
            cache.append((a, z))
            a = np.maximum(z, 0) if i < L else z
        loss, dout = layers.softmax_cross_entropy(a, y)
        grads = {}
        for i in range(L, 0, -1):
            a_in, z = cache[i - 1]
            if i < L and mistake != "no relu mask":
                dout = dout * (z > 0)
            grads[f"W{i}"] = (a_in if mistake != "z for a" or i == 1 else cache[i - 2][1]).T @ dout
            grads[f"b{i}"] = dout.mean(axis=0) if mistake == "bias mean" else dout.sum(axis=0)
            dout = dout @ params[f"W{i}"].T
        return as_tuple(loss, grads, params)

    return loss_fn


def _register_net(name: str, n_layers: int) -> None:
    register(Exercise(
        name=name,
        reference=_net_ref(n_layers),
        cases=lambda rng: _net_cases(rng, n_layers),
        names=("loss", *(f"d{p}{i}" for i in range(1, n_layers + 1) for p in ("W", "b"))),
        mistakes=(
            Mistake("the ReLU's backward is missing: multiply the gradient by [z > 0] before the layer below.",
                    _wrong_net("no relu mask")),
            Mistake("dW uses the layer's INPUT after the ReLU (a = max(0, z) of the layer below), not z.",
                    _wrong_net("z for a")),
            Mistake("db sums the upstream gradient over the batch; it is not the mean.", _wrong_net("bias mean")),
        ),
    ))


_register_net("backprop.two_layer_loss", 2)
_register_net("backprop.three_layer_loss", 3)
