"""Tests of the tests for 02_backprop: wrong implementations are rejected, other correct ones
accepted, by the notebook's own graded test cells (as a student and as the grader).

The ``Value`` class is one solution cell; its variants are the solution's source
with one method changed (:func:`value_variant`).

Besides wrong formulas, each exercise has wrong variants of the classes the grading catches by
construction: a function that changes an argument in place (``dx = dout; dx *= ...``,
``scores -= max``, updating ``params``), one that breaks the contract beyond the numbers (an
operation that does not record its inputs, an order that leaves out the leaves), one that fails
only at the edges the docstrings allow (tanh of 400, rows 1000 apart, a probability of e^-1000,
a kink at exactly 0, a network of one layer), one that keeps hidden state between calls (a
mutable default), and one computed in float32.
"""

from __future__ import annotations

import harness
import nbformat
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("02_backprop")

NOTEBOOK = REPO / "solutions" / "02_backprop" / "02_backprop.ipynb"


def _solution_source(grade_id: str) -> str:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(grade_id)


VALUE = _solution_source("Value")


def value_variant(label: str, *changes: tuple[str, str]) -> Variant:
    """The solution's Value class with each ``(old, new)`` applied (``old`` must occur exactly once)."""
    source = VALUE
    for old, new in changes:
        assert source.count(old) == 1, f"{label}: {old!r} is not in the Value solution exactly once"
        source = source.replace(old, new)
    return Variant(label, source)


MUL_GRADS = ("            self.grad += other.data * out.grad\n"
             "            other.grad += self.data * out.grad")


# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "value_ops": ("Value", "test_value_ops", [
        value_variant("mul assigns instead of adding", (MUL_GRADS, (
            "            self.grad = other.data * out.grad\n"
            "            other.grad = self.data * out.grad"))),
        value_variant("mul uses each input's own value", (MUL_GRADS, (
            "            self.grad += self.data * out.grad\n"
            "            other.grad += other.data * out.grad"))),
        value_variant("tanh derivative not squared",
                      ("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - t) * out.grad")),
        value_variant("relu passes every gradient",
                      ("self.grad += (out.data > 0) * out.grad", "self.grad += out.grad")),
        value_variant("mul does not accept plain numbers", (
            "        other = other if isinstance(other, Value) else Value(other)\n"
            "        out = Value(self.data * other.data",
            "        out = Value(self.data * other.data")),
        # The contract: backward() finds the graph only through _prev; calling _backward by hand still works.
        value_variant("mul does not record its inputs", (
            'out = Value(self.data * other.data, (self, other), "*")', 'out = Value(self.data * other.data)')),
        value_variant("tanh records no input", ('out = Value(t, (self,), "tanh")', "out = Value(t)")),
        # Edges: tanh through exp overflows at 400; relu's kink at exactly 0.
        value_variant("tanh through exp overflows", (
            "        t = math.tanh(self.data)\n",
            "        t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)\n")),
        value_variant("relu passes the gradient at 0", (
            "self.grad += (out.data > 0) * out.grad", "self.grad += (self.data >= 0) * out.grad")),
    ], [
        value_variant("numpy tanh", ("        t = math.tanh(self.data)\n", "        t = float(np.tanh(self.data))\n")),
        value_variant("relu with max and an if, mul through a local", (
            "        out = Value(self.data if self.data > 0 else 0.0, (self,), \"relu\")\n\n"
            "        def _backward():\n"
            "            self.grad += (out.data > 0) * out.grad",
            "        out = Value(max(0.0, self.data), (self,), \"relu\")\n\n"
            "        def _backward():\n"
            "            if self.data > 0:\n"
            "                self.grad += out.grad"), (MUL_GRADS, (
            "            g = out.grad\n"
            "            self.grad = self.grad + g * other.data\n"
            "            other.grad = other.grad + g * self.data"))),
        value_variant("inputs recorded as (other, self), tanh through exp of -2|x|", (
            'out = Value(self.data * other.data, (self, other), "*")',
            'out = Value(self.data * other.data, (other, self), "*")'), (
            "        t = math.tanh(self.data)\n",
            "        e = math.exp(-2 * abs(self.data))\n"
            "        t = math.copysign((1 - e) / (1 + e), self.data)\n")),
    ]),
    "topological_order": ("topological_order", "test_topological_order", [
        Variant("recursive depth-first search", (
            "def topological_order(root):\n"
            "    order, visited = [], set()\n"
            "    def visit(node):\n"
            "        if node not in visited:\n"
            "            visited.add(node)\n"
            "            for child in node._prev:\n"
            "                visit(child)\n"
            "            order.append(node)\n"
            "    visit(root)\n"
            "    return order")),
        Variant("no visited set: shared nodes twice", (
            "def topological_order(root):\n"
            "    order, stack = [], [(root, False)]\n"
            "    while stack:\n"
            "        node, expanded = stack.pop()\n"
            "        if expanded:\n"
            "            order.append(node)\n"
            "        else:\n"
            "            stack.append((node, True))\n"
            "            stack.extend((child, False) for child in node._prev)\n"
            "    return order")),
        Variant("pre-order: a node before its inputs", (
            "def topological_order(root):\n"
            "    order, seen, stack = [], set(), [root]\n"
            "    while stack:\n"
            "        node = stack.pop()\n"
            "        if node in seen:\n"
            "            continue\n"
            "        seen.add(node)\n"
            "        order.append(node)\n"
            "        stack.extend(node._prev)\n"
            "    return order")),
        Variant("breadth-first order, reversed", (
            "def topological_order(root):\n"
            "    order, seen, queue = [], {id(root)}, [root]\n"
            "    while queue:\n"
            "        node = queue.pop(0)\n"
            "        order.append(node)\n"
            "        for child in node._prev:\n"
            "            if id(child) not in seen:\n"
            "                seen.add(id(child))\n"
            "                queue.append(child)\n"
            "    return order[::-1]")),
        # The contract: a leaf's _backward does nothing, so leaving the leaves out changes no gradient.
        Variant("leaves left out", (
            "def topological_order(root):\n"
            "    order, visited, stack = [], set(), [(root, False)]\n"
            "    while stack:\n"
            "        node, expanded = stack.pop()\n"
            "        if expanded:\n"
            "            if node._prev:\n"
            "                order.append(node)\n"
            "        elif id(node) not in visited:\n"
            "            visited.add(id(node))\n"
            "            stack.append((node, True))\n"
            "            stack.extend((child, False) for child in node._prev)\n"
            "    return order")),
        # Hidden state: the order of every earlier call is still in the list.
        Variant("a mutable default list", (
            "def topological_order(root, order=[]):\n"
            "    visited, stack = set(), [(root, False)]\n"
            "    while stack:\n"
            "        node, expanded = stack.pop()\n"
            "        if expanded:\n"
            "            order.append(node)\n"
            "        elif id(node) not in visited:\n"
            "            visited.add(id(node))\n"
            "            stack.append((node, True))\n"
            "            stack.extend((child, False) for child in node._prev)\n"
            "    return order")),
    ], [
        Variant("Kahn's algorithm", (
            "def topological_order(root):\n"
            "    # find every node, count how many nodes use each one, then peel from the root\n"
            "    users, stack, seen = {}, [root], {id(root)}\n"
            "    while stack:\n"
            "        node = stack.pop()\n"
            "        for child in node._prev:\n"
            "            users[id(child)] = users.get(id(child), 0) + 1\n"
            "            if id(child) not in seen:\n"
            "                seen.add(id(child))\n"
            "                stack.append(child)\n"
            "    ready, reverse = [root], []\n"
            "    while ready:\n"
            "        node = ready.pop()\n"
            "        reverse.append(node)\n"
            "        for child in node._prev:\n"
            "            users[id(child)] -= 1\n"
            "            if users[id(child)] == 0:\n"
            "                ready.append(child)\n"
            "    return reverse[::-1]")),
        Variant("stack of iterators", (
            "def topological_order(root):\n"
            "    order, visited = [], {root}\n"
            "    stack = [(root, iter(root._prev))]\n"
            "    while stack:\n"
            "        node, children = stack[-1]\n"
            "        for child in children:\n"
            "            if child not in visited:\n"
            "                visited.add(child)\n"
            "                stack.append((child, iter(child._prev)))\n"
            "                break\n"
            "        else:\n"
            "            stack.pop()\n"
            "            order.append(node)\n"
            "    return order")),
        Variant("a dict as an ordered set of visited nodes", (
            "def topological_order(root):\n"
            "    done, stack = {}, [root]\n"
            "    while stack:\n"
            "        node = stack[-1]\n"
            "        pending = [c for c in node._prev if id(c) not in done]\n"
            "        if pending:\n"
            "            stack.extend(pending)\n"
            "        else:\n"
            "            stack.pop()\n"
            "            done.setdefault(id(node), node)\n"
            "    return list(done.values())")),
    ]),
    "affine_forward": ("affine_forward", "test_affine_forward", [
        Variant("bias missing", "def affine_forward(x, w, b):\n    return x.reshape(x.shape[0], -1) @ w, (x, w, b)"),
        Variant("not flattened", "def affine_forward(x, w, b):\n    return x @ w + b, (x, w, b)"),
        Variant("flattened over the whole batch", (
            "def affine_forward(x, w, b):\n    return x.reshape(-1, w.shape[0]) @ w + b.sum(), (x, w, b)")),
        Variant("flattens x in place", (
            "def affine_forward(x, w, b):\n    x.shape = (x.shape[0], -1)\n    return x @ w + b, (x, w, b)")),
        Variant("float32", (
            "def affine_forward(x, w, b):\n"
            "    x32, w32 = x.reshape(len(x), -1).astype(np.float32), w.astype(np.float32)\n"
            "    return x32 @ w32 + b.astype(np.float32), (x, w, b)")),
    ], [
        Variant("einsum", (
            "def affine_forward(x, w, b):\n"
            "    return np.einsum('nd,dm->nm', x.reshape(len(x), -1), w) + b[None, :], (x, w, b)")),
        Variant("loop over examples", (
            "def affine_forward(x, w, b):\n"
            "    out = np.array([row.ravel() @ w + b for row in x])\n"
            "    return out, (x, w, b)")),
    ]),
    "affine_backward": ("affine_backward", "test_affine_backward", [
        Variant("db is a mean", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.mean(axis=0)")),
        Variant("dx keeps the flat shape", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    return dout @ w.T, x.reshape(len(x), -1).T @ dout, dout.sum(axis=0)")),
        Variant("dw transposed", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    return (dout @ w.T).reshape(x.shape), dout.T @ x.reshape(len(x), -1), dout.sum(axis=0)")),
        Variant("flattens the cached x in place", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    shape = x.shape\n"
            "    x.shape = (shape[0], -1)\n"
            "    return (dout @ w.T).reshape(shape), x.T @ dout, dout.sum(axis=0)")),
        Variant("float32", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    d, w32 = dout.astype(np.float32), w.astype(np.float32)\n"
            "    x32 = x.reshape(len(x), -1).astype(np.float32)\n"
            "    return (d @ w32.T).reshape(x.shape), x32.T @ d, d.sum(axis=0)")),
    ], [
        Variant("sum of outer products", (
            "def affine_backward(dout, cache):\n"
            "    x, w, b = cache\n"
            "    flat = x.reshape(x.shape[0], -1)\n"
            "    dw = np.zeros_like(w)\n"
            "    for n in range(x.shape[0]):\n"
            "        dw += np.outer(flat[n], dout[n])\n"
            "    dx = np.einsum('nm,dm->nd', dout, w).reshape(x.shape)\n"
            "    return dx, dw, np.ones(x.shape[0]) @ dout")),
    ]),
    "sigmoid_backward": ("sigmoid_backward", "test_sigmoid_backward", [
        Variant("dout forgotten", "def sigmoid_backward(dout, cache):\n    return cache * (1 - cache)"),
        Variant("one factor missing", "def sigmoid_backward(dout, cache):\n    return dout * cache"),
        Variant("dout changed in place", (
            "def sigmoid_backward(dout, cache):\n    dout *= cache * (1 - cache)\n    return dout")),
    ], [
        Variant("s - s^2", "def sigmoid_backward(dout, cache):\n    s = cache\n    return dout * (s - s**2)"),
    ]),
    "leaky_relu_backward": ("leaky_relu_backward", "test_leaky_relu_backward", [
        Variant("alpha ignored", "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return dout * (x > 0)"),
        Variant("slope 1 at zero", (
            "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return np.where(x >= 0, dout, a * dout)")),
        Variant("dout forgotten", (
            "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return np.where(x > 0, 1.0, a) + 0 * dout")),
        Variant("dx = dout; dx *= alpha", (
            "def leaky_relu_backward(dout, cache):\n"
            "    x, alpha = cache\n"
            "    dx = dout\n"
            "    dx[x <= 0] *= alpha\n"
            "    return dx")),
    ], [
        Variant("mask arithmetic", (
            "def leaky_relu_backward(dout, cache):\n"
            "    x, alpha = cache\n"
            "    return dout * ((x > 0) + alpha * (x <= 0))")),
        Variant("copy and scale", (
            "def leaky_relu_backward(dout, cache):\n"
            "    x, alpha = cache\n"
            "    dx = np.array(dout, dtype=float, copy=True)\n"
            "    dx[x <= 0] *= alpha\n"
            "    return dx")),
    ]),
    "softmax_cross_entropy": ("softmax_cross_entropy", "test_softmax_cross_entropy", [
        Variant("no max subtracted: overflows", (
            "def softmax_cross_entropy(scores, y):\n"
            "    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    d = p.copy()\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -np.log(p[np.arange(N), y]).mean(), d / N")),
        Variant("sum over the batch", (
            "def softmax_cross_entropy(scores, y):\n"
            "    s = scores - scores.max(axis=1, keepdims=True)\n"
            "    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    d = p.copy()\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -np.log(p[np.arange(N), y]).sum(), d")),
        Variant("gradient not divided by N", (
            "def softmax_cross_entropy(scores, y):\n"
            "    s = scores - scores.max(axis=1, keepdims=True)\n"
            "    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    d = p.copy()\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -np.log(p[np.arange(N), y]).mean(), d")),
        Variant("one shift for the whole batch", (
            "def softmax_cross_entropy(scores, y):\n"
            "    s = scores - scores.max()\n"
            "    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))\n"
            "    N = len(y)\n"
            "    d = np.exp(logp)\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -logp[np.arange(N), y].mean(), d / N")),
        Variant("log of the probability", (
            "def softmax_cross_entropy(scores, y):\n"
            "    s = scores - scores.max(axis=1, keepdims=True)\n"
            "    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    d = p.copy()\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -np.log(p[np.arange(N), y]).mean(), d / N")),
        Variant("log of the probability plus 1e-12", (
            "def softmax_cross_entropy(scores, y):\n"
            "    s = scores - scores.max(axis=1, keepdims=True)\n"
            "    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    d = p.copy()\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -np.log(p[np.arange(N), y] + 1e-12).mean(), d / N")),
        Variant("scores -= max, in place", (
            "def softmax_cross_entropy(scores, y):\n"
            "    scores -= scores.max(axis=1, keepdims=True)\n"
            "    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))\n"
            "    N = len(y)\n"
            "    d = np.exp(logp)\n"
            "    d[np.arange(N), y] -= 1\n"
            "    return -logp[np.arange(N), y].mean(), d / N")),
    ], [
        Variant("scipy and a one-hot matrix", (
            "def softmax_cross_entropy(scores, y):\n"
            "    from scipy.special import log_softmax\n"
            "    logp = log_softmax(scores, axis=1)\n"
            "    onehot = np.eye(scores.shape[1])[y]\n"
            "    return -np.sum(onehot * logp) / len(y), (np.exp(logp) - onehot) / len(y)")),
        Variant("loop over examples", (
            "def softmax_cross_entropy(scores, y):\n"
            "    N = scores.shape[0]\n"
            "    loss, d = 0.0, np.zeros_like(scores)\n"
            "    for n in range(N):\n"
            "        s = scores[n] - scores[n].max()\n"
            "        logp = s - np.log(np.sum(np.exp(s)))\n"
            "        loss -= logp[y[n]] / N\n"
            "        d[n] = np.exp(logp) / N\n"
            "        d[n, y[n]] -= 1 / N\n"
            "    return loss, d")),
    ]),
    "svm_loss": ("svm_loss", "test_svm_loss", [
        Variant("the true class's own term counted", (
            "def svm_loss(scores, y):\n"
            "    N = len(y)\n"
            "    margins = np.maximum(0, scores - scores[np.arange(N), y][:, None] + 1)\n"
            "    d = (margins > 0).astype(float)\n"
            "    d[np.arange(N), y] -= d.sum(axis=1)\n"
            "    return margins.sum() / N, d / N")),
        Variant("slope 1 at the kink", (
            "def svm_loss(scores, y):\n"
            "    N = len(y)\n"
            "    m = scores - scores[np.arange(N), y][:, None] + 1\n"
            "    m[np.arange(N), y] = -1\n"
            "    d = (m >= 0).astype(float)\n"
            "    d[np.arange(N), y] = -d.sum(axis=1)\n"
            "    return np.maximum(m, 0).sum() / N, d / N")),
        Variant("no gradient at the true class", (
            "def svm_loss(scores, y):\n"
            "    N = len(y)\n"
            "    m = scores - scores[np.arange(N), y][:, None] + 1\n"
            "    m[np.arange(N), y] = 0\n"
            "    return np.maximum(m, 0).sum() / N, (m > 0) / N")),
        Variant("sum over the batch", (
            "def svm_loss(scores, y):\n"
            "    N = len(y)\n"
            "    m = scores - scores[np.arange(N), y][:, None] + 1\n"
            "    m[np.arange(N), y] = 0\n"
            "    d = (m > 0).astype(float)\n"
            "    d[np.arange(N), y] = -d.sum(axis=1)\n"
            "    return np.maximum(m, 0).sum(), d")),
        Variant("scores shifted in place", (
            "def svm_loss(scores, y):\n"
            "    N = len(y)\n"
            "    scores -= scores[np.arange(N), y][:, None] - 1\n"
            "    scores[np.arange(N), y] = 0\n"
            "    d = (scores > 0).astype(float)\n"
            "    d[np.arange(N), y] = -d.sum(axis=1)\n"
            "    return np.maximum(scores, 0).sum() / N, d / N")),
    ], [
        Variant("a loop over examples and classes", (
            "def svm_loss(scores, y):\n"
            "    N, C = scores.shape\n"
            "    loss, d = 0.0, np.zeros_like(scores)\n"
            "    for n in range(N):\n"
            "        for k in range(C):\n"
            "            margin = scores[n, k] - scores[n, y[n]] + 1\n"
            "            if k != y[n] and margin > 0:\n"
            "                loss += margin / N\n"
            "                d[n, k] += 1 / N\n"
            "                d[n, y[n]] -= 1 / N\n"
            "    return loss, d")),
        Variant("a one-hot mask and np.maximum", (
            "def svm_loss(scores, y):\n"
            "    N, C = scores.shape\n"
            "    wrong = 1.0 - np.eye(C)[y]\n"
            "    margins = np.maximum(0.0, scores - np.take_along_axis(scores, y[:, None], 1) + 1) * wrong\n"
            "    active = (margins > 0) * 1.0\n"
            "    d = active - np.eye(C)[y] * active.sum(axis=1, keepdims=True)\n"
            "    return float(np.sum(margins) / N), d / N")),
    ]),
    "two_layer_loss": ("two_layer_loss", "test_two_layer_loss", [
        Variant("ReLU backward missing", (
            "def two_layer_loss(params, X, y):\n"
            "    z1, c1 = affine_forward(X, params['W1'], params['b1'])\n"
            "    a1, _ = relu_forward(z1)\n"
            "    s, c2 = affine_forward(a1, params['W2'], params['b2'])\n"
            "    loss, ds = softmax_cross_entropy(s, y)\n"
            "    da1, dW2, db2 = affine_backward(ds, c2)\n"
            "    _, dW1, db1 = affine_backward(da1, c1)\n"
            "    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}")),
        Variant("dW2 from z1 instead of a1", (
            "def two_layer_loss(params, X, y):\n"
            "    z1 = X @ params['W1'] + params['b1']\n"
            "    a1 = np.maximum(z1, 0)\n"
            "    loss, ds = softmax_cross_entropy(a1 @ params['W2'] + params['b2'], y)\n"
            "    dz1 = (ds @ params['W2'].T) * (z1 > 0)\n"
            "    return loss, {'W1': X.T @ dz1, 'b1': dz1.sum(0), 'W2': z1.T @ ds, 'b2': ds.sum(0)}")),
        Variant("float32 throughout", (
            "def two_layer_loss(params, X, y):\n"
            "    p = {k: v.astype(np.float32) for k, v in params.items()}\n"
            "    X = X.astype(np.float32)\n"
            "    z1 = X @ p['W1'] + p['b1']\n"
            "    a1 = np.maximum(z1, 0)\n"
            "    s = a1 @ p['W2'] + p['b2']\n"
            "    e = np.exp(s - s.max(axis=1, keepdims=True))\n"
            "    prob = e / e.sum(axis=1, keepdims=True)\n"
            "    N = len(y)\n"
            "    loss = -np.mean(np.log(prob[np.arange(N), y]))\n"
            "    ds = prob.copy()\n"
            "    ds[np.arange(N), y] -= 1\n"
            "    ds /= N\n"
            "    dz1 = (ds @ p['W2'].T) * (z1 > 0)\n"
            "    return loss, {'W1': X.T @ dz1, 'b1': dz1.sum(0), 'W2': a1.T @ ds, 'b2': ds.sum(0)}")),
        Variant("gradients swapped between the layers", (
            "def two_layer_loss(params, X, y):\n"
            "    z1, c1 = affine_forward(X, params['W1'], params['b1'])\n"
            "    a1, cr = relu_forward(z1)\n"
            "    s, c2 = affine_forward(a1, params['W2'], params['b2'])\n"
            "    loss, ds = softmax_cross_entropy(s, y)\n"
            "    da1, dW2, db2 = affine_backward(ds, c2)\n"
            "    _, dW1, db1 = affine_backward(relu_backward(da1, cr), c1)\n"
            "    return loss, {'W1': dW1, 'b1': db2, 'W2': dW2, 'b2': db1}")),
    ], [
        Variant("the lecture's TwoLayerNet, all by hand", (
            "def two_layer_loss(params, X, y):\n"
            "    N = X.shape[0]\n"
            "    z1 = X @ params['W1'] + params['b1']\n"
            "    a1 = np.maximum(z1, 0)\n"
            "    z2 = a1 @ params['W2'] + params['b2']\n"
            "    e = np.exp(z2 - z2.max(axis=1, keepdims=True))\n"
            "    p = e / e.sum(axis=1, keepdims=True)\n"
            "    loss = -np.mean(np.log(p[np.arange(N), y]))\n"
            "    grad_z2 = p.copy()\n"
            "    grad_z2[np.arange(N), y] -= 1\n"
            "    grad_z2 /= N\n"
            "    grad_a1 = grad_z2 @ params['W2'].T\n"
            "    grad_z1 = grad_a1.copy()\n"
            "    grad_z1[z1 < 0] = 0\n"
            "    return loss, {'W1': X.T @ grad_z1, 'b1': grad_z1.sum(axis=0),\n"
            "                  'W2': a1.T @ grad_z2, 'b2': grad_z2.sum(axis=0)}")),
    ]),
    "network_loss": ("network_loss", "test_network_loss", [
        Variant("the biases regularized too", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        for n in ('W', 'b'):\n"
            "            W = params[f'{n}{i}']\n"
            "            loss += reg * np.sum(W ** 2)\n"
            "            grads[f'{n}{i}'] = grads[f'{n}{i}'] + 2 * reg * W\n"
            "    return loss, grads")),
        Variant("the L2 gradient missing", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        grads[f'W{i}'] = grads[f'W{i}']\n"
            "    return loss, grads")),
        Variant("the L2 gradient without its factor 2", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + reg * W\n"
            "    return loss, grads")),
        Variant("the L2 term only in the gradient", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += 0.0\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + 2 * reg * W\n"
            "    return loss, grads")),
        Variant("a ReLU after the last layer too", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if True:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + 2 * reg * W\n"
            "    return loss, grads")),
        Variant("the loop stops before the last layer", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + 2 * reg * W\n"
            "    return loss, grads")),
        Variant("the L2 gradient made in place from W (dW = W; dW *= 2 reg)", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        dW = W\n"
            "        dW *= 2 * reg\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + dW\n"
            "    return loss, grads")),
        Variant("the Tokyo homework copied: three layers only", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    z1, c1 = affine_forward(X, params['W1'], params['b1'])\n"
            "    a1, r1 = relu_forward(z1)\n"
            "    z2, c2 = affine_forward(a1, params['W2'], params['b2'])\n"
            "    a2, r2 = relu_forward(z2)\n"
            "    s, c3 = affine_forward(a2, params['W3'], params['b3'])\n"
            "    loss, ds = softmax_cross_entropy(s, y)\n"
            "    g = {}\n"
            "    da2, g['W3'], g['b3'] = affine_backward(ds, c3)\n"
            "    da1, g['W2'], g['b2'] = affine_backward(relu_backward(da2, r2), c2)\n"
            "    _, g['W1'], g['b1'] = affine_backward(relu_backward(da1, r1), c1)\n"
            "    for i in (1, 2, 3):\n"
            "        loss += reg * np.sum(params[f'W{i}'] ** 2)\n"
            "        g[f'W{i}'] = g[f'W{i}'] + 2 * reg * params[f'W{i}']\n"
            "    return loss, g")),
    ], [
        Variant("a loop over the layers, as the solution", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    a, caches = X, []\n"
            "    for i in range(1, L + 1):\n"
            "        a, c = affine_forward(a, params[f'W{i}'], params[f'b{i}'])\n"
            "        r = None\n"
            "        if i < L:\n"
            "            a, r = relu_forward(a)\n"
            "        caches.append((c, r))\n"
            "    loss, d = softmax_cross_entropy(a, y)\n"
            "    grads = {}\n"
            "    for i in range(L, 0, -1):\n"
            "        c, r = caches[i - 1]\n"
            "        if r is not None:\n"
            "            d = relu_backward(d, r)\n"
            "        d, grads[f'W{i}'], grads[f'b{i}'] = affine_backward(d, c)\n"
            "    for i in range(1, L + 1):\n"
            "        W = params[f'W{i}']\n"
            "        loss += reg * np.sum(W ** 2)\n"
            "        grads[f'W{i}'] = grads[f'W{i}'] + 2 * reg * W\n"
            "    return loss, grads")),
        Variant("recursion over the layers, L2 with a generator", (
            "def network_loss(params, X, y, reg=0.0):\n"
            "    L = len(params) // 2\n"
            "    grads = {}\n"
            "    def layer(i, a):\n"
            "        z = a @ params[f'W{i}'] + params[f'b{i}']\n"
            "        if i == L:\n"
            "            loss, dz = softmax_cross_entropy(z, y)\n"
            "        else:\n"
            "            loss, dh = layer(i + 1, np.maximum(z, 0))\n"
            "            dz = dh * (z > 0)\n"
            "        grads[f'W{i}'] = a.T @ dz + 2 * reg * params[f'W{i}']\n"
            "        grads[f'b{i}'] = dz.sum(axis=0)\n"
            "        return loss, dz @ params[f'W{i}'].T\n"
            "    loss, _ = layer(1, X)\n"
            "    loss += reg * sum((params[f'W{i}'] ** 2).sum() for i in range(1, L + 1))\n"
            "    return loss, {name: grads[name] for name in params}")),
    ]),
    "count_parameters": ("count_parameters", "test_count_parameters", [
        Variant("no biases", (
            "def count_parameters(sizes):\n"
            "    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))")),
        Variant("a bias for the inputs too", (
            "def count_parameters(sizes):\n"
            "    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sum(sizes)")),
        Variant("the units, not the parameters", "def count_parameters(sizes):\n    return sum(sizes)"),
        Variant("a running total kept between calls", (
            "TOTAL = [0]\n\n\n"
            "def count_parameters(sizes):\n"
            "    for a, b in zip(sizes[:-1], sizes[1:]):\n"
            "        TOTAL[0] += (a + 1) * b\n"
            "    return TOTAL[0]")),
    ], [
        Variant("a loop with indices, numpy's int", (
            "def count_parameters(sizes):\n"
            "    total = np.int64(0)\n"
            "    for l in range(1, len(sizes)):\n"
            "        total += sizes[l - 1] * sizes[l] + sizes[l]\n"
            "    return total")),
        Variant("numpy arrays", (
            "def count_parameters(sizes):\n"
            "    s = np.array(sizes)\n"
            "    return int(np.sum((s[:-1] + 1) * s[1:]))")),
    ]),
    "overfit_tiny_batch": ("overfit_tiny_batch", "test_overfit_tiny_batch", [
        Variant("params updated in place", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    losses = []\n"
            "    for k in range(steps + 1):\n"
            "        loss, grads = loss_fn(params, X, y)\n"
            "        losses.append(loss)\n"
            "        if k < steps:\n"
            "            for name in params:\n"
            "                params[name] -= learning_rate * grads[name]\n"
            "    return np.array(losses)")),
        Variant("gradient ascent", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    p, losses = dict(params), []\n"
            "    for k in range(steps + 1):\n"
            "        loss, grads = loss_fn(p, X, y)\n"
            "        losses.append(loss)\n"
            "        p = {n: v + learning_rate * grads[n] for n, v in p.items()}\n"
            "    return np.array(losses)")),
        Variant("only the losses after each step", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    p, losses = dict(params), []\n"
            "    for k in range(steps):\n"
            "        loss, grads = loss_fn(p, X, y)\n"
            "        p = {n: v - learning_rate * grads[n] for n, v in p.items()}\n"
            "        losses.append(loss_fn(p, X, y)[0])\n"
            "    return np.array(losses)")),
        Variant("the update never kept", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    losses = []\n"
            "    for k in range(steps + 1):\n"
            "        loss, grads = loss_fn(params, X, y)\n"
            "        losses.append(loss)\n"
            "        new = {n: v - learning_rate * grads[n] for n, v in params.items()}\n"
            "    return np.array(losses)")),
        Variant("a mutable default list of losses", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps, losses=[]):\n"
            "    p = {n: v.copy() for n, v in params.items()}\n"
            "    for k in range(steps + 1):\n"
            "        loss, grads = loss_fn(p, X, y)\n"
            "        losses.append(loss)\n"
            "        p = {n: v - learning_rate * grads[n] for n, v in p.items()}\n"
            "    return np.array(losses)")),
    ], [
        Variant("a deep copy, then in-place updates of the copy", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    import copy\n"
            "    p = copy.deepcopy(params)\n"
            "    losses = np.zeros(steps + 1)\n"
            "    for k in range(steps + 1):\n"
            "        losses[k], grads = loss_fn(p, X, y)\n"
            "        if k == steps:\n"
            "            break\n"
            "        for name in p:\n"
            "            p[name] -= learning_rate * grads[name]\n"
            "    return losses")),
        Variant("one extra evaluation at the end", (
            "def overfit_tiny_batch(loss_fn, params, X, y, learning_rate, steps):\n"
            "    p, losses = params, []\n"
            "    for _ in range(steps):\n"
            "        loss, grads = loss_fn(p, X, y)\n"
            "        losses.append(loss)\n"
            "        p = {n: v - learning_rate * grads[n] for n, v in p.items()}\n"
            "    losses.append(loss_fn(p, X, y)[0])\n"
            "    return np.array(losses)")),
    ]),
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
