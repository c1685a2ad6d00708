"""Tests of the tests for 04_initialization: wrong implementations are rejected, other
correct ones accepted, by the notebook's own graded test cells (as a student and as the grader).

The initializers are judged by statistics, so their correct variants draw in other ways
(Box-Muller from uniform numbers, PyTorch's own initializers on the transposed layout) and
must still pass; their wrong variants are the fan and variance mix-ups students make, and
the seed mistakes: drawing from np.random, from a generator of their own with a fixed seed,
or from an unseeded one.

Every exercise also has wrong variants for each class of escape the grading path closes:
an argument changed in place while the returned values are right (``dout``, ``x``,
``weights``, ``grad``), edges a naive formula misses (|x| of 400 and 800, exact zeros at a
kink, T = 0, entries of 1e200), a float32 computation, and a contract broken elsewhere
than in the numbers a quick test looks at (da not summed over the batch, grad_norms
reversed).
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("04_initialization")

NOTEBOOK = REPO / "solutions" / "04_initialization" / "04_initialization.ipynb"


def _normal(name: str, std: str, shape: str = "(fan_in, fan_out)") -> str:
    return f"def {name}(fan_in, fan_out, rng):\n    return rng.normal(0.0, {std}, size={shape})"


def _uniform(bound: str, low: str | None = None, shape: str = "(fan_in, fan_out)") -> str:
    low = f"-{bound}" if low is None else low
    return f"def xavier_uniform(fan_in, fan_out, rng):\n    return rng.uniform({low}, {bound}, size={shape})"


BOX_MULLER = (
    "    u1, u2 = rng.random((2, fan_in, fan_out))\n"
    "    z = np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)  # standard normal (Box-Muller)\n"
)


def _prelu(backward_body: str) -> str:
    """A PReLU pair whose forward pass is right and whose backward pass ends with ``backward_body``."""
    return ("def prelu_forward(x, a):\n"
            "    return np.where(x > 0, x, a * x), (x, a)\n\n\n"
            "def prelu_backward(dout, cache):\n"
            "    x, a = cache\n"
            "    neg = x <= 0\n" + backward_body)


def _torch_init(name: str, call: str) -> str:
    return (
        f"def {name}(fan_in, fan_out, rng):\n"
        "    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))\n"
        "    w = torch.empty(fan_out, fan_in, dtype=torch.float64)  # nn.Linear's layout\n"
        f"    {call}\n"
        "    return w.T.numpy()"
    )


def _seeded_wrongly(name: str, std: str, only: tuple[str, ...] | None = None) -> list[Variant]:
    """The seed mistakes (the global np.random, a generator of one's own with a fixed seed, an unseeded one) and
    float32 weights; ``only``: the labels to keep."""
    variants = [
        Variant("draws from np.random instead of rng",
                f"def {name}(fan_in, fan_out, rng):\n    return np.random.normal(0.0, {std}, size=(fan_in, fan_out))"),
        Variant("a generator of its own with a fixed seed", (
            f"def {name}(fan_in, fan_out, rng):\n"
            "    own = np.random.default_rng(0)\n"
            f"    return own.normal(0.0, {std}, size=(fan_in, fan_out))")),
        Variant("a fresh unseeded generator", (
            f"def {name}(fan_in, fan_out, rng):\n"
            f"    return np.random.default_rng().normal(0.0, {std}, size=(fan_in, fan_out))")),
        Variant("float32 weights",
                f"def {name}(fan_in, fan_out, rng):\n"
                f"    return rng.normal(0.0, {std}, size=(fan_in, fan_out)).astype(np.float32)"),
    ]
    return [v for v in variants if only is None or v.label in only]


def _recurrence(grad: str = "theta.T @ grad", term: str = "dtheta = dtheta + np.outer(grad, states[t - 1])",
                norms: str = "np.array(norms[::-1])") -> str:
    """The backward pass through A_t = theta A_{t-1}, right except where an argument says otherwise."""
    return ("def recurrence_backward(theta, a0, T, dout):\n"
            "    states = [a0]\n"
            "    for _ in range(T):\n"
            "        states.append(theta @ states[-1])\n"
            "    grad, dtheta = dout, np.zeros_like(theta)\n"
            "    norms = [np.linalg.norm(grad)]\n"
            "    for t in range(T, 0, -1):\n"
            f"        {term}\n"
            f"        grad = {grad}\n"
            "        norms.append(np.linalg.norm(grad))\n"
            f"    return dtheta, grad, {norms}")


def _clip(rest: str) -> str:
    """clip_gradient with an overflow-safe norm, then ``rest``."""
    return ("def clip_gradient(grad, threshold, mode='norm'):\n"
            "    biggest = float(np.max(np.abs(grad))) if grad.size else 0.0\n"
            "    norm = biggest * math.sqrt(float(np.sum((grad / biggest) ** 2))) if biggest > 0 else 0.0\n" + rest)


XAVIER_STD = "math.sqrt(2.0 / (fan_in + fan_out))"
XAVIER_BOUND = "math.sqrt(6.0 / (fan_in + fan_out))"

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "swish": ("swish", "test_swish", [
        Variant("derivative without the product rule's second term", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * beta * x))\n"
            "    return x * s, s")),
        Variant("unstable: nan for large x", (
            "def swish(x, beta=1.0):\n"
            "    e = np.exp(beta * x)\n"
            "    s = e / (1 + e)\n"
            "    return x * s, s + beta * x * s * (1 - s)")),
        Variant("right values, but x scaled in place", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * beta * x))\n"
            "    out = x * s\n"
            "    x *= beta  # reuses the buffer: the caller's x is now beta * x\n"
            "    return out, s + x * s * (1 - s)")),
        Variant("float32", (
            "def swish(x, beta=1.0):\n"
            "    x = np.asarray(x, dtype=np.float32)\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * np.float32(beta) * x))\n"
            "    return x * s, s + np.float32(beta) * x * s * (1 - s)")),
        Variant("the KIOS table's 2 x sigmoid(beta x)", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * beta * x))\n"
            "    return 2 * x * s, 2 * (s + beta * x * s * (1 - s))")),
    ], [
        Variant("textbook sigmoid (warns on overflow)", (
            "def swish(x, beta=1.0):\n"
            "    s = 1 / (1 + np.exp(-beta * x))\n"
            "    return x * s, s + beta * x * s * (1 - s)")),
        Variant("torch autograd", (
            "def swish(x, beta=1.0):\n"
            "    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)\n"
            "    y = t * torch.sigmoid(beta * t)\n"
            "    y.sum().backward()\n"
            "    return y.detach().numpy(), t.grad.numpy()")),
    ]),
    "elu": ("elu", "test_elu", [
        Variant("slope without alpha for x <= 0", (
            "def elu(x, alpha=1.0):\n"
            "    neg = np.minimum(x, 0.0)\n"
            "    return np.where(x > 0, x, alpha * np.expm1(neg)), np.where(x > 0, 1.0, np.exp(neg))")),
        Variant("slope 1 at x = 0 (x >= 0 taken as the right branch)", (
            "def elu(x, alpha=1.0):\n"
            "    neg = np.minimum(x, 0.0)\n"
            "    return np.where(x > 0, x, alpha * np.expm1(neg)), np.where(x >= 0, 1.0, alpha * np.exp(neg))")),
        Variant("branches mixed by a 0/1 mask: 0 * inf = nan at x = 800", (
            "def elu(x, alpha=1.0):\n"
            "    pos = (x > 0).astype(float)\n"
            "    e = np.exp(x)\n"
            "    return pos * x + (1 - pos) * alpha * (e - 1), pos + (1 - pos) * alpha * e")),
        Variant("right values, written into x", (
            "def elu(x, alpha=1.0):\n"
            "    slope = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))\n"
            "    neg = x <= 0\n"
            "    x[neg] = alpha * np.expm1(x[neg])\n"
            "    return x, slope")),
        Variant("float32", (
            "def elu(x, alpha=1.0):\n"
            "    x = np.asarray(x, dtype=np.float32)\n"
            "    neg = np.minimum(x, 0)\n"
            "    return np.where(x > 0, x, alpha * np.expm1(neg)), np.where(x > 0, 1, alpha * np.exp(neg))")),
    ], [
        Variant("np.where with exp of x itself (warns, right values)", (
            "def elu(x, alpha=1.0):\n"
            "    with np.errstate(over='ignore'):\n"
            "        e = np.exp(x)\n"
            "    return np.where(x > 0, x, alpha * (e - 1)), np.where(x > 0, 1.0, alpha * e)")),
        Variant("torch autograd", (
            "def elu(x, alpha=1.0):\n"
            "    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)\n"
            "    y = torch.nn.functional.elu(t, alpha=alpha)\n"
            "    y.sum().backward()\n"
            "    return y.detach().numpy(), t.grad.numpy()")),
    ]),
    "prelu": ("prelu", "test_prelu", [
        Variant("da not summed over the batch", _prelu(
            "    return np.where(neg, a * dout, dout), np.where(neg, x * dout, 0.0)")),
        Variant("slope 1 at x = 0 (x < 0 as the left branch)", (
            "def prelu_forward(x, a):\n"
            "    return np.where(x < 0, a * x, x), (x, a)\n\n\n"
            "def prelu_backward(dout, cache):\n"
            "    x, a = cache\n"
            "    neg = x < 0\n"
            "    return np.where(neg, a * dout, dout), np.sum(np.where(neg, x * dout, 0.0), axis=0)")),
        Variant("dx = dout; dx[x <= 0] *= a: dout changed in place", _prelu(
            "    dx = dout\n"
            "    da = np.sum(np.where(neg, x * dout, 0.0), axis=0)\n"
            "    dx[neg] *= np.broadcast_to(a, x.shape)[neg]\n"
            "    return dx, da")),
        Variant("da with keepdims: shape (1, D)", _prelu(
            "    return np.where(neg, a * dout, dout), np.sum(np.where(neg, x * dout, 0.0), axis=0, keepdims=True)")),
        Variant("float32", (
            "def prelu_forward(x, a):\n"
            "    x, a = x.astype(np.float32), a.astype(np.float32)\n"
            "    return np.where(x > 0, x, a * x), (x, a)\n\n\n"
            "def prelu_backward(dout, cache):\n"
            "    x, a = cache\n"
            "    dout = dout.astype(np.float32)\n"
            "    neg = x <= 0\n"
            "    return np.where(neg, a * dout, dout), np.sum(np.where(neg, x * dout, 0), axis=0)")),
    ], [
        Variant("max/min arithmetic, the mask kept in the cache", (
            "def prelu_forward(x, a):\n"
            "    return np.maximum(x, 0.0) + a * np.minimum(x, 0.0), (np.minimum(x, 0.0), x > 0, a)\n\n\n"
            "def prelu_backward(dout, cache):\n"
            "    negative_part, positive, a = cache\n"
            "    return dout * positive + a * dout * ~positive, (negative_part * dout).sum(axis=0)")),
        Variant("torch autograd (F.prelu)", (
            "def prelu_forward(x, a):\n"
            "    tx = torch.tensor(x, requires_grad=True)\n"
            "    ta = torch.tensor(a, requires_grad=True)\n"
            "    out = torch.nn.functional.prelu(tx, ta)\n"
            "    return out.detach().numpy(), (tx, ta, out)\n\n\n"
            "def prelu_backward(dout, cache):\n"
            "    tx, ta, out = cache\n"
            "    dx, da = torch.autograd.grad(out, (tx, ta), torch.tensor(dout))\n"
            "    return dx.numpy(), da.numpy()")),
    ]),
    "xavier_normal": ("xavier_normal", "test_xavier_normal", [
        Variant("variance 1/fan_in (the other 'Xavier')", _normal("xavier_normal", "math.sqrt(1.0 / fan_in)")),
        Variant("fan_in and fan_out swapped", _normal("xavier_normal", XAVIER_STD, "(fan_out, fan_in)")),
        Variant("uniform with the right variance", (
            "def xavier_normal(fan_in, fan_out, rng):\n"
            f"    return rng.uniform(-{XAVIER_BOUND}, {XAVIER_BOUND}, size=(fan_in, fan_out))")),
        *_seeded_wrongly("xavier_normal", XAVIER_STD),
    ], [
        Variant("Box-Muller from uniform numbers", (
            "def xavier_normal(fan_in, fan_out, rng):\n" + BOX_MULLER + f"    return {XAVIER_STD} * z")),
        Variant("torch.nn.init.xavier_normal_ on the transposed layout",
                _torch_init("xavier_normal", "torch.nn.init.xavier_normal_(w, generator=generator)")),
    ]),
    "xavier_uniform": ("xavier_uniform", "test_xavier_uniform", [
        Variant("std used as the bound", _uniform(XAVIER_STD)),
        Variant("U(0, a) instead of U(-a, a)", _uniform(XAVIER_BOUND, low="0.0")),
        Variant("fan_in and fan_out swapped", _uniform(XAVIER_BOUND, shape="(fan_out, fan_in)")),
        Variant("normal with the right variance", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    return rng.normal(0.0, {XAVIER_STD}, size=(fan_in, fan_out))")),
        Variant("draws from np.random instead of rng", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    return np.random.uniform(-{XAVIER_BOUND}, {XAVIER_BOUND}, size=(fan_in, fan_out))")),
        Variant("a generator of its own with a fixed seed", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    return np.random.default_rng(42).uniform(-{XAVIER_BOUND}, {XAVIER_BOUND}, size=(fan_in, fan_out))")),
        Variant("float32 weights", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    return rng.uniform(-{XAVIER_BOUND}, {XAVIER_BOUND}, size=(fan_in, fan_out)).astype(np.float32)")),
    ], [
        Variant("scaled rng.random", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    a = {XAVIER_BOUND}\n"
            "    return a * (2.0 * rng.random((fan_in, fan_out)) - 1.0)")),
        Variant("torch.nn.init.xavier_uniform_ on the transposed layout",
                _torch_init("xavier_uniform", "torch.nn.init.xavier_uniform_(w, generator=generator)")),
    ]),
    "kaiming_normal": ("kaiming_normal", "test_kaiming_normal", [
        Variant("variance 1/fan_in (Xavier's)", _normal("kaiming_normal", "math.sqrt(1.0 / fan_in)")),
        Variant("2/sqrt(fan_in) instead of sqrt(2/fan_in)", _normal("kaiming_normal", "2.0 / math.sqrt(fan_in)")),
        Variant("fan_in and fan_out swapped", _normal("kaiming_normal", "math.sqrt(2.0 / fan_out)",
                                                      "(fan_out, fan_in)")),
        *_seeded_wrongly("kaiming_normal", "math.sqrt(2.0 / fan_in)", only=("a fresh unseeded generator",
                                                                            "float32 weights")),
    ], [
        Variant("Box-Muller from uniform numbers", (
            "def kaiming_normal(fan_in, fan_out, rng):\n" + BOX_MULLER + "    return math.sqrt(2.0 / fan_in) * z")),
        Variant("torch.nn.init.kaiming_normal_ on the transposed layout", _torch_init(
            "kaiming_normal", "torch.nn.init.kaiming_normal_(w, nonlinearity='relu', generator=generator)")),
    ]),
    "forward_activations": ("forward_activations", "test_forward_activations", [
        Variant("pre-activations returned", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out, h = [], x\n"
            "    for w in weights:\n"
            "        s = h @ w\n"
            "        out.append(s)\n"
            "        h = f(s)\n"
            "    return out")),
        Variant("activation before the product", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out, h = [], x\n"
            "    for w in weights:\n"
            "        h = f(h) @ w\n"
            "        out.append(h)\n"
            "    return out")),
        Variant("tanh from exponentials: inf / inf = nan when saturated", (
            "def forward_activations(x, weights, activation):\n"
            "    def f(s):\n"
            "        if activation == 'relu':\n"
            "            return np.maximum(s, 0)\n"
            "        e = np.exp(2 * s)\n"
            "        return (e - 1) / (e + 1)\n"
            "    out, h = [], x\n"
            "    for w in weights:\n"
            "        h = f(h @ w)\n"
            "        out.append(h)\n"
            "    return out")),
        Variant("right values, but the caller's list of weights emptied", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out, h = [], x\n"
            "    while weights:\n"
            "        h = f(h @ weights.pop(0))\n"
            "        out.append(h)\n"
            "    return out")),
        Variant("float32", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out, h = [], x.astype(np.float32)\n"
            "    for w in weights:\n"
            "        h = f(h @ w.astype(np.float32))\n"
            "        out.append(h)\n"
            "    return out")),
    ], [
        Variant("np.where and a dict of functions", (
            "def forward_activations(x, weights, activation):\n"
            "    f = {'tanh': np.tanh, 'relu': lambda s: np.where(s > 0, s, 0.0)}[activation]\n"
            "    hs = []\n"
            "    for w in weights:\n"
            "        hs.append(f((hs[-1] if hs else x) @ w))\n"
            "    return hs")),
        Variant("torch", (
            "def forward_activations(x, weights, activation):\n"
            "    f = torch.tanh if activation == 'tanh' else torch.relu\n"
            "    h, hs = torch.from_numpy(x), []\n"
            "    for w in weights:\n"
            "        h = f(h @ torch.from_numpy(w))\n"
            "        hs.append(h.numpy())\n"
            "    return hs")),
    ]),
    "weight_gradients": ("weight_gradients", "test_weight_gradients", [
        Variant("activation derivative missing", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs = [x, *forward_activations(x, weights, activation)]\n"
            "    grads, dh = [None] * len(weights), dout\n"
            "    for l in range(len(weights) - 1, -1, -1):\n"
            "        grads[l] = hs[l].T @ dh\n"
            "        dh = dh @ weights[l].T\n"
            "    return grads")),
        Variant("tanh' as 1 - s^2 of the pre-activation", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs, ss, h = [x], [], x\n"
            "    for w in weights:\n"
            "        ss.append(h @ w)\n"
            "        h = np.tanh(ss[-1]) if activation == 'tanh' else np.maximum(ss[-1], 0)\n"
            "        hs.append(h)\n"
            "    grads, dh = [None] * len(weights), dout\n"
            "    for l in range(len(weights) - 1, -1, -1):\n"
            "        s = ss[l]\n"
            "        ds = dh * (1 - s**2 if activation == 'tanh' else (s > 0))\n"
            "        grads[l] = hs[l].T @ ds\n"
            "        dh = ds @ weights[l].T\n"
            "    return grads")),
        Variant("ds = dh; ds *= f'(s): dout changed in place", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs = [x, *forward_activations(x, weights, activation)]\n"
            "    grads, dh = [None] * len(weights), dout\n"
            "    for l in range(len(weights) - 1, -1, -1):\n"
            "        h = hs[l + 1]\n"
            "        ds = dh\n"
            "        ds *= (1 - h * h if activation == 'tanh' else (h > 0))\n"
            "        grads[l] = hs[l].T @ ds\n"
            "        dh = ds @ weights[l].T\n"
            "    return grads")),
        Variant("ReLU'(0) = 1 (s >= 0)", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs, ss, h = [x], [], x\n"
            "    for w in weights:\n"
            "        ss.append(h @ w)\n"
            "        h = np.tanh(ss[-1]) if activation == 'tanh' else np.maximum(ss[-1], 0)\n"
            "        hs.append(h)\n"
            "    grads, dh = [None] * len(weights), dout\n"
            "    for l in range(len(weights) - 1, -1, -1):\n"
            "        s = ss[l]\n"
            "        ds = dh * (1 - np.tanh(s) ** 2 if activation == 'tanh' else (s >= 0))\n"
            "        grads[l] = hs[l].T @ ds\n"
            "        dh = ds @ weights[l].T\n"
            "    return grads")),
        Variant("torch autograd in float32", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    f = torch.tanh if activation == 'tanh' else torch.relu\n"
            "    ws = [torch.tensor(w, dtype=torch.float32, requires_grad=True) for w in weights]\n"
            "    h = torch.tensor(x, dtype=torch.float32)\n"
            "    for w in ws:\n"
            "        h = f(h @ w)\n"
            "    (h * torch.tensor(dout, dtype=torch.float32)).sum().backward()\n"
            "    return [w.grad.numpy() for w in ws]")),
    ], [
        Variant("own forward pass, derivative from the pre-activations", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs, ss, h = [x], [], x\n"
            "    for w in weights:\n"
            "        ss.append(h @ w)\n"
            "        h = np.tanh(ss[-1]) if activation == 'tanh' else np.maximum(ss[-1], 0)\n"
            "        hs.append(h)\n"
            "    grads, dh = [None] * len(weights), dout\n"
            "    for l in reversed(range(len(weights))):\n"
            "        s = ss[l]\n"
            "        ds = dh / np.cosh(s) ** 2 if activation == 'tanh' else np.where(s > 0, dh, 0.0)\n"
            "        grads[l] = hs[l].T @ ds\n"
            "        dh = ds @ weights[l].T\n"
            "    return grads")),
        Variant("torch autograd", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    f = torch.tanh if activation == 'tanh' else torch.relu\n"
            "    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]\n"
            "    h = torch.from_numpy(x)\n"
            "    for w in ws:\n"
            "        h = f(h @ w)\n"
            "    (h * torch.from_numpy(dout)).sum().backward()\n"
            "    return [w.grad.numpy() for w in ws]")),
    ]),
    "recurrence_backward": ("recurrence_backward", "test_recurrence_backward", [
        Variant("theta instead of theta.T going back", _recurrence(grad="theta @ grad")),
        Variant("only the last step's term in dtheta", _recurrence(term="dtheta = np.outer(grad, states[t - 1]) "
                                                                        "if t == T else dtheta")),
        Variant("outer(g_t, A_t) instead of outer(g_t, A_{t-1})",
                _recurrence(term="dtheta = dtheta + np.outer(grad, states[t])")),
        Variant("grad_norms from T down to 0", _recurrence(norms="np.array(norms)")),
        Variant("grad = dout; grad[:] = ...: dout changed in place", (
            "def recurrence_backward(theta, a0, T, dout):\n"
            "    states = [a0]\n"
            "    for _ in range(T):\n"
            "        states.append(theta @ states[-1])\n"
            "    grad, dtheta = dout, np.zeros_like(theta)\n"
            "    norms = [np.linalg.norm(grad)]\n"
            "    for t in range(T, 0, -1):\n"
            "        dtheta += np.outer(grad, states[t - 1])\n"
            "        grad[:] = theta.T @ grad\n"
            "        norms.append(np.linalg.norm(grad))\n"
            "    return dtheta, grad.copy(), np.array(norms[::-1])")),
        Variant("float32", (
            "def recurrence_backward(theta, a0, T, dout):\n"
            "    theta, a0, dout = (v.astype(np.float32) for v in (theta, a0, dout))\n"
            "    states = [a0]\n"
            "    for _ in range(T):\n"
            "        states.append(theta @ states[-1])\n"
            "    grad, dtheta = dout, np.zeros_like(theta)\n"
            "    norms = [np.linalg.norm(grad)]\n"
            "    for t in range(T, 0, -1):\n"
            "        dtheta = dtheta + np.outer(grad, states[t - 1])\n"
            "        grad = theta.T @ grad\n"
            "        norms.append(np.linalg.norm(grad))\n"
            "    return dtheta, grad, np.array(norms[::-1])")),
    ], [
        Variant("matrix powers instead of a loop", (
            "def recurrence_backward(theta, a0, T, dout):\n"
            "    power = np.linalg.matrix_power\n"
            "    dtheta = sum((np.outer(power(theta.T, T - t) @ dout, power(theta, t - 1) @ a0)\n"
            "                  for t in range(1, T + 1)), np.zeros_like(theta))\n"
            "    grads = [power(theta.T, T - t) @ dout for t in range(T + 1)]\n"
            "    return dtheta, grads[0], np.array([np.sqrt(g @ g) for g in grads])")),
        Variant("torch autograd, states kept with retain_grad", (
            "def recurrence_backward(theta, a0, T, dout):\n"
            "    tt = torch.tensor(theta, requires_grad=True)\n"
            "    states = [torch.tensor(a0, requires_grad=True)]\n"
            "    for _ in range(T):\n"
            "        states.append(tt @ states[-1])\n"
            "    for s in states:\n"
            "        s.retain_grad()\n"
            "    (states[-1] * torch.tensor(dout)).sum().backward()\n"
            "    dtheta = tt.grad.numpy() if tt.grad is not None else np.zeros_like(theta)\n"
            "    return dtheta, states[0].grad.numpy(), np.array([float(torch.linalg.norm(s.grad)) for s in states])")),
    ]),
    "clip_gradient": ("clip_gradient", "test_clip_gradient", [
        Variant("mode 'norm' clips every entry", _clip(
            "    if mode == 'value' or norm > threshold:\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    return grad.copy(), norm")),
        Variant("rescales even a gradient within the threshold", _clip(
            "    if mode == 'value':\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    return grad * threshold / norm if norm > 0 else grad.copy(), norm")),
        Variant("np.linalg.norm: overflows for entries of 1e200", (
            "def clip_gradient(grad, threshold, mode='norm'):\n"
            "    norm = float(np.linalg.norm(grad))\n"
            "    if mode == 'value':\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    return (grad * threshold / norm if norm > threshold else grad.copy()), norm")),
        Variant("right values, but grad rescaled in place", _clip(
            "    if mode == 'value':\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    if norm > threshold:\n"
            "        grad *= threshold / norm\n"
            "    return grad.copy(), norm")),
        Variant("float32", _clip(
            "    grad = grad.astype(np.float32)\n"
            "    if mode == 'value':\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    return (grad * np.float32(threshold / norm) if norm > threshold else grad.copy()), norm")),
    ], [
        Variant("math.hypot for the norm, torch's 1e-6 in the denominator", (
            "def clip_gradient(grad, threshold, mode='norm'):\n"
            "    norm = math.hypot(*grad.ravel())\n"
            "    if mode == 'value':\n"
            "        return np.clip(grad, -threshold, threshold), norm\n"
            "    return grad * min(1.0, threshold / (norm + 1e-6)), norm")),
        Variant("np.linalg.norm of the rescaled vector", (
            "def clip_gradient(grad, threshold, mode='norm'):\n"
            "    scale = np.abs(grad).max(initial=0.0)\n"
            "    norm = scale * np.linalg.norm(grad / scale) if scale > 0 else 0.0\n"
            "    clipped = np.minimum(np.maximum(grad, -threshold), threshold) if mode == 'value' else (\n"
            "        grad / max(1.0, norm / threshold))\n"
            "    return clipped, float(norm)")),
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
