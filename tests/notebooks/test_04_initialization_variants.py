"""Tests of the tests for 04_initialization: wrong implementations are rejected, other
correct ones accepted, by the notebook's own graded test cells (as a student and as the grader).

The initializers are judged by statistics, so their correct variants draw in other ways
(Box-Muller from uniform numbers, PyTorch's own initializers on the transposed layout) and
must still pass; their wrong variants are the fan and variance mix-ups students make.
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


def _torch_init(name: str, call: str) -> str:
    return (
        f"def {name}(fan_in, fan_out, rng):\n"
        "    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))\n"
        "    w = torch.empty(fan_out, fan_in, dtype=torch.float64)  # nn.Linear's layout\n"
        f"    {call}\n"
        "    return w.T.numpy()"
    )


XAVIER_STD = "math.sqrt(2.0 / (fan_in + fan_out))"
XAVIER_BOUND = "math.sqrt(6.0 / (fan_in + fan_out))"

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "swish": ("swish", "test_swish", [
        Variant("derivative without the product rule's second term", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * beta * x))\n"
            "    return x * s, s")),
        Variant("beta missing in the derivative", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * beta * x))\n"
            "    return x * s, s + x * s * (1 - s)")),
        Variant("beta outside the sigmoid", (
            "def swish(x, beta=1.0):\n"
            "    s = 0.5 * (1 + np.tanh(0.5 * x))\n"
            "    return beta * x * s, beta * (s + x * s * (1 - s))")),
        Variant("unstable: nan for large x", (
            "def swish(x, beta=1.0):\n"
            "    e = np.exp(beta * x)\n"
            "    s = e / (1 + e)\n"
            "    return x * s, s + beta * x * s * (1 - s)")),
    ], [
        Variant("textbook sigmoid (warns on overflow)", (
            "def swish(x, beta=1.0):\n"
            "    s = 1 / (1 + np.exp(-beta * x))\n"
            "    return x * s, s + beta * x * s * (1 - s)")),
        Variant("scipy.special.expit, derivative written out", (
            "def swish(x, beta=1.0):\n"
            "    from scipy.special import expit\n"
            "    s = expit(beta * x)\n"
            "    return x * s, s * (1 + beta * x * (1 - s))")),
        Variant("torch autograd", (
            "def swish(x, beta=1.0):\n"
            "    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)\n"
            "    y = t * torch.sigmoid(beta * t)\n"
            "    y.sum().backward()\n"
            "    return y.detach().numpy(), t.grad.numpy()")),
    ]),
    "xavier_normal": ("xavier_normal", "test_xavier_normal", [
        Variant("variance 1/fan_in (the other 'Xavier')", _normal("xavier_normal", "math.sqrt(1.0 / fan_in)")),
        Variant("variance 1/fan_out", _normal("xavier_normal", "math.sqrt(1.0 / fan_out)")),
        Variant("variance used as std", _normal("xavier_normal", "2.0 / (fan_in + fan_out)")),
        Variant("fan_in and fan_out swapped", _normal("xavier_normal", XAVIER_STD, "(fan_out, fan_in)")),
        Variant("Kaiming's 2/fan_in", _normal("xavier_normal", "math.sqrt(2.0 / fan_in)")),
        Variant("uniform with the right variance", (
            "def xavier_normal(fan_in, fan_out, rng):\n"
            f"    return rng.uniform(-{XAVIER_BOUND}, {XAVIER_BOUND}, size=(fan_in, fan_out))")),
    ], [
        Variant("standard normal times std", (
            "def xavier_normal(fan_in, fan_out, rng):\n"
            f"    return {XAVIER_STD} * rng.standard_normal((fan_in, fan_out))")),
        Variant("Box-Muller from uniform numbers", (
            "def xavier_normal(fan_in, fan_out, rng):\n" + BOX_MULLER + f"    return {XAVIER_STD} * z")),
        Variant("torch.nn.init.xavier_normal_ on the transposed layout",
                _torch_init("xavier_normal", "torch.nn.init.xavier_normal_(w, generator=generator)")),
    ]),
    "xavier_uniform": ("xavier_uniform", "test_xavier_uniform", [
        Variant("std used as the bound", _uniform(XAVIER_STD)),
        Variant("bound from fan_in only", _uniform("math.sqrt(6.0 / fan_in)")),
        Variant("U(0, a) instead of U(-a, a)", _uniform(XAVIER_BOUND, low="0.0")),
        Variant("fan_in and fan_out swapped", _uniform(XAVIER_BOUND, shape="(fan_out, fan_in)")),
        Variant("normal with the right variance", (
            "def xavier_uniform(fan_in, fan_out, rng):\n"
            f"    return rng.normal(0.0, {XAVIER_STD}, size=(fan_in, fan_out))")),
        Variant("the old heuristic U(-1/sqrt(fan_in), 1/sqrt(fan_in))", _uniform("1.0 / math.sqrt(fan_in)")),
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
        Variant("variance 2/fan_out (wrong fan)", _normal("kaiming_normal", "math.sqrt(2.0 / fan_out)")),
        Variant("variance used as std", _normal("kaiming_normal", "2.0 / fan_in")),
        Variant("2/sqrt(fan_in) instead of sqrt(2/fan_in)", _normal("kaiming_normal", "2.0 / math.sqrt(fan_in)")),
        Variant("fan_in and fan_out swapped", _normal("kaiming_normal", "math.sqrt(2.0 / fan_out)",
                                                      "(fan_out, fan_in)")),
    ], [
        Variant("Box-Muller from uniform numbers", (
            "def kaiming_normal(fan_in, fan_out, rng):\n" + BOX_MULLER + "    return math.sqrt(2.0 / fan_in) * z")),
        Variant("torch.nn.init.kaiming_normal_ on the transposed layout", _torch_init(
            "kaiming_normal", "torch.nn.init.kaiming_normal_(w, nonlinearity='relu', generator=generator)")),
        Variant("numpy's normal with the variance written out",
                _normal("kaiming_normal", "np.sqrt(2 / fan_in)")),
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
        Variant("the input included", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out = [x]\n"
            "    for w in weights:\n"
            "        out.append(f(out[-1] @ w))\n"
            "    return out")),
        Variant("no activation after the last layer", (
            "def forward_activations(x, weights, activation):\n"
            "    f = np.tanh if activation == 'tanh' else (lambda s: np.maximum(s, 0))\n"
            "    out, h = [], x\n"
            "    for i, w in enumerate(weights):\n"
            "        h = h @ w if i == len(weights) - 1 else f(h @ w)\n"
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
        Variant("the gradients in reverse order", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs = [x, *forward_activations(x, weights, activation)]\n"
            "    grads, dh = [], dout\n"
            "    for l in range(len(weights) - 1, -1, -1):\n"
            "        h = hs[l + 1]\n"
            "        ds = dh * (1 - h * h if activation == 'tanh' else (h > 0))\n"
            "        grads.append(hs[l].T @ ds)\n"
            "        dh = ds @ weights[l].T\n"
            "    return grads")),
        Variant("no gradient passed down through the weights", (
            "def weight_gradients(x, weights, activation, dout):\n"
            "    hs = [x, *forward_activations(x, weights, activation)]\n"
            "    grads = []\n"
            "    for l in range(len(weights)):\n"
            "        h = hs[l + 1]\n"
            "        ds = (dout if l == len(weights) - 1 else np.ones_like(h)) * "
            "(1 - h * h if activation == 'tanh' else (h > 0))\n"
            "        grads.append(hs[l].T @ ds)\n"
            "    return grads")),
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
}


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "wrong"))
def test_wrong_implementation_is_rejected(solution_id, test_id, variant, tmp_path):
    harness.assert_rejected(NOTEBOOK, solution_id, test_id, variant, tmp_path)


@pytest.mark.parametrize(("solution_id", "test_id", "variant"), harness.params(VARIANTS, "right"))
def test_correct_implementation_is_accepted(solution_id, test_id, variant, tmp_path):
    harness.assert_accepted(NOTEBOOK, solution_id, test_id, variant, tmp_path)


def test_every_graded_exercise_has_variants():
    harness.assert_covered(NOTEBOOK, VARIANTS)
