"""Expressions as plain data: how notebook 02 grades a class (the scalar autograd ``Value``).

Only plain numbers may cross the grading boundary (``dlcourse.checks.protocol``),
so a case for a class is a small *program* that builds an expression:
``inputs`` (k,) are the leaves, and row ``(op, i, j)`` of ``program`` (K, 3)
appends one node made from earlier nodes ``nodes[i]`` and ``nodes[j]`` (a unary
op ignores ``j``) and the row's plain number ``constants[row]``, as :data:`OPS`
says. The test cell builds the program with the student's ``Value`` and
returns the value and the gradient of every node; the exercise description
(``dlcourse.exercises.backprop``) builds the same program with the reference
``Value``. This module is the one definition of that encoding, and it holds
no answer: it only calls the operations of whatever class it is given.

The structure of a graph crosses the boundary as plain numbers too, so that
the grader can judge it in its own process: :func:`parent_edges` says which
nodes each node records as its inputs (its ``_prev``), :func:`order_indices`
turns a topological order (a list of nodes) into node numbers, and
:func:`node_inputs` says what a program's nodes' inputs must be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["BINARY_OPS", "OPS", "Op", "build_graph", "node_inputs", "order_indices", "parent_edges", "run_program"]


class Op(NamedTuple):
    """One op code: how it reads, and what it does with nodes a = nodes[i], b = nodes[j] and the constant c."""

    text: str
    apply: Callable[[Any, Any, float], Any]


# op code -> operation of a program row (op, i, j); c is that row's constant.
OPS: dict[int, Op] = {
    0: Op("nodes[i] + nodes[j]", lambda a, b, c: a + b),
    1: Op("nodes[i] * nodes[j]", lambda a, b, c: a * b),
    2: Op("nodes[i].tanh()", lambda a, b, c: a.tanh()),
    3: Op("nodes[i].relu()", lambda a, b, c: a.relu()),
    4: Op("nodes[i] + c", lambda a, b, c: a + c),
    5: Op("nodes[i] * c", lambda a, b, c: a * c),
    6: Op("c * nodes[i]", lambda a, b, c: c * a),
    7: Op("c + nodes[i]", lambda a, b, c: c + a),
}
# The op codes that read nodes[j]; every other op reads nodes[i] alone (and perhaps the constant c).
BINARY_OPS = frozenset({0, 1})


def build_graph(value_cls: type, inputs: np.ndarray, program: np.ndarray, constants: np.ndarray) -> list[Any]:
    """The nodes of the program's expression made with ``value_cls``, leaves first.

    Row k of ``program`` makes node ``len(inputs) + k``; an unknown op code or
    a row that names a node not made yet is refused with a ValueError.
    """
    nodes = [value_cls(float(v)) for v in np.asarray(inputs, dtype=np.float64).ravel()]
    rows = np.asarray(program).reshape(-1, 3).tolist()
    consts = np.asarray(constants, dtype=np.float64).ravel().tolist()
    if len(consts) != len(rows):
        raise ValueError(f"program has {len(rows)} rows but constants has {len(consts)} values")
    for (op, i, j), c in zip(rows, consts, strict=True):
        if op not in OPS:
            raise ValueError(f"unknown op code {op}; known: {sorted(OPS)}")
        if not (0 <= i < len(nodes) and 0 <= j < len(nodes)):
            raise ValueError(f"a row names node {max(i, j)} before it exists ({len(nodes)} nodes so far)")
        nodes.append(OPS[op].apply(nodes[i], nodes[j], c))
    return nodes


def run_program(value_cls: type, inputs: np.ndarray, program: np.ndarray, constants: np.ndarray,
                order: Callable[[Any], list[Any]] | str = "creation") -> tuple[np.ndarray, np.ndarray]:
    """Build the program's graph, backpropagate from its last node, return (values, grads) of all nodes.

    ``order``: "creation" calls every node's ``_backward`` in reverse creation
    order (always a valid reverse topological order here: each node is made
    after its inputs), so only the operations are exercised; "backward" calls
    the root's own ``backward()``; a function ``root -> list of nodes`` is used
    as the topological order (to replay a known mistake).
    """
    nodes = build_graph(value_cls, inputs, program, constants)
    root = nodes[-1]
    if order == "backward":
        root.backward()
    else:
        sequence = nodes if order == "creation" else order(root)
        root.grad = 1.0
        for node in reversed(sequence):
            node._backward()
    return np.array([n.data for n in nodes], dtype=np.float64), np.array([n.grad for n in nodes], dtype=np.float64)


def node_inputs(n_inputs: int, program: np.ndarray) -> list[tuple[int, ...]]:
    """The nodes each node of the program is made from, by number: () for a leaf; (i, j) for a binary op
    (i == j when one node is used twice, as in x * x); (i,) for a unary op or one with a plain number."""
    rows = np.asarray(program).reshape(-1, 3).tolist()
    return [()] * int(n_inputs) + [(i, j) if op in BINARY_OPS else (i,) for op, i, j in rows]


def parent_edges(nodes: list[Any]) -> np.ndarray:
    """What each node records as its inputs: an (E, 2) int64 array of rows ``(node, input)``.

    One row per entry of ``nodes[k]._prev``, in its order (a node used twice gives two rows). ``input`` is
    the entry's position in ``nodes``, or -1 for anything else (a Value made for a plain number, say).
    """
    where = {id(node): k for k, node in enumerate(nodes)}
    rows = [(k, where.get(id(parent), -1)) for k, node in enumerate(nodes) for parent in node._prev]
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def order_indices(order: Any, nodes: list[Any]) -> np.ndarray:
    """A list of nodes (a topological order) as numbers: (K,) int64.

    A node of ``nodes`` is its position there; any other object gets a number from ``len(nodes)`` upwards,
    the same number each time the same object appears (a Value made for a plain number; a node of another
    graph), so a repeated entry shows as a repeated number.
    """
    where = {id(node): k for k, node in enumerate(nodes)}
    others: dict[int, int] = {}
    numbers = []
    for item in list(order):
        key = id(item)
        if key not in where and key not in others:
            others[key] = len(nodes) + len(others)
        numbers.append(where[key] if key in where else others[key])
    return np.array(numbers, dtype=np.int64)
