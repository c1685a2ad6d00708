"""Notebook 02's autograd exercises: the operations of the scalar ``Value`` and the order of ``backward()``.

A case is a small program in the encoding of ``dlcourse.checks.programs`` (its one
definition): the test cell runs it with the student's ``Value``, the reference
here with the reference ``Value``, so both sides build the same graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.programs import run_program
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module


def _value_cls() -> type:
    return module("autograd").Value


def _random_program(rng: np.random.Generator, n_inputs: int, n_ops: int, ops: tuple[int, ...],
                    reuse: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random program whose values and gradients stay moderate (rejection on the reference)."""
    for _ in range(100):
        inputs = rng.uniform(-2.0, 2.0, n_inputs)
        program = np.zeros((n_ops, 3), dtype=np.int64)
        for k in range(n_ops):
            n = n_inputs + k
            # Mostly recent nodes (a deep graph), sometimes any earlier one (shared subexpressions).
            i = int(rng.integers(0, n)) if rng.random() < reuse else int(rng.integers(max(0, n - 3), n))
            j = int(rng.integers(0, n))
            program[k] = (int(rng.choice(ops)), i, j)
        program[-1, 1] = n_inputs + n_ops - 2 if n_ops > 1 else 0  # the root uses the previous node
        constants = np.round(rng.uniform(-2.0, 2.0, n_ops), 3)
        values, grads = run_program(_value_cls(), inputs, program, constants)
        if np.all(np.abs(values) < 1e3) and np.all(np.abs(grads) < 1e3):
            return inputs, program, constants
    raise RuntimeError("could not draw a program with moderate values")


def _case(inputs: Any, program: Any, constants: Any, label: str) -> Case:
    program = np.asarray(program, dtype=np.int64).reshape(-1, 3)
    constants = np.zeros(len(program)) if constants is None else np.asarray(constants, dtype=np.float64)
    return Case((np.asarray(inputs, dtype=np.float64), program, constants), label=label)


# -- Value: the operations ---------------------------------------------------------------

def _value_ops_cases(rng: np.random.Generator) -> list[Case]:
    cases = [
        # f = (x + y) z with x = 1, y = -3, z = 4: the lecture's graph.
        _case([1.0, -3.0, 4.0], [[0, 0, 1], [1, 3, 2]], None, "the lecture's f = (x + y) * z"),
        _case([float(rng.uniform(0.5, 2.0))], [[1, 0, 0]], None, "x * x (one node used twice)"),
        _case([float(rng.uniform(-2, -0.5)), float(rng.uniform(0.5, 2))],
              [[3, 0, 0], [3, 1, 1], [2, 0, 0], [2, 1, 1], [0, 2, 3], [1, 6, 5], [0, 7, 4]], None,
              "tanh and relu of a negative and a positive number"),
        _case([float(rng.uniform(-1, 1))], [[5, 0, 0], [6, 1, 1], [4, 2, 2], [7, 3, 3], [1, 4, 0]],
              np.round(rng.uniform(0.5, 2.0, 5), 3), "plain numbers: x * c, c * x, x + c, c + x"),
        _case([5.0, -4.0], [[2, 0, 0], [2, 1, 1], [1, 2, 3]], None, "saturated tanh (x = 5 and x = -4)"),
    ]
    for k in range(4):
        n_in, n_ops = int(rng.integers(2, 5)), int(rng.integers(6, 25))
        cases.append(_case(*_random_program(rng, n_in, n_ops, tuple(range(8))),
                           f"a random expression {k + 1} ({n_in} inputs, {n_ops} operations)"))
    return cases


def _ops_value(overrides: dict[str, Callable[..., Any]]) -> type:
    """A reference Value with some operations replaced by a known mistake."""
    return type("MistakenValue", (_value_cls(),), overrides)


def _mul_assign(self, other):
    other = other if isinstance(other, _value_cls()) else _value_cls()(other)
    out = _value_cls()(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad

    out._backward = _backward
    return out


def _mul_own_value(self, other):
    other = other if isinstance(other, _value_cls()) else _value_cls()(other)
    out = _value_cls()(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += self.data * out.grad
        other.grad += other.data * out.grad

    out._backward = _backward
    return out


def _tanh_unsquared(self):
    t = np.tanh(self.data)
    out = _value_cls()(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t) * out.grad

    out._backward = _backward
    return out


def _relu_no_mask(self):
    out = _value_cls()(max(self.data, 0.0), (self,), "relu")

    def _backward():
        self.grad += out.grad

    out._backward = _backward
    return out


def _ops_mistake(overrides: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    return lambda inputs, program, constants: run_program(_ops_value(overrides), inputs, program, constants)


register(Exercise(
    name="backprop.value_ops",
    reference=lambda inputs, program, constants: run_program(_value_cls(), inputs, program, constants),
    cases=_value_ops_cases,
    names=("values of all nodes", "grads of all nodes"),
    rtol=1e-7,
    atol=1e-10,
    mistakes=(
        Mistake("in __mul__ the gradients must be ADDED (+=): a node used twice, as in x * x, collects both.",
                _ops_mistake({"__mul__": _mul_assign})),
        Mistake("in __mul__ each input's gradient is the OTHER input's value times out.grad.",
                _ops_mistake({"__mul__": _mul_own_value})),
        Mistake("tanh'(x) = 1 - tanh(x)^2: the tanh is squared.", _ops_mistake({"tanh": _tanh_unsquared})),
        Mistake("relu passes the gradient only where its input is positive.", _ops_mistake({"relu": _relu_no_mask})),
    ),
))


# -- Value: the topological order of backward() -------------------------------------------

def _chain(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x_{k+1} = x_k + c_k, a tanh every 100 steps: n operations deep, values stay moderate."""
    program = np.zeros((n, 3), dtype=np.int64)
    program[:, 0] = 4
    program[99::100, 0] = 2
    program[:, 1] = np.arange(n)  # each node uses the one before it
    program[:, 2] = np.arange(n)
    constants = np.round(rng.uniform(-0.01, 0.01, n), 4)
    return np.array([float(rng.uniform(-1, 1))]), program, constants


def _backward_cases(rng: np.random.Generator) -> list[Case]:
    x, y = (float(v) for v in rng.uniform(-2, 2, 2))
    cases = [
        _case([1.0, -3.0, 4.0], [[0, 0, 1], [1, 3, 2]], None, "the lecture's f = (x + y) * z"),
        # d = x y, e = d + x, f = e d: x and d each feed two nodes (a diamond).
        _case([x, y], [[1, 0, 1], [0, 2, 0], [1, 3, 2]], None, "shared nodes: d = x y, e = d + x, f = e d"),
        _case([x, y, 3.0], [[1, 0, 1], [2, 0, 0], [0, 2, 2]], None,
              "a node the output does not depend on (its grad must stay 0)"),
        _case([x], [[0, 0, 0], [0, 1, 1], [0, 2, 2], [1, 3, 3]], None, "repeated doubling: x+x, then again"),
        # m = x y, then f = tanh(tanh(m)) * m: m is reached from f directly and through two tanh nodes.
        _case([x, y], [[1, 0, 1], [2, 2, 2], [2, 3, 3], [1, 4, 2]], None,
              "paths of different lengths: f = tanh(tanh(m)) m with m = x y"),
        _case(*_chain(10_000, rng), "a chain 10,000 operations deep (use a loop with your own stack, not recursion)"),
    ]
    for k in range(3):
        n_in, n_ops = int(rng.integers(2, 5)), int(rng.integers(8, 30))
        cases.append(_case(*_random_program(rng, n_in, n_ops, (0, 1, 2, 3, 4, 5), reuse=0.6),
                           f"a random graph with shared nodes {k + 1} ({n_ops} operations)"))
    return cases


def _order_no_visited(root):
    order, stack = [], [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    return order


def _order_preorder(root):
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(node._prev)
    return order  # parents before inputs: backward would run inputs first


def _order_breadth_first(root):
    order, seen, queue = [], {id(root)}, [root]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return order[::-1]


def _order_mistake(order: Callable[[Any], list[Any]]) -> Callable[..., Any]:
    return lambda inputs, program, constants: run_program(_value_cls(), inputs, program, constants, order)


register(Exercise(
    name="backprop.topological_order",
    reference=lambda inputs, program, constants: run_program(
        _value_cls(), inputs, program, constants, order="backward"),
    cases=_backward_cases,
    names=("values of all nodes", "grads of all nodes"),
    rtol=1e-7,
    atol=1e-10,
    mistakes=(
        Mistake("a node reached by two paths is in your order twice, so its gradient is passed on twice: "
                "remember which nodes you have visited.", _order_mistake(_order_no_visited)),
        Mistake("a node must come AFTER all of its inputs (post-order): append it once its inputs are done, "
                "not when you first reach it.", _order_mistake(_order_preorder)),
        Mistake("breadth-first order is not a topological order when two paths of different lengths reach a node: "
                "it can pass its gradient on before the longer path has delivered its share.",
                _order_mistake(_order_breadth_first)),
    ),
))
