"""Graded exercises of notebook 02_backprop (I2DL "Introduction to Neural Networks" and
"Optimization and Backpropagation"; the matrix-derivatives tutorial; Ishida's TwoLayerNet).

The first two exercises grade a class, the scalar autograd ``Value``. Only plain
numbers may cross the grading boundary, so a case is a small *program* that
builds an expression: ``inputs`` (k,) are the leaves, and each row
``(op, i, j)`` of ``program`` (K, 3) appends ``nodes[i] <op> nodes[j]`` (or a
unary op of ``nodes[i]``, or an op with the plain number ``constants[row]``).
The test cell runs that program with the student's ``Value`` and returns the
value and the gradient of every node; :func:`run_program` below does the same
with the reference ``Value``, so both sides build the same graph.

The others are NumPy functions; those returning ``(out, cache)`` are wrapped in
the test cell so only numbers are compared, and a network's gradient dict is
returned as a tuple in the order of its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register

# op codes of a program row (op, i, j); c is the row's constant
OPS = {
    0: "nodes[i] + nodes[j]",
    1: "nodes[i] * nodes[j]",
    2: "nodes[i].tanh()",
    3: "nodes[i].relu()",
    4: "nodes[i] + c",
    5: "nodes[i] * c",
    6: "c * nodes[i]",
    7: "c + nodes[i]",
}


def _autograd():
    from dlcourse.reference import autograd

    return autograd


def _layers():
    from dlcourse.reference import layers

    return layers


def _mlp():
    from dlcourse.reference import mlp

    return mlp


# -- running a program with some Value class ------------------------------------------

def build_graph(value_cls: type, inputs: np.ndarray, program: np.ndarray, constants: np.ndarray) -> list[Any]:
    """The nodes of the program's expression, leaves first, made with ``value_cls``."""
    nodes = [value_cls(float(v)) for v in inputs]
    for (op, i, j), c in zip(np.asarray(program).tolist(), np.asarray(constants).tolist(), strict=True):
        a, b = nodes[i], nodes[j]
        if op == 0:
            out = a + b
        elif op == 1:
            out = a * b
        elif op == 2:
            out = a.tanh()
        elif op == 3:
            out = a.relu()
        elif op == 4:
            out = a + c
        elif op == 5:
            out = a * c
        elif op == 6:
            out = c * a
        else:
            out = c + a
        nodes.append(out)
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
        values, grads = run_program(_autograd().Value, inputs, program, constants)
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
    return type("MistakenValue", (_autograd().Value,), overrides)


def _mul_assign(self, other):
    other = other if isinstance(other, _autograd().Value) else _autograd().Value(other)
    out = _autograd().Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad

    out._backward = _backward
    return out


def _mul_own_value(self, other):
    other = other if isinstance(other, _autograd().Value) else _autograd().Value(other)
    out = _autograd().Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += self.data * out.grad
        other.grad += other.data * out.grad

    out._backward = _backward
    return out


def _tanh_unsquared(self):
    t = np.tanh(self.data)
    out = _autograd().Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t) * out.grad

    out._backward = _backward
    return out


def _relu_no_mask(self):
    out = _autograd().Value(max(self.data, 0.0), (self,), "relu")

    def _backward():
        self.grad += out.grad

    out._backward = _backward
    return out


def _ops_mistake(overrides: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    return lambda inputs, program, constants: run_program(_ops_value(overrides), inputs, program, constants)


register(Exercise(
    name="backprop.value_ops",
    reference=lambda inputs, program, constants: run_program(_autograd().Value, inputs, program, constants),
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
    return lambda inputs, program, constants: run_program(_autograd().Value, inputs, program, constants, order)


register(Exercise(
    name="backprop.topological_order",
    reference=lambda inputs, program, constants: run_program(
        _autograd().Value, inputs, program, constants, order="backward"),
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


# -- affine layer ------------------------------------------------------------------------------

def _affine_cases(rng: np.random.Generator, with_dout: bool) -> list[Case]:
    shapes = [(int(rng.integers(2, 9)), int(rng.integers(2, 7))) for _ in range(2)]
    shapes += [(int(rng.integers(2, 5)), 2, 3, 2), (1, int(rng.integers(2, 6)))]
    labels = ["random x (N, D) 1", "random x (N, D) 2", "x of shape (N, 2, 3, 2): flatten each example",
              "a batch of one example"]
    cases = []
    for shape, label in zip(shapes, labels, strict=True):
        N, D, M = shape[0], int(np.prod(shape[1:])), int(rng.integers(2, 6))
        args = [rng.standard_normal(shape), rng.standard_normal((D, M)), rng.standard_normal(M)]
        if with_dout:
            args.append(rng.standard_normal((N, M)))
        cases.append(Case(tuple(args), label=f"{label} (M={M})"))
    return cases


register(Exercise(
    name="backprop.affine_forward",
    reference=lambda x, w, b: _layers().affine_forward(x, w, b)[0],
    cases=lambda rng: _affine_cases(rng, with_dout=False),
    names=("out",),
    mistakes=(
        Mistake("the bias b is missing: out = x w + b.", lambda x, w, b: x.reshape(x.shape[0], -1) @ w),
        Mistake("b is added to every ROW (one b_m per output unit m), broadcast over the batch.",
                lambda x, w, b: x.reshape(x.shape[0], -1) @ w + b.sum()),
    ),
))


def _affine_backward_ref(x, w, b, dout):
    layers = _layers()
    return layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])


def _affine_db_mean(x, w, b, dout):
    dx, dw, _ = _affine_backward_ref(x, w, b, dout)
    return dx, dw, dout.mean(axis=0)


def _affine_dw_transposed(x, w, b, dout):
    dx, dw, db = _affine_backward_ref(x, w, b, dout)
    return dx, dw.T, db


register(Exercise(
    name="backprop.affine_backward",
    reference=_affine_backward_ref,
    cases=lambda rng: _affine_cases(rng, with_dout=True),
    names=("dx", "dw", "db"),
    mistakes=(
        Mistake("db sums dout over the batch (np.sum(dout, axis=0)); b was added to every row, not averaged.",
                _affine_db_mean),
        Mistake("dw = x^T dout, of shape (D, M) like w; dout^T x is its transpose.", _affine_dw_transposed),
    ),
))


# -- activations -----------------------------------------------------------------------------

def _activation_cases(rng: np.random.Generator, extra: list[Case]) -> list[Case]:
    cases = []
    for k, shape in enumerate([(int(rng.integers(2, 8)), int(rng.integers(2, 8))), (int(rng.integers(2, 20)),),
                               (2, 3, 4)]):
        cases.append(Case((rng.standard_normal(shape) * 3, rng.standard_normal(shape)),
                          label=f"random x and dout {k + 1}, shape {shape}"))
    return cases + extra


def _sigmoid_cases(rng: np.random.Generator) -> list[Case]:
    x = np.array([-30.0, -5.0, 0.0, 5.0, 30.0])
    return _activation_cases(rng, [Case((x, np.ones(5)), label="saturation: x far from 0 (gradient near 0)")])


def _sigmoid_backward_ref(x, dout):
    layers = _layers()
    return layers.sigmoid_backward(dout, layers.sigmoid_forward(x)[1])


def _sigmoid_s(x):
    return _layers().sigmoid_forward(x)[0]


register(Exercise(
    name="backprop.sigmoid_backward",
    reference=_sigmoid_backward_ref,
    cases=_sigmoid_cases,
    names=("dx",),
    mistakes=(
        Mistake("the local derivative must be multiplied by dout, the upstream gradient.",
                lambda x, dout: _sigmoid_s(x) * (1 - _sigmoid_s(x))),
        Mistake("sigma'(x) = sigma(x) (1 - sigma(x)): one factor is missing.",
                lambda x, dout: dout * _sigmoid_s(x)),
        Mistake("sigma'(x) = sigma(x) (1 - sigma(x)): one factor is missing.",
                lambda x, dout: dout * (1 - _sigmoid_s(x))),
    ),
))


def _leaky_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, alpha in enumerate([0.0, 0.01, float(np.round(rng.uniform(0.05, 0.3), 3))]):
        shape = (int(rng.integers(2, 8)), int(rng.integers(2, 8)))
        label = "alpha = 0: plain ReLU" if alpha == 0 else f"random x and dout {k}, alpha = {alpha}"
        cases.append(Case((rng.standard_normal(shape), alpha, rng.standard_normal(shape)), label=label))
    x = np.array([-2.0, -0.0, 0.0, 1e-9, 3.0])
    cases.append(Case((x, 0.1, rng.standard_normal(5)), label="x exactly 0 (the slope there is alpha, as in PyTorch)"))
    return cases


def _leaky_ref(x, alpha, dout):
    layers = _layers()
    return layers.leaky_relu_backward(dout, layers.leaky_relu_forward(x, alpha)[1])


register(Exercise(
    name="backprop.leaky_relu_backward",
    reference=_leaky_ref,
    cases=_leaky_cases,
    names=("dx",),
    mistakes=(
        Mistake("where x <= 0 the slope is alpha, not 0 (that would be the plain ReLU).",
                lambda x, alpha, dout: dout * (x > 0)),
        Mistake("the local slope (1 or alpha) must be multiplied by dout, the upstream gradient.",
                lambda x, alpha, dout: np.where(x > 0, 1.0, alpha)),
        Mistake("at x = 0 exactly the slope is alpha: test x > 0, not x >= 0.",
                lambda x, alpha, dout: np.where(x >= 0, dout, alpha * dout)),
    ),
))


# -- softmax cross entropy ------------------------------------------------------------------

def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k in range(3):
        N, C = int(rng.integers(2, 12)), int(rng.integers(2, 8))
        cases.append(Case((rng.standard_normal((N, C)) * 2, rng.integers(0, C, N)),
                          label=f"random scores {k + 1} (N={N}, C={C})"))
    C = int(rng.integers(3, 10))
    cases.append(Case((np.zeros((4, C)), rng.integers(0, C, 4)), label=f"all scores equal: the loss is log {C}"))
    cases.append(Case((np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 2.0]]), np.array([0, 1])),
                      label="huge scores (subtract each row's max before exp)"))
    cases.append(Case((np.array([[50.0, 10.0, -30.0]]), np.array([2])),
                      label="a very confident wrong prediction (p of the true class is e^-80)"))
    cases.append(Case((rng.standard_normal((1, 5)), np.array([3])), label="a batch of one"))
    return cases


def _softmax_probs(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softmax_sum(scores, y):
    loss, d = _layers().softmax_cross_entropy(scores, y)
    return loss * len(y), d * len(y)


def _softmax_grad_no_onehot(scores, y):
    loss, _ = _layers().softmax_cross_entropy(scores, y)
    return loss, _softmax_probs(scores) / len(y)


def _softmax_grad_no_mean(scores, y):
    loss, d = _layers().softmax_cross_entropy(scores, y)
    return loss, d * len(y)


register(Exercise(
    name="backprop.softmax_cross_entropy",
    reference=lambda scores, y: _layers().softmax_cross_entropy(scores, y),
    cases=_softmax_cases,
    names=("loss", "dscores"),
    mistakes=(
        Mistake("the loss is the MEAN over the batch: divide the sum of -log p by N (and dscores too).",
                _softmax_sum),
        Mistake("dscores = (softmax(scores) - onehot(y)) / N: subtract 1 at each row's true class.",
                _softmax_grad_no_onehot),
        Mistake("dscores must be divided by N, because the loss is a mean over the batch.", _softmax_grad_no_mean),
    ),
))


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
        params = _mlp().init_mlp(sizes, rng)
        for i in range(1, n_layers + 1):
            params[f"b{i}"] = 0.1 * rng.standard_normal(sizes[i])
        cases.append(Case((params, rng.standard_normal((N, sizes[0])), rng.integers(0, sizes[-1], N)),
                          label=f"random network {k + 1}, sizes {sizes}, N={N}"))
    sizes = [4] + [5] * (n_layers - 1) + [3]
    params = _mlp().init_mlp(sizes, rng)
    params["b1"] = np.array([-100.0, 0.0, 0.0, 0.0, 0.0])  # hidden unit 0 is dead for every input
    cases.append(Case((params, rng.standard_normal((6, 4)), rng.integers(0, 3, 6)),
                      label="a dead ReLU unit in layer 1 (no gradient flows through it)"))
    params = _mlp().init_mlp(sizes, rng)
    cases.append(Case((params, rng.standard_normal((1, 4)), np.array([2])), label="a batch of one"))
    return cases


def _net_ref(n_layers: int) -> Callable[..., tuple[Any, ...]]:
    def reference(params, X, y):
        if _mlp().num_layers(params) != n_layers:
            raise ValueError(f"expected {n_layers} layers")
        return as_tuple(*_mlp().mlp_loss(params, X, y), params)

    return reference


def _wrong_net(mistake: str) -> Callable[..., tuple[Any, ...]]:
    """A hand-written backward pass with one known mistake."""

    def loss_fn(params, X, y):
        layers, L = _layers(), _mlp().num_layers(params)
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
