"""Notebook 02's network exercises: the two-layer ReLU network (Tokyo DL2's TwoLayerNet), the number of
parameters of a network, a network of any depth with L2 regularization (I2DL lecture 7, "Loss in Compute
Graph"), and gradient descent on a tiny batch (I2DL lecture 6: "overfit a single batch first").

A network's gradient dict is returned as a tuple in the order of its parameters (:func:`as_tuple`). The depth
varies from case to case, so :func:`judge_network` names each output after its parameter ("dW2").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare_outputs, flatten_outputs
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

RTOL, ATOL = 1e-9, 1e-12  # float64 required (see .layers)


def as_tuple(loss: float, grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> tuple[Any, ...]:
    """(loss, grads in the order of params): what a network's test cell returns."""
    return (loss, *(grads[name] for name in params))


def _params(sizes: list[int], rng: np.random.Generator, bias: float = 0.1) -> dict[str, np.ndarray]:
    params = module("mlp").init_mlp(sizes, rng)
    for i in range(1, len(sizes)):
        params[f"b{i}"] = bias * rng.standard_normal(sizes[i])
    return params


def _net_cases(rng: np.random.Generator, depths: tuple[int, ...], regs: tuple[float, ...] | None) -> list[Case]:
    """Random networks of the given depths (hidden sizes unequal to the input and output sizes), a dead ReLU unit,
    a batch of one; with ``regs``, each case also carries an L2 strength (0 among them)."""
    cases = []
    for k, n_layers in enumerate(depths):
        sizes = [int(rng.integers(3, 10))] + [int(rng.integers(2, 9)) for _ in range(n_layers - 1)]
        sizes.append(int(rng.integers(2, 6)))
        N = int(rng.integers(2, 16))
        args: tuple[Any, ...] = (_params(sizes, rng), rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N))
        label = f"random network {k + 1}, sizes {sizes}, N={N}"
        if regs is not None:
            args += (regs[k % len(regs)],)
            label += f", reg={regs[k % len(regs)]}"
        cases.append(Case(args, label=label))
    n_layers = max(2, depths[0])
    sizes = [4] + [5] * (n_layers - 1) + [3]
    params = _params(sizes, rng, bias=0.0)
    params["b1"] = np.array([-100.0, 0.0, 0.0, 0.0, 0.0])  # hidden unit 0 is dead for every input
    extra = () if regs is None else (0.0,)
    cases.append(Case((params, rng.standard_normal((6, 4)), rng.integers(0, 3, 6), *extra),
                      label="a dead ReLU unit in layer 1 (no gradient flows through it)"))
    cases.append(Case((_params(sizes, rng), rng.standard_normal((1, 4)), np.array([2]), *(() if regs is None
                                                                                           else (0.25,))),
                      label="a batch of one" + ("" if regs is None else ", reg=0.25")))
    return cases


def judge_network(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """The outputs against the reference's, each named after its parameter (the depth varies)."""
    params = case["args"][0]
    names = ("loss", *(f"d{name}" for name in params))
    expected = flatten_outputs(_network_ref(*case["args"], **case.get("kwargs", {})))
    return compare_outputs(outputs, expected, names=names, rtol=RTOL, atol=ATOL)


def _two_layer_ref(params, X, y):
    if module("mlp").num_layers(params) != 2:
        raise ValueError("expected 2 layers")
    return as_tuple(*module("mlp").mlp_loss(params, X, y), params)


def _network_ref(params, X, y, reg=0.0):
    return as_tuple(*module("mlp").mlp_loss(params, X, y, reg=reg), params)


def _wrong_net(mistake: str) -> Callable[..., tuple[Any, ...]]:
    """A hand-written forward and backward pass with one known mistake."""

    def loss_fn(params, X, y, reg=0.0):
        layers, L = module("layers"), module("mlp").num_layers(params)
        a, cache = X, []
        for i in range(1, L + 1):
            z = a.reshape(a.shape[0], -1) @ params[f"W{i}"] + params[f"b{i}"]
            cache.append((a, z))
            a = np.maximum(z, 0) if i < L or mistake == "relu on scores" else z
        loss, dout = layers.softmax_cross_entropy(a, y)
        grads = {}
        for i in range(L, 0, -1):
            a_in, z = cache[i - 1]
            if (i < L and mistake != "no relu mask") or (i == L and mistake == "relu on scores"):
                dout = dout * (z > 0)
            grads[f"W{i}"] = (a_in if mistake != "z for a" or i == 1 else cache[i - 2][1]).T @ dout
            grads[f"b{i}"] = dout.mean(axis=0) if mistake == "bias mean" else dout.sum(axis=0)
            dout = dout @ params[f"W{i}"].T
        for name, p in params.items():
            if name.startswith("b") and mistake != "reg on biases":
                continue
            if mistake != "reg loss missing":
                loss += reg * float(np.sum(p * p))
            if mistake != "reg gradient missing":
                grads[name] = grads[name] + (1.0 if mistake == "reg half" else 2.0) * reg * p
        return as_tuple(loss, grads, params)

    return loss_fn


NET_MISTAKES = (
    Mistake("the ReLU's backward is missing: multiply the gradient by [z > 0] before the layer below.",
            _wrong_net("no relu mask")),
    Mistake("dW uses the layer's INPUT after the ReLU (a = max(0, z) of the layer below), not z.",
            _wrong_net("z for a")),
    Mistake("db sums the upstream gradient over the batch; it is not the mean.", _wrong_net("bias mean")),
)

register(Exercise(
    name="backprop.two_layer_loss",
    reference=_two_layer_ref,
    cases=lambda rng: _net_cases(rng, (2, 2, 2), None),
    names=("loss", "dW1", "db1", "dW2", "db2"),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=NET_MISTAKES,
))

register(Exercise(
    name="backprop.network_loss",
    reference=_network_ref,
    cases=lambda rng: _net_cases(rng, (1, 2, 3, 5, 3), (0.0, 0.05, float(np.round(rng.uniform(0.1, 1.0), 3)))),
    check=judge_network,
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    handout="outputs",  # one right answer: the hand-out compares with the recorded reference outputs
    mistakes=(
        *NET_MISTAKES,
        Mistake("the last layer's output are the scores: no ReLU after it.", _wrong_net("relu on scores")),
        Mistake("L2 regularization penalizes the weights only, not the biases.", _wrong_net("reg on biases")),
        Mistake("the L2 term is part of the loss, so its derivative 2 reg W belongs in every dW.",
                _wrong_net("reg gradient missing")),
        Mistake("the derivative of reg * W^2 is 2 reg W: the factor 2 is missing.", _wrong_net("reg half")),
        Mistake("the loss must include the L2 term reg * (sum of the squared weights), not only its gradient.",
                _wrong_net("reg loss missing")),
    ),
))


# -- counting parameters -------------------------------------------------------------------

def _count_cases(rng: np.random.Generator) -> list[Case]:
    random_sizes = [int(rng.integers(2, 40)) for _ in range(int(rng.integers(3, 6)))]
    return [
        Case(([64, 128, 10],), label="the digits network (64, 128, 10)"),
        Case(([784, 500, 10],), label="the Tokyo lecture's MNIST network (784, 500, 10)"),
        Case(([int(rng.integers(2, 20)), int(rng.integers(2, 10))],), label="no hidden layer (softmax regression)"),
        Case(([1, 1],), label="one input, one output: a weight and a bias"),
        Case((random_sizes,), label=f"random sizes {random_sizes}"),
        Case(([3072, 100, 100, 10],), label="CIFAR-sized inputs, two hidden layers of 100"),
    ]


def _count_no_biases(sizes):
    return sum(a * b for a, b in itertools.pairwise(sizes))


def _count_input_biases(sizes):
    return _count_no_biases(sizes) + sum(sizes)


def _count_units(sizes):
    return sum(sizes)


register(Exercise(
    name="backprop.count_parameters",
    reference=lambda sizes: module("mlp").count_parameters(sizes),
    cases=_count_cases,
    names=("number of parameters",),
    rtol=0.0,
    atol=0.5,  # an integer: exactly right (a float such as 9610.0 is accepted)
    mistakes=(
        Mistake("every layer also has one bias per output unit: (D_in + 1) * D_out numbers.", _count_no_biases),
        Mistake("the inputs are not a layer: they have no biases (a bias per OUTPUT unit of each layer).",
                _count_input_biases),
        Mistake("count the weights (one per connection between two layers) and biases, not the units.",
                _count_units),
    ),
))


# -- gradient descent on a tiny batch ---------------------------------------------------------

def _overfit_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, (depth, steps) in enumerate([(2, int(rng.integers(15, 40))), (3, int(rng.integers(15, 40))),
                                        (1, int(rng.integers(5, 15)))]):
        sizes = [int(rng.integers(3, 9))] + [int(rng.integers(4, 12)) for _ in range(depth - 1)]
        sizes.append(int(rng.integers(2, 5)))
        N, lr = int(rng.integers(2, 6)), float(np.round(rng.uniform(0.1, 0.6), 3))
        cases.append(Case((_params(sizes, rng), rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N),
                           lr, steps), label=f"network {k + 1}, sizes {sizes}, {N} examples, "
                                             f"learning_rate={lr}, steps={steps}"))
    sizes = [4, 6, 3]
    cases.append(Case((_params(sizes, rng), rng.standard_normal((1, 4)), np.array([1]), 0.5, 10),
                      label="a batch of one example"))
    cases.append(Case((_params(sizes, rng), rng.standard_normal((3, 4)), np.array([0, 2, 1]), 0.0, 4),
                      label="learning_rate = 0: the loss never changes"))
    cases.append(Case((_params(sizes, rng), rng.standard_normal((3, 4)), np.array([0, 2, 1]), 0.3, 0),
                      label="steps = 0: only the loss at the start"))
    return cases


def _descent_ref(params, X, y, learning_rate, steps):
    mlp = module("mlp")
    return mlp.full_batch_descent(mlp.mlp_loss, params, X, y, learning_rate, steps)


def _descent_wrong(sign: float, update: bool = True) -> Callable[..., np.ndarray]:
    def run(params, X, y, learning_rate, steps):
        mlp = module("mlp")
        current, losses = dict(params), []
        with np.errstate(all="ignore"):  # climbing the loss overflows: that is this mistake
            for k in range(steps + 1):
                loss, grads = mlp.mlp_loss(current, X, y)
                losses.append(loss)
                stepped = {n: v - sign * learning_rate * grads[n] for n, v in current.items()}
                if update and k < steps:
                    current = stepped
        return np.array(losses)

    return run


register(Exercise(
    name="backprop.overfit_tiny_batch",
    reference=_descent_ref,
    cases=_overfit_cases,
    names=("losses",),
    rtol=RTOL,
    atol=ATOL,
    float64=True,
    mistakes=(
        Mistake("descend: subtract learning_rate * grad (adding it climbs the loss).", _descent_wrong(-1.0)),
        Mistake("the parameters never change: keep the updated ones (params = {...}) for the next step.",
                _descent_wrong(1.0, update=False)),
    ),
))
