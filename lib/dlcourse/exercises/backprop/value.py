"""Notebook 02's autograd exercises: the operations of the scalar ``Value`` and the order of ``backward()``.

A case is a small program in the encoding of ``dlcourse.checks.programs`` (its one
definition): the test cell builds it with the student's ``Value``, the reference
here with the reference ``Value``, so both sides build the same graph. Besides the
value and the gradient of every node, the test cell returns the graph's structure
as numbers, and the whole contract is judged from them in the grader's process
(:func:`judge_ops`, :func:`judge_order`):

* ``value_ops``: each operation must record its inputs in ``_prev``
  (``programs.parent_edges``), or ``backward()`` cannot find them, even when
  calling every ``_backward`` by hand gives the right numbers;
* ``topological_order``: the order must list every node the output depends on
  exactly once, each after its inputs, the output last (``programs.order_indices``);
  a right gradient is not enough (a leaf left out or listed twice changes no gradient).

The topological-order cases use additions only (the ``__add__`` the notebook
gives as its worked example), so that exercise can be done, and tested, before
the operations of Exercise 1; a gradient then counts the paths from a node to the output.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare_outputs
from dlcourse.checks.programs import OPS, build_graph, node_inputs, order_indices, parent_edges, run_program
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

VALUE_NAMES = ("values of all nodes", "grads of all nodes")
RTOL, ATOL = 1e-7, 1e-10


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


def describe(k: int, inputs: np.ndarray, program: np.ndarray, constants: np.ndarray) -> str:
    """Node k in words: "node 4 = nodes[2] * nodes[3]", or "node 1 (an input)"."""
    n_in = len(np.ravel(inputs))
    if k < 0:
        return "a Value that is not one of the program's nodes (one made for a plain number)"
    if k < n_in:
        return f"node {k} (an input)"
    if k >= n_in + len(program):
        return "a Value that is not one of this graph's nodes"
    op, i, j = (int(v) for v in program[k - n_in])
    text = OPS[op].text.replace("nodes[i]", f"nodes[{i}]").replace("nodes[j]", f"nodes[{j}]")
    return f"node {k} = " + re.sub(r"\bc\b", f"{float(constants[k - n_in]):g}", text)


def _numbers(outputs: list[np.ndarray], what: str) -> Comparison:
    """The two outputs values and grads must be present; a third, the structure, is judged by the caller."""
    if len(outputs) != 3:
        return Comparison(False, f"expected 3 outputs (values, grads and {what}), your function returned "
                                 f"{len(outputs)}: run the test cell's helper as it is")
    return Comparison(True)


# -- Value: the operations ---------------------------------------------------------------

def _value_ops_cases(rng: np.random.Generator) -> list[Case]:
    x, y = float(rng.uniform(0.5, 2.0)), float(rng.uniform(-2.0, -0.5))
    cases = [
        # f = (x + y) z with x = 1, y = -3, z = 4: the lecture's graph.
        _case([1.0, -3.0, 4.0], [[0, 0, 1], [1, 3, 2]], None, "the lecture's f = (x + y) * z"),
        _case([x], [[1, 0, 0]], None, "x * x (one node used twice)"),
        # a = x * x, f = a + x: x is used twice by one node and once by another (df/dx = 2x + 1).
        _case([x, y], [[1, 0, 0], [0, 2, 0], [1, 3, 1]], None,
              "a = x * x, b = a + x, f = b * y: x used twice by one node and once by another"),
        _case([y, x], [[3, 0, 0], [3, 1, 1], [2, 0, 0], [2, 1, 1], [0, 2, 3], [1, 6, 5], [0, 7, 4]], None,
              "tanh and relu of a negative and a positive number"),
        _case([float(rng.uniform(-1, 1))], [[5, 0, 0], [6, 1, 1], [4, 2, 2], [7, 3, 3], [1, 4, 0]],
              np.round(rng.uniform(0.5, 2.0, 5), 3), "plain numbers: x * c, c * x, x + c, c + x"),
        _case([5.0, -4.0], [[2, 0, 0], [2, 1, 1], [1, 2, 3]], None, "saturated tanh (x = 5 and x = -4)"),
        _case([400.0, -750.0, 2.0], [[2, 0, 0], [2, 1, 1], [0, 3, 4], [1, 5, 2]], None,
              "tanh(400) and tanh(-750): 1 and -1 with slope exactly 0 (math.exp(2 * 400) overflows: "
              "use math.tanh)"),
        _case([0.0, 2.0], [[3, 0, 0], [1, 2, 1]], None,
              "relu(0) * y: at the kink relu passes no gradient (test x > 0, not x >= 0)"),
    ]
    for k in range(4):
        n_in, n_ops = int(rng.integers(2, 5)), int(rng.integers(6, 25))
        cases.append(_case(*_random_program(rng, n_in, n_ops, tuple(range(8))),
                           f"a random expression {k + 1} ({n_in} inputs, {n_ops} operations)"))
    return cases


def _trace_ops(value_cls: type, inputs: np.ndarray, program: np.ndarray, constants: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the test cell's ``run_node_by_node`` returns: values, grads (reverse creation order) and _prev edges."""
    nodes = build_graph(value_cls, inputs, program, constants)
    nodes[-1].grad = 1.0
    for node in reversed(nodes):
        node._backward()
    values = np.array([n.data for n in nodes], dtype=np.float64)
    grads = np.array([n.grad for n in nodes], dtype=np.float64)
    return values, grads, parent_edges(nodes)


def judge_ops(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """Values and grads as the reference's, and every operation's node records its inputs in ``_prev``."""
    inputs, program, constants = case["args"]
    shape = _numbers(outputs, "the inputs each node records")
    if not shape:
        return shape
    values, grads, edges = outputs
    expected = run_program(_value_cls(), inputs, program, constants)
    verdict = compare_outputs([values, grads], list(expected), names=VALUE_NAMES, rtol=RTOL, atol=ATOL)
    if not verdict:
        return verdict
    n = len(values)
    if edges.ndim != 2 or edges.shape[1:] != (2,) or edges.dtype.kind not in "iu" or np.any(edges[:, 0] < 0) \
            or np.any(edges[:, 0] >= n) or np.any(edges[:, 1] >= n):
        return Comparison(False, "the recorded inputs of the nodes are malformed: run the test cell's helper as it is")
    recorded: dict[int, set[int]] = {k: set() for k in range(n)}
    for k, parent in edges.tolist():
        if parent >= 0:
            recorded[k].add(parent)
    for k, wanted in enumerate(node_inputs(len(inputs), program)):
        if recorded[k] != set(wanted):
            got = sorted(recorded[k])
            return Comparison(False, (
                f"{describe(k, inputs, program, constants)} records {got if got else 'no nodes'} as its inputs "
                f"(in _prev), but it is made from {sorted(set(wanted))}: pass the inputs when you create the "
                "output, Value(result, (self, other), op), or backward() cannot reach them through _prev."))
    return Comparison(True)


def _ops_value(overrides: dict[str, Callable[..., Any]]) -> type:
    """A reference Value with some operations replaced by a known mistake."""
    return type("MistakenValue", (_value_cls(),), overrides)


def _as_value(other: Any) -> Any:
    return other if isinstance(other, _value_cls()) else _value_cls()(other)


def _mul_assign(self, other):
    other = _as_value(other)
    out = _value_cls()(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad

    out._backward = _backward
    return out


def _mul_own_value(self, other):
    other = _as_value(other)
    out = _value_cls()(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += self.data * out.grad
        other.grad += other.data * out.grad

    out._backward = _backward
    return out


def _tanh_unsquared(self):
    t = np.tanh(self.data)
    out = _value_cls()(float(t), (self,), "tanh")

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


def _relu_at_zero(self):
    out = _value_cls()(max(self.data, 0.0), (self,), "relu")

    def _backward():
        self.grad += (self.data >= 0) * out.grad

    out._backward = _backward
    return out


def _ops_mistake(overrides: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    return lambda inputs, program, constants: _trace_ops(_ops_value(overrides), inputs, program, constants)


register(Exercise(
    name="backprop.value_ops",
    reference=lambda inputs, program, constants: _trace_ops(_value_cls(), inputs, program, constants),
    cases=_value_ops_cases,
    names=(*VALUE_NAMES, "the inputs each node records"),
    rtol=RTOL,
    atol=ATOL,
    check=judge_ops,
    mistakes=(
        Mistake("in __mul__ the gradients must be ADDED (+=): a node used twice, as in x * x, collects both.",
                _ops_mistake({"__mul__": _mul_assign})),
        Mistake("in __mul__ each input's gradient is the OTHER input's value times out.grad.",
                _ops_mistake({"__mul__": _mul_own_value})),
        Mistake("tanh'(x) = 1 - tanh(x)^2: the tanh is squared.", _ops_mistake({"tanh": _tanh_unsquared})),
        Mistake("relu passes the gradient only where its input is positive.", _ops_mistake({"relu": _relu_no_mask})),
        Mistake("at x = 0 exactly relu passes no gradient: test x > 0, not x >= 0.",
                _ops_mistake({"relu": _relu_at_zero})),
    ),
))


# -- Value: the topological order of backward() -------------------------------------------

ADD_OPS = (0, 4, 7)  # nodes[i] + nodes[j], nodes[i] + c, c + nodes[i]: the given __add__ (and __radd__) only


def _chain(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x_{k+1} = x_k + c_k (every 100th step c_k + x_k): n operations deep, values stay moderate."""
    program = np.zeros((n, 3), dtype=np.int64)
    program[:, 0] = 4
    program[99::100, 0] = 7
    program[:, 1] = np.arange(n)  # each node uses the one before it
    program[:, 2] = np.arange(n)
    constants = np.round(rng.uniform(-0.01, 0.01, n), 4)
    return np.array([float(rng.uniform(-1, 1))]), program, constants


def _order_cases(rng: np.random.Generator) -> list[Case]:
    x, y, z = (float(v) for v in np.round(rng.uniform(-2, 2, 3), 3))
    cases = [
        _case([x, y, z], [[0, 0, 1], [0, 3, 2]], None, "f = (x + y) + z"),
        # d = x + y, e = d + x, f = e + d: x and d each feed two nodes (a diamond).
        _case([x, y], [[0, 0, 1], [0, 2, 0], [0, 3, 2]], None, "shared nodes: d = x + y, e = d + x, f = e + d"),
        # a = x + x uses x twice, f = a + x once more: df/dx = 3.
        _case([x], [[0, 0, 0], [0, 1, 0]], None, "a = x + x, f = a + x: x used twice by a and once by f"),
        _case([x, y, 3.0], [[0, 0, 1], [4, 0, 0], [0, 2, 2]], [0.0, 1.5, 0.0],
              "a node the output does not depend on (it is not in the order, and its grad stays 0)"),
        _case([x], [[0, 0, 0], [0, 1, 1], [0, 2, 2], [0, 3, 3]], None, "repeated doubling: x + x, then again"),
        # m = x + y, t = m + 1, u = t + 1, f = u + m: m reaches f directly and through t and u.
        _case([x, y], [[0, 0, 1], [4, 2, 2], [7, 3, 3], [0, 4, 2]], [0.0, 1.0, 1.0, 0.0],
              "paths of different lengths: f = ((m + 1) + 1) + m with m = x + y"),
        _case([x], np.zeros((0, 3)), None, "a graph of one node: the order is [root]"),
        _case(*_chain(5_000, rng), "a chain 5,000 operations deep (use a loop with your own stack, not recursion)"),
    ]
    for k in range(3):
        n_in, n_ops = int(rng.integers(2, 5)), int(rng.integers(8, 30))
        cases.append(_case(*_random_program(rng, n_in, n_ops, ADD_OPS, reuse=0.6),
                           f"a random graph with shared nodes {k + 1} ({n_ops} operations)"))
    return cases


def _trace_order(value_cls: type, order_fn: Callable[[Any], list[Any]], inputs: np.ndarray, program: np.ndarray,
                 constants: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the test cell's ``run_backward`` returns: values, grads after a backward pass in the reverse of
    ``order_fn(root)``, and that order as node numbers."""
    nodes = build_graph(value_cls, inputs, program, constants)
    root = nodes[-1]
    order = order_fn(root)
    numbers = order_indices(order, nodes)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()
    values = np.array([n.data for n in nodes], dtype=np.float64)
    grads = np.array([n.grad for n in nodes], dtype=np.float64)
    return values, grads, numbers


def _reachable(inputs_of: list[tuple[int, ...]], root: int) -> set[int]:
    seen, stack = {root}, [root]
    while stack:
        for j in inputs_of[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


def judge_order(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    """The order lists every node the output depends on exactly once, each after its inputs, the output last;
    then values and grads as the reference's."""
    inputs, program, constants = case["args"]
    shape = _numbers(outputs, "the order")
    if not shape:
        return shape
    values, grads, order = outputs
    if order.ndim != 1 or order.dtype.kind not in "iu":
        return Comparison(False, "the recorded order is malformed: run the test cell's helper as it is")
    n = len(np.ravel(inputs)) + len(program)
    inputs_of = node_inputs(len(np.ravel(inputs)), program)
    needed = _reachable(inputs_of, n - 1)
    numbers = order.tolist()

    def say(k: int) -> str:
        return describe(k, inputs, program, constants)

    repeated = [k for k, c in Counter(numbers).items() if c > 1]
    if repeated:
        k = repeated[0]
        return Comparison(False, (
            f"{say(k)} is in your order {numbers.count(k)} times: list each node exactly once (remember which "
            "nodes you have visited), or its gradient is passed on more than once."))
    missing = sorted(needed - set(numbers))
    if missing:
        return Comparison(False, (
            f"your order leaves out {say(missing[0])}{' and others' if len(missing) > 1 else ''}: it must list "
            "every node the output depends on, the inputs (leaves) too, each once."))
    unrelated = sorted(k for k in numbers if k < n and k not in needed)
    if unrelated:
        return Comparison(False, f"your order lists {say(unrelated[0])}, which the output does not depend on.")
    # Besides the program's nodes, only the Values an operation made for a plain number may appear.
    n_in = len(np.ravel(inputs))
    with_constants = sum(1 for k in needed if k >= n_in and int(program[k - n_in][0]) not in (0, 1, 2, 3))
    foreign = [k for k in numbers if k >= n]
    if len(foreign) > with_constants:
        return Comparison(False, (
            f"your order holds {len(foreign)} Values that are not part of this graph: does your function keep "
            "a list from an earlier call (a default argument such as order=[], or a list outside the function)?"))
    if numbers[-1] != n - 1:
        return Comparison(False, (
            f"the output must come last in the order (after everything it is made from), but your order ends "
            f"with {say(numbers[-1]) if numbers[-1] < n else 'another Value'}."))
    position = {k: p for p, k in enumerate(numbers)}
    for k in numbers:
        if k < n:
            late = [j for j in inputs_of[k] if position[j] > position[k]]
            if late:
                return Comparison(False, (
                    f"{say(k)} comes before its input {say(late[0])} in your order: every node must come after "
                    "all of its inputs (append a node once all of its inputs are in the order: post-order), or "
                    "the backward pass passes on a gradient that is not complete yet."))
    expected = _trace_order(_value_cls(), module("autograd").topological_order, inputs, program, constants)
    return compare_outputs([values, grads], list(expected[:2]), names=VALUE_NAMES, rtol=RTOL, atol=ATOL)


register(Exercise(
    name="backprop.topological_order",
    reference=lambda inputs, program, constants: _trace_order(
        _value_cls(), module("autograd").topological_order, inputs, program, constants),
    cases=_order_cases,
    names=(*VALUE_NAMES, "the order"),
    rtol=RTOL,
    atol=ATOL,
    check=judge_order,
))
