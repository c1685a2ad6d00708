"""Tests of the tests for 07_rnn_lstm: wrong implementations are rejected, other correct ones accepted, by the
notebook's own graded test cells (as a student and as the grader).

The wrong variants are the mistakes the issue names (gates in the wrong order, no tanh on the cell output, weight
gradients not accumulated over time, the hidden-state gradient not carried back, clipping entry by entry) and the
others students make (a transposed Wh, tanh' without its square, a mean where a sum belongs, the lecture's in-place
``dnext_c += ...``). Backward variants use the cache of the notebook's own forward pass, as a student's would.
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("07_rnn_lstm")

NOTEBOOK = REPO / "solutions" / "07_rnn_lstm" / "07_rnn_lstm.ipynb"


def _step_forward(body: str) -> str:
    return f"def rnn_step_forward(x, prev_h, Wx, Wh, b):\n{body}"


def _step_backward(body: str) -> str:
    return f"def rnn_step_backward(dnext_h, cache):\n    x, prev_h, Wx, Wh, next_h = cache\n{body}"


def _rnn_backward(carry: str, accumulate: str) -> str:
    return (
        "def rnn_backward(dh, cache):\n"
        "    N, T, H = dh.shape\n"
        "    D = cache[0][0].shape[1]\n"
        "    dx = np.zeros((N, T, D))\n"
        "    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)\n"
        "    dprev_h = np.zeros((N, H))\n"
        "    for t in reversed(range(T)):\n"
        f"        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward({carry}, cache[t])\n"
        f"        {accumulate}\n"
        "    return dx, dprev_h, dWx, dWh, db"
    )


def _clip(body: str) -> str:
    return f"def clip_grad_norm(grads, max_norm):\n{body}"


SIGMOID = "    def sig(z):\n        return 0.5 * (1 + np.tanh(0.5 * z))\n"


def _lstm_forward(gates: str, cell: str, out: str) -> str:
    return (
        "def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):\n"
        + SIGMOID
        + "    H = prev_h.shape[1]\n"
        "    a = x @ Wx + prev_h @ Wh + b\n"
        f"{gates}"
        f"    next_c = {cell}\n"
        "    tanh_c = np.tanh(next_c)\n"
        f"    next_h = {out}\n"
        "    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)"
    )


RIGHT_GATES = ("    i, f, o = sig(a[:, :H]), sig(a[:, H:2 * H]), sig(a[:, 2 * H:3 * H])\n"
               "    g = np.tanh(a[:, 3 * H:])\n")
TORCH_GATES = ("    i, f, g_pre, o = np.split(a, 4, axis=1)  # PyTorch's order\n"
               "    i, f, o, g = sig(i), sig(f), sig(o), np.tanh(g_pre)\n")


def _lstm_backward(dc: str, dprev_c: str, order: str = "di_a, df_a, do_a, dg_a", prefix: str = "") -> str:
    return (
        "def lstm_step_backward(dnext_h, dnext_c, cache):\n"
        "    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache\n"
        f"{prefix}"
        "    do = dnext_h * tanh_c\n"
        f"    dc = {dc}\n"
        "    di_a, df_a = dc * g * i * (1 - i), dc * prev_c * f * (1 - f)\n"
        "    do_a, dg_a = do * o * (1 - o), dc * i * (1 - g**2)\n"
        f"    da = np.concatenate([{order}], axis=1)\n"
        f"    return da @ Wx.T, da @ Wh.T, {dprev_c}, x.T @ da, prev_h.T @ da, da.sum(axis=0)"
    )


def _cell(forward: str) -> str:
    return (
        "class LSTMCell(nn.Module):\n"
        "    def __init__(self, input_size, hidden_size):\n"
        "        super().__init__()\n"
        "        D, H = input_size, hidden_size\n"
        "        self.input_size, self.hidden_size = D, H\n"
        "        bound = 1.0 / math.sqrt(H)\n"
        "        self.Wx = nn.Parameter(torch.empty(D, 4 * H).uniform_(-bound, bound))\n"
        "        self.Wh = nn.Parameter(torch.empty(H, 4 * H).uniform_(-bound, bound))\n"
        "        self.b = nn.Parameter(torch.empty(4 * H).uniform_(-bound, bound))\n"
        "\n"
        "    def forward(self, x, hx=None):\n"
        "        if hx is None:\n"
        "            h = c = x.new_zeros(x.shape[0], self.hidden_size)\n"
        "        else:\n"
        "            h, c = hx\n"
        "        a = x @ self.Wx + h @ self.Wh + self.b\n"
        f"{forward}"
    )


# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "rnn_step_forward": ("rnn_step_forward", "test_rnn_step_forward", [
        Variant("tanh missing", _step_forward(
            "    next_h = x @ Wx + prev_h @ Wh + b\n    return next_h, (x, prev_h, Wx, Wh, next_h)")),
        Variant("Wh transposed", _step_forward(
            "    next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)\n    return next_h, (x, prev_h, Wx, Wh, next_h)")),
        Variant("bias missing", _step_forward(
            "    next_h = np.tanh(x @ Wx + prev_h @ Wh)\n    return next_h, (x, prev_h, Wx, Wh, next_h)")),
    ], [
        Variant("tanh as 2 sigmoid(2a) - 1, einsum", _step_forward(
            "    a = np.einsum('nd,dh->nh', x, Wx) + np.einsum('nk,kh->nh', prev_h, Wh) + b\n"
            "    next_h = 2.0 / (1.0 + np.exp(-2.0 * a)) - 1.0\n"
            "    return next_h, (x, prev_h, Wx, Wh, next_h)")),
    ]),
    "rnn_forward": ("rnn_forward", "test_rnn_forward", [
        Variant("every step starts from h0", (
            "def rnn_forward(x, h0, Wx, Wh, b):\n"
            "    N, T, _ = x.shape\n"
            "    h, caches = np.zeros((N, T, h0.shape[1])), []\n"
            "    for t in range(T):\n"
            "        h[:, t], cache = rnn_step_forward(x[:, t], h0, Wx, Wh, b)\n"
            "        caches.append(cache)\n"
            "    return h, caches")),
        Variant("h holds the state before each step", (
            "def rnn_forward(x, h0, Wx, Wh, b):\n"
            "    N, T, _ = x.shape\n"
            "    h, caches, prev = np.zeros((N, T, h0.shape[1])), [], h0\n"
            "    for t in range(T):\n"
            "        h[:, t] = prev\n"
            "        prev, cache = rnn_step_forward(x[:, t], prev, Wx, Wh, b)\n"
            "        caches.append(cache)\n"
            "    return h, caches")),
    ], [
        Variant("inputs projected once for all steps", (
            "def rnn_forward(x, h0, Wx, Wh, b):\n"
            "    xw = x @ Wx + b  # (N, T, H): the input's part of every step in one product\n"
            "    states, caches, prev = [], [], h0\n"
            "    for t in range(x.shape[1]):\n"
            "        nxt = np.tanh(xw[:, t] + prev @ Wh)\n"
            "        caches.append((x[:, t], prev, Wx, Wh, nxt))\n"
            "        states.append(nxt)\n"
            "        prev = nxt\n"
            "    return np.stack(states, axis=1), caches")),
    ]),
    "rnn_step_backward": ("rnn_step_backward", "test_rnn_step_backward", [
        Variant("tanh' missing", _step_backward(
            "    da = dnext_h\n    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)")),
        Variant("tanh' without the square", _step_backward(
            "    da = dnext_h * (1 - next_h)\n"
            "    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)")),
        Variant("dprev_h with Wh, not Wh.T", _step_backward(
            "    da = dnext_h * (1 - next_h**2)\n"
            "    return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)")),
        Variant("db is a mean", _step_backward(
            "    da = dnext_h * (1 - next_h**2)\n"
            "    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.mean(axis=0)")),
    ], [
        Variant("einsum", _step_backward(
            "    da = dnext_h - dnext_h * next_h * next_h\n"
            "    dx = np.einsum('nh,dh->nd', da, Wx)\n"
            "    dprev_h = np.einsum('nh,kh->nk', da, Wh)\n"
            "    dWx = np.einsum('nd,nh->dh', x, da)\n"
            "    dWh = np.einsum('nk,nh->kh', prev_h, da)\n"
            "    return dx, dprev_h, dWx, dWh, np.einsum('nh->h', da)")),
    ]),
    "rnn_backward": ("rnn_backward", "test_rnn_backward", [
        Variant("hidden-state gradient not carried back", _rnn_backward(
            "dh[:, t]", "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t")),
        Variant("weight gradients overwritten, not added over time", _rnn_backward(
            "dh[:, t] + dprev_h", "dWx, dWh, db = dWx_t, dWh_t, db_t")),
        Variant("only dWh accumulated", _rnn_backward(
            "dh[:, t] + dprev_h", "dWh, dWx, db = dWh + dWh_t, dWx_t, db_t")),
    ], [
        Variant("by hand from the stored states, no step function", (
            "def rnn_backward(dh, cache):\n"
            "    x = np.stack([c[0] for c in cache], axis=1)  # (N, T, D)\n"
            "    h = np.stack([c[4] for c in cache], axis=1)  # (N, T, H)\n"
            "    h0, Wx, Wh = cache[0][1], cache[0][2], cache[0][3]\n"
            "    prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)  # h_{t-1} for every t\n"
            "    da = np.zeros_like(h)\n"
            "    carried = np.zeros_like(h0)\n"
            "    for t in range(h.shape[1] - 1, -1, -1):\n"
            "        da[:, t] = (dh[:, t] + carried) * (1 - h[:, t] ** 2)\n"
            "        carried = da[:, t] @ Wh.T\n"
            "    dWx = np.einsum('ntd,nth->dh', x, da)\n"
            "    dWh = np.einsum('ntk,nth->kh', prev, da)\n"
            "    return da @ Wx.T, carried, dWx, dWh, da.sum(axis=(0, 1))")),
    ]),
    "clip_grad_norm": ("clip_grad_norm", "test_clip_grad_norm", [
        Variant("clipped entry by entry", _clip(
            "    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))\n"
            "    return [np.clip(g, -max_norm, max_norm) for g in grads], norm")),
        Variant("each array by its own norm", _clip(
            "    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))\n"
            "    out = []\n"
            "    for g in grads:\n"
            "        n = np.linalg.norm(g)\n"
            "        out.append(g * max_norm / n if n > max_norm else g.copy())\n"
            "    return out, norm")),
        Variant("always rescaled to max_norm", _clip(
            "    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))\n"
            "    return [g * max_norm / max(norm, 1e-12) for g in grads], norm")),
    ], [
        Variant("torch's formula with 1e-6", _clip(
            "    norm = float(np.linalg.norm(np.concatenate([np.ravel(g) for g in grads])))\n"
            "    scale = min(1.0, max_norm / (norm + 1e-6))\n"
            "    return [scale * g for g in grads], norm")),
    ]),
    "lstm_step_forward": ("lstm_step_forward", "test_lstm_step_forward", [
        Variant("gates read in torch's order i, f, g, o",
                _lstm_forward(TORCH_GATES, "f * prev_c + i * g", "o * tanh_c")),
        Variant("tanh missing on the cell output", _lstm_forward(RIGHT_GATES, "f * prev_c + i * g", "o * next_c")),
        Variant("input and forget gate swapped", _lstm_forward(RIGHT_GATES, "i * prev_c + f * g", "o * tanh_c")),
    ], [
        Variant("textbook sigmoid (warns on overflow), np.split", (
            "def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):\n"
            "    a_i, a_f, a_o, a_g = np.split(x @ Wx + prev_h @ Wh + b, 4, axis=1)\n"
            "    with np.errstate(over='ignore'):\n"
            "        i, f, o = (1 / (1 + np.exp(-z)) for z in (a_i, a_f, a_o))\n"
            "    g = np.tanh(a_g)\n"
            "    next_c = f * prev_c + i * g\n"
            "    next_h = o * np.tanh(next_c)\n"
            "    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, np.tanh(next_c))")),
    ]),
    "lstm_step_backward": ("lstm_step_backward", "test_lstm_step_backward", [
        Variant("cell gradient without the path through next_h", _lstm_backward("dnext_c", "dc * f")),
        Variant("dprev_c without the forget gate", _lstm_backward("dnext_c + dnext_h * o * (1 - tanh_c**2)", "dc")),
        Variant("gradients stacked in torch's order", _lstm_backward(
            "dnext_c + dnext_h * o * (1 - tanh_c**2)", "dc * f", order="di_a, df_a, dg_a, do_a")),
        Variant("the lecture's dnext_c += (changes the argument)", _lstm_backward(
            "dnext_c", "dc * f", prefix="    dnext_c += dnext_h * o * (1 - tanh_c**2)\n")),
    ], [
        Variant("the lecture's code on a copy", (
            "def lstm_step_backward(dnext_h, dnext_c, cache):\n"
            "    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache\n"
            "    dnext_c = dnext_c.copy()\n"
            "    do = tanh_c * dnext_h\n"
            "    dnext_c += o * (1 - tanh_c**2) * dnext_h\n"
            "    df, dprev_c, di, dg = prev_c * dnext_c, f * dnext_c, g * dnext_c, i * dnext_c\n"
            "    da = np.hstack((i * (1 - i) * di, f * (1 - f) * df, o * (1 - o) * do, (1 - g**2) * dg))\n"
            "    return np.dot(da, Wx.T), np.dot(Wh, da.T).T, dprev_c, np.dot(x.T, da), np.dot(prev_h.T, da), "
            "np.sum(da, axis=0)")),
    ]),
    "lstm_cell": ("LSTMCell", "test_LSTMCell", [
        Variant("chunks read in torch's order i, f, g, o", _cell(
            "        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)\n"
            "        i, f, o, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o), torch.tanh(a_g)\n"
            "        next_c = f * c + i * g\n"
            "        return o * torch.tanh(next_c), next_c")),
        Variant("tanh missing on the cell output", _cell(
            "        a_i, a_f, a_o, a_g = a.chunk(4, dim=1)\n"
            "        i, f, o, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o), torch.tanh(a_g)\n"
            "        next_c = f * c + i * g\n"
            "        return o * next_c, next_c")),
    ], [
        Variant("slices and one sigmoid for three gates", _cell(
            "        H = self.hidden_size\n"
            "        ifo = torch.sigmoid(a[:, :3 * H])\n"
            "        i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]\n"
            "        g = torch.tanh(a[:, 3 * H:])\n"
            "        next_c = torch.addcmul(f * c, i, g)\n"
            "        return o * torch.tanh(next_c), next_c")),
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
