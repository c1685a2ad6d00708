"""A scalar autograd engine (I2DL "Introduction to Neural Networks" and "Optimization
and Backpropagation": computational graphs, the chain rule, backpropagation).

A :class:`Value` holds one number, ``data``, and after a backward pass ``grad``,
the derivative of the output the pass started from with respect to it. Each
operation makes a new node that remembers its inputs (``_prev``) and a closure,
``_backward``, that adds the node's local derivative times its upstream gradient
``out.grad`` to the ``grad`` of every input: the chain rule, one edge at a time.
Gradients are *added* because a node that feeds several others collects the
gradient of every path (the multivariate chain rule); a node used twice, as in
``x * x``, receives both contributions.

:meth:`Value.backward` visits the nodes in reverse topological order, so a
node's ``grad`` is complete before it is passed on. The order is found with an
explicit stack, not recursion: a graph thousands of nodes deep (a long chain of
operations) must not hit Python's recursion limit.

The operations are those of the course's notebook 02 (add, multiply, tanh,
ReLU), plus negation and subtraction built from them and ``exp`` for
comparisons. Each backward sits right under its forward, as in
karpathy/micrograd.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["Value", "topological_order"]


def _as_value(other: object) -> Value | None:
    """``other`` as a Value (plain numbers become constants); None for anything else."""
    if isinstance(other, Value):
        return other
    if isinstance(other, numbers.Real) and not isinstance(other, bool):
        return Value(other)
    return None


class Value:
    """One scalar node of a computational graph.

    Attributes:
    - data: the number this node holds (a float)
    - grad: d(output)/d(this node) after ``output.backward()``; 0.0 before
    - _prev: the nodes this one was computed from (repeated if an input is used twice)
    - _op: the operation that made it ('+', '*', 'tanh', 'relu', 'exp', or '' for a leaf)
    """

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "") -> None:
        if isinstance(data, Value):
            raise ValueError("Value(data) needs a number; got a Value (use it directly)")
        if not isinstance(data, numbers.Real) or isinstance(data, bool):
            raise ValueError(f"Value(data) needs a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None  # a leaf has no inputs to pass a gradient to

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # -- operations: forward, then the local derivative right below it -------------

    def __add__(self, other: Value | float) -> Value:
        other = _as_value(other)
        if other is None:
            return NotImplemented
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            # d(a + b)/da = d(a + b)/db = 1: the upstream gradient is copied to both.
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = _as_value(other)
        if other is None:
            return NotImplemented
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            # d(a b)/da = b and d(a b)/db = a: each input gets the other one's value.
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad  # tanh'(x) = 1 - tanh(x)^2

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            # Slope 1 where x > 0, else 0 (0 at the kink itself, like PyTorch).
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward() -> None:
            self.grad += e * out.grad  # (e^x)' = e^x

        out._backward = _backward
        return out

    # -- built from the operations above ------------------------------------------

    def __radd__(self, other: float) -> Value:  # 2 + x
        return self + other

    def __rmul__(self, other: float) -> Value:  # 2 * x
        return self * other

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        other = _as_value(other)
        if other is None:
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other: float) -> Value:  # 2 - x
        return (-self) + other

    # -- backpropagation --------------------------------------------------------------

    def backward(self) -> None:
        """Fill in ``grad`` of every node this one depends on: d(self)/d(node).

        Sets ``self.grad = 1`` (dself/dself) and calls each node's ``_backward``
        in reverse topological order. Gradients accumulate: call it once per
        graph (or reset ``grad`` to 0 first), as with PyTorch's ``backward``.
        """
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each once, inputs before the nodes made from them.

    An iterative depth-first search: a node is appended after all of its
    inputs (post-order), so ``root`` comes last. The explicit stack holds
    ``(node, expanded)`` pairs; no recursion, so the depth of the graph is
    limited only by memory.

    Inputs:
    - root: the node to start from

    Returns: a list of the distinct nodes reachable from root through ``_prev``.
    """
    if not isinstance(root, Value):
        raise ValueError(f"topological_order needs a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[int] = set()  # ids: a node is expanded once however many paths reach it
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)  # all of its inputs are already in order
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in node._prev if id(child) not in visited)
    return order
