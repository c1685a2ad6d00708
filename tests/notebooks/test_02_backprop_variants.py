"""Tests of the tests for 02_backprop: wrong implementations are rejected, other correct ones
accepted, by the notebook's own graded test cells (as a student and as the grader).

The ``Value`` class is one solution cell; its variants are the solution's source
with one method changed (:func:`value_variant`).
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
    ]),
    "affine_forward": ("affine_forward", "test_affine_forward", [
        Variant("bias missing", "def affine_forward(x, w, b):\n    return x.reshape(x.shape[0], -1) @ w, (x, w, b)"),
        Variant("not flattened", "def affine_forward(x, w, b):\n    return x @ w + b, (x, w, b)"),
        Variant("flattened over the whole batch", (
            "def affine_forward(x, w, b):\n    return x.reshape(-1, w.shape[0]) @ w + b.sum(), (x, w, b)")),
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
    ], [
        Variant("s - s^2", "def sigmoid_backward(dout, cache):\n    s = cache\n    return dout * (s - s**2)"),
    ]),
    "leaky_relu_backward": ("leaky_relu_backward", "test_leaky_relu_backward", [
        Variant("alpha ignored", "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return dout * (x > 0)"),
        Variant("slope 1 at zero", (
            "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return np.where(x >= 0, dout, a * dout)")),
        Variant("dout forgotten", (
            "def leaky_relu_backward(dout, cache):\n    x, a = cache\n    return np.where(x > 0, 1.0, a) + 0 * dout")),
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
            "        p = np.exp(s) / np.sum(np.exp(s))\n"
            "        loss -= np.log(p[y[n]]) / N\n"
            "        d[n] = p / N\n"
            "        d[n, y[n]] -= 1 / N\n"
            "    return loss, d")),
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
    "three_layer_loss": ("three_layer_loss", "test_three_layer_loss", [
        Variant("second ReLU backward missing", (
            "def three_layer_loss(params, X, y):\n"
            "    z1, c1 = affine_forward(X, params['W1'], params['b1'])\n"
            "    a1, r1 = relu_forward(z1)\n"
            "    z2, c2 = affine_forward(a1, params['W2'], params['b2'])\n"
            "    a2, r2 = relu_forward(z2)\n"
            "    s, c3 = affine_forward(a2, params['W3'], params['b3'])\n"
            "    loss, ds = softmax_cross_entropy(s, y)\n"
            "    g = {}\n"
            "    da2, g['W3'], g['b3'] = affine_backward(ds, c3)\n"
            "    da1, g['W2'], g['b2'] = affine_backward(da2, c2)\n"
            "    _, g['W1'], g['b1'] = affine_backward(relu_backward(da1, r1), c1)\n"
            "    return loss, g")),
        Variant("ReLU caches swapped", (
            "def three_layer_loss(params, X, y):\n"
            "    z1, c1 = affine_forward(X, params['W1'], params['b1'])\n"
            "    a1, r1 = relu_forward(z1)\n"
            "    z2, c2 = affine_forward(a1, params['W2'], params['b2'])\n"
            "    a2, r2 = relu_forward(z2)\n"
            "    s, c3 = affine_forward(a2, params['W3'], params['b3'])\n"
            "    loss, ds = softmax_cross_entropy(s, y)\n"
            "    g = {}\n"
            "    da2, g['W3'], g['b3'] = affine_backward(ds, c3)\n"
            "    da1, g['W2'], g['b2'] = affine_backward(relu_backward(da2, r1), c2)\n"
            "    _, g['W1'], g['b1'] = affine_backward(relu_backward(da1, r2), c1)\n"
            "    return loss, g")),
    ], [
        Variant("a loop over any number of layers", (
            "def three_layer_loss(params, X, y):\n"
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
            "    return loss, grads")),
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
