"""Tests of dlcourse.reference.autograd, the scalar autograd engine of notebook 02.

Every operation's backward is proven twice: against central-difference
numerical gradients and against PyTorch autograd in float64; whole random
expressions (with shared nodes) as well. backward() must survive graphs far
deeper than Python's recursion limit.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from dlcourse.checks.programs import build_graph, run_program
from dlcourse.reference.autograd import Value, topological_order

NUM_TOL = 1e-7
TORCH_TOL = 1e-12

UNARY = {
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "relu": (lambda v: v.relu(), torch.relu),
    "exp": (lambda v: v.exp(), torch.exp),
    "neg": (lambda v: -v, lambda t: -t),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
}


def torch_scalar(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def numerical(f, xs: list[float], h: float = 1e-6) -> list[float]:
    """Central differences of a scalar function of several floats."""
    out = []
    for k in range(len(xs)):
        plus, minus = list(xs), list(xs)
        plus[k] += h
        minus[k] -= h
        out.append((f(*plus) - f(*minus)) / (2 * h))
    return out


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(1e-8, abs(a) + abs(b))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("x", [-1.7, -0.3, 0.4, 2.2])
def test_unary_ops_match_torch_and_numerical(name: str, x: float) -> None:
    op, torch_op = UNARY[name]
    v = Value(x)
    out = op(v)
    out.backward()
    t = torch_scalar(x)
    out_t = torch_op(t)
    out_t.backward()
    assert rel(out.data, out_t.item()) < TORCH_TOL
    assert rel(v.grad, t.grad.item()) < TORCH_TOL
    (num,) = numerical(lambda a: op(Value(a)).data, [x])
    assert rel(v.grad, num) < NUM_TOL


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_match_torch_and_numerical(name: str) -> None:
    op, torch_op = BINARY[name]
    rng = np.random.default_rng(0)
    for a, b in rng.uniform(-3, 3, (5, 2)):
        va, vb = Value(a), Value(b)
        out = op(va, vb)
        out.backward()
        ta, tb = torch_scalar(a), torch_scalar(b)
        out_t = torch_op(ta, tb)
        out_t.backward()
        assert rel(out.data, out_t.item()) < TORCH_TOL
        assert rel(va.grad, ta.grad.item()) < TORCH_TOL and rel(vb.grad, tb.grad.item()) < TORCH_TOL
        num = numerical(lambda p, q: op(Value(p), Value(q)).data, [a, b])
        assert rel(va.grad, num[0]) < NUM_TOL and rel(vb.grad, num[1]) < NUM_TOL


def test_plain_numbers_on_either_side() -> None:
    x = Value(1.5)
    out = (2 * x) + (x * 3.0) + (1 + x) + (x + 0.5) - (4 - x) + (x - 1)
    out.backward()
    assert out.data == pytest.approx(2 * 1.5 + 4.5 + 2.5 + 2.0 - 2.5 + 0.5)
    assert x.grad == pytest.approx(2 + 3 + 1 + 1 + 1 + 1)


def test_relu_at_zero_has_zero_gradient_like_torch() -> None:
    v = Value(0.0)
    v.relu().backward()
    t = torch_scalar(0.0)
    torch.relu(t).backward()
    assert v.grad == t.grad.item() == 0.0


def test_node_used_twice_collects_both_gradients() -> None:
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    y = Value(-2.0)
    (y + y).backward()
    assert y.grad == 2.0


def test_lecture_graph() -> None:
    # I2DL: f = (x + y) z at x = 1, y = -3, z = 4: df/dx = df/dy = 4, df/dz = -2.
    x, y, z = Value(1.0), Value(-3.0), Value(4.0)
    f = (x + y) * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad) == (-8.0, 4.0, 4.0, -2.0)


def test_sigmoid_neuron_from_the_lecture() -> None:
    # 1 / (1 + exp(-(w0 x0 + w1 x1 + b))) written as (1 + tanh(s / 2)) / 2.
    w0, x0, w1, x1, b = (Value(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    s = w0 * x0 + w1 * x1 + b
    f = 0.5 * (1 + (0.5 * s).tanh())
    f.backward()
    sig = 1 / (1 + math.exp(-1.0))
    assert f.data == pytest.approx(sig, rel=1e-12)
    assert w0.grad == pytest.approx(sig * (1 - sig) * -1.0, rel=1e-12)
    assert x0.grad == pytest.approx(sig * (1 - sig) * 2.0, rel=1e-12)


def _torch_program(inputs, program, constants):
    """The same program with torch tensors: values and grads of every node."""
    nodes = [torch_scalar(float(v)) for v in inputs]
    for (op, i, j), c in zip(program.tolist(), constants.tolist(), strict=True):
        a, b = nodes[i], nodes[j]
        out = [a + b, a * b, torch.tanh(a), torch.relu(a), a + c, a * c, c * a, c + a][op]
        out.retain_grad()
        nodes.append(out)
    nodes[-1].backward()
    grads = [0.0 if n.grad is None else n.grad.item() for n in nodes]
    return np.array([n.item() for n in nodes]), np.array(grads)


@pytest.mark.parametrize("seed", range(6))
def test_random_expressions_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_in, n_ops = 3, 25
    inputs = rng.uniform(-1.5, 1.5, n_in)
    program = np.array([(rng.integers(0, 8), rng.integers(0, n_in + k), rng.integers(0, n_in + k))
                        for k in range(n_ops)], dtype=np.int64)
    constants = rng.uniform(-1.5, 1.5, n_ops)
    values, grads = run_program(Value, inputs, program, constants, order="backward")
    values_t, grads_t = _torch_program(inputs, program, constants)
    np.testing.assert_allclose(values, values_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads, grads_t, rtol=1e-10, atol=1e-12)
    # and against central differences for the leaves
    def f(*xs):
        return build_graph(Value, np.array(xs), program, constants)[-1].data
    np.testing.assert_allclose(grads[:n_in], numerical(f, list(inputs)), rtol=1e-6, atol=1e-8)


def test_creation_order_and_backward_agree() -> None:
    rng = np.random.default_rng(7)
    program = np.array([(rng.integers(0, 6), rng.integers(0, 2 + k), rng.integers(0, 2 + k)) for k in range(30)])
    constants = rng.uniform(-1, 1, 30)
    a = run_program(Value, np.array([0.3, -0.7]), program, constants, order="creation")
    b = run_program(Value, np.array([0.3, -0.7]), program, constants, order="backward")
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-15)


def test_backward_is_iterative_on_a_very_deep_graph() -> None:
    depth = 20 * sys.getrecursionlimit()
    x = Value(0.5)
    out = x
    for _ in range(depth):
        out = out + 0.001
    out.backward()  # a recursive topological sort would raise RecursionError here
    assert x.grad == 1.0
    assert out.data == pytest.approx(0.5 + 0.001 * depth)


def test_topological_order_lists_each_node_once_after_its_inputs() -> None:
    x, y = Value(1.0), Value(2.0)
    d = x * y
    e = d + x
    f = e * d
    unused = x + 5  # made from x, but f does not depend on it
    order = topological_order(f)
    assert len(order) == len({id(n) for n in order}) == 5
    assert order[-1] is f and all(n is not unused for n in order)
    position = {id(n): k for k, n in enumerate(order)}
    for node in order:
        assert all(position[id(child)] < position[id(node)] for child in node._prev)


def test_gradients_accumulate_over_two_backward_calls_like_torch() -> None:
    x = Value(2.0)
    y = x * x
    y.backward()
    y.backward()
    t = torch_scalar(2.0)
    yt = t * t
    yt.backward(retain_graph=True)
    yt.backward()
    assert x.grad == t.grad.item() == 8.0


@pytest.mark.parametrize("bad", ["3", None, [1.0], True])
def test_value_needs_a_real_number(bad: object) -> None:
    with pytest.raises(ValueError, match="real number"):
        Value(bad)


def test_value_of_a_value_is_refused() -> None:
    with pytest.raises(ValueError, match="got a Value"):
        Value(Value(1.0))


def test_unsupported_operand_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        Value(1.0) * [2]


def test_topological_order_needs_a_value() -> None:
    with pytest.raises(ValueError, match="needs a Value"):
        topological_order(3.0)
