"""Tests of the tests for 06_cnn: wrong convolution and pooling code is rejected, other correct code accepted, by the
notebook's own graded test cells (as a student and as the grader).

The wrong variants are the mistakes the issue names and students make: a true convolution (flipped kernel) instead
of the cross-correlation, padding applied on one side or counted once, an output size off by one, a floored illegal
stride, the pooling gradient spread over the whole window, the weight gradient summed over the wrong axes. The correct
alternatives are written in other ways: plain loops, sliding windows, PyTorch, a recursion run backwards. The
backward passes are called with the cache of the notebook's own forward pass, so their variants use its format.
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("06_cnn")

NOTEBOOK = REPO / "solutions" / "06_cnn" / "06_cnn.ipynb"


def size_fn(body: str) -> str:
    return "def conv_output_size(n, kernel, pad, stride):\n" + body


def loops_forward(window: str = "xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]",
                  kernel: str = "w[f]", bias: str = " + b[f]",
                  pad_width: str = "((0, 0), (0, 0), (pad, pad), (pad, pad))",
                  sizes: str = "(H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1") -> str:
    """conv_forward as four loops, with one piece swapped for a mistake."""
    return (
        "def conv_forward(x, w, b, stride=1, pad=0):\n"
        "    N, C, H, W = x.shape\n"
        "    F, _, HH, WW = w.shape\n"
        f"    Ho, Wo = {sizes}\n"
        f"    xp = np.pad(x, {pad_width})\n"
        "    out = np.zeros((N, F, Ho, Wo))\n"
        "    for n in range(N):\n"
        "        for f in range(F):\n"
        "            for i in range(Ho):\n"
        "                for j in range(Wo):\n"
        f"                    out[n, f, i, j] = np.sum({window} * {kernel}){bias}\n"
        "    return out, (x, w, b, stride, pad)"
    )


def loops_backward(dw_line: str = "dw[f] += g * window", db_line: str = "db = dout.sum(axis=(0, 2, 3))",
                   dx_return: str = "dxp[:, :, pad:pad + H, pad:pad + W]",
                   dx_line: str = "dxp[n, :, rows, cols] += g * w[f]", after: str = "") -> str:
    """conv_backward as loops over every output, with one piece swapped for a mistake."""
    return (
        "def conv_backward(dout, cache):\n"
        "    x, w, b, stride, pad = cache\n"
        "    N, C, H, W = x.shape\n"
        "    F, _, HH, WW = w.shape\n"
        "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
        "    dxp, dw = np.zeros_like(xp), np.zeros_like(w)\n"
        f"    {db_line}\n"
        "    for n in range(N):\n"
        "        for f in range(F):\n"
        "            for i in range(dout.shape[2]):\n"
        "                for j in range(dout.shape[3]):\n"
        "                    rows = slice(i * stride, i * stride + HH)\n"
        "                    cols = slice(j * stride, j * stride + WW)\n"
        "                    window = xp[n, :, rows, cols]\n"
        "                    g = dout[n, f, i, j]\n"
        f"                    {dx_line}\n"
        f"                    {dw_line}\n"
        f"{after}"
        f"    return {dx_return}, dw, db"
    )


def pool_forward(reduce: str, start: str = "-np.inf") -> str:
    """max_pool_forward with loops over windows, reducing each window with ``reduce`` (cache as the notebook's)."""
    return (
        "def max_pool_forward(x, size=2, stride=None):\n"
        "    stride = size if stride is None else stride\n"
        "    N, C, H, W = x.shape\n"
        "    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1\n"
        f"    out = np.full((N, C, Ho, Wo), {start})\n"
        "    switches = np.zeros((N, C, Ho, Wo), dtype=np.int64)\n"
        "    for i in range(Ho):\n"
        "        for j in range(Wo):\n"
        "            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].reshape(N, C, -1)\n"
        f"            out[:, :, i, j] = {reduce}\n"
        "            switches[:, :, i, j] = window.argmax(axis=2)\n"
        "    return out, (x.shape, switches, size, stride)"
    )


def pool_backward(body: str) -> str:
    """max_pool_backward with the notebook's cache (x.shape, switches, size, stride), loops over every output."""
    return (
        "def max_pool_backward(dout, cache):\n"
        "    shape, switches, size, stride = cache\n"
        "    dx = np.zeros(shape)\n"
        "    N, C, Ho, Wo = dout.shape\n"
        "    for n in range(N):\n"
        "        for c in range(C):\n"
        "            for i in range(Ho):\n"
        "                for j in range(Wo):\n"
        "                    r, q = divmod(int(switches[n, c, i, j]), size)\n"
        "                    rows = slice(i * stride, i * stride + size)\n"
        "                    cols = slice(j * stride, j * stride + size)\n"
        f"{body}"
        "    return dx"
    )


# Ties need x: a wrong variant that recomputes each window's maxima from the input the forward pass saw.
TIES_ALL = (
    "def max_pool_backward(dout, cache):\n"
    "    shape, switches, size, stride = cache\n"
    "    x = SEEN_X\n"
    "    dx = np.zeros(shape)\n"
    "    for i in range(dout.shape[2]):\n"
    "        for j in range(dout.shape[3]):\n"
    "            rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)\n"
    "            window = x[:, :, rows, cols]\n"
    "            mask = window == window.max(axis=(2, 3), keepdims=True)\n"
    "            dx[:, :, rows, cols] += mask * dout[:, :, i, j, None, None]\n"
    "    return dx\n"
    "\n"
    "\n"
    "_notebook_forward = max_pool_forward\n"
    "\n"
    "\n"
    "def max_pool_forward(x, size=2, stride=None):\n"
    "    global SEEN_X\n"
    "    SEEN_X = x\n"
    "    return _notebook_forward(x, size, stride)"
)

# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "conv_output_size": ("conv_output_size", "test_conv_output_size", [
        Variant("floors an illegal stride (no ValueError)", size_fn(
            "    return (n + 2 * pad - kernel) // stride + 1")),
        Variant("padding counted once", size_fn(
            "    span = n + pad - kernel\n"
            "    if span < 0 or span % stride:\n"
            "        raise ValueError('illegal')\n"
            "    return span // stride + 1")),
        Variant("off by one: the +1 is missing", size_fn(
            "    span = n + 2 * pad - kernel\n"
            "    if span < 0 or span % stride:\n"
            "        raise ValueError('illegal')\n"
            "    return span // stride")),
        Variant("off by one: (n + 2p - k + 1) / s", size_fn(
            "    span = n + 2 * pad - kernel + 1\n"
            "    if span < 1 or span % stride:\n"
            "        raise ValueError('illegal')\n"
            "    return span // stride")),
        Variant("assert instead of a ValueError", size_fn(
            "    span = n + 2 * pad - kernel\n"
            "    assert span >= 0 and span % stride == 0, 'illegal stride'\n"
            "    return span // stride + 1")),
    ], [
        Variant("divmod", size_fn(
            "    steps, rest = divmod(n + 2 * pad - kernel, stride)\n"
            "    if n + 2 * pad < kernel or rest:\n"
            "        raise ValueError(f'illegal: kernel {kernel}, stride {stride}, padded length {n + 2 * pad}')\n"
            "    return steps + 1")),
        Variant("the formula in floats, checked for a whole number", size_fn(
            "    out = (n + 2 * pad - kernel) / stride + 1\n"
            "    if out < 1 or out != int(out):\n"
            "        raise ValueError(f'output size {out} is not a positive whole number')\n"
            "    return int(out)")),
    ]),
    "conv_forward": ("conv_forward", "test_conv_forward", [
        Variant("true convolution: the kernel flipped", loops_forward(kernel="w[f, :, ::-1, ::-1]")),
        Variant("padding on one side only", loops_forward(
            pad_width="((0, 0), (0, 0), (pad, 0), (pad, 0))",
            sizes="(H + pad - HH) // stride + 1, (W + pad - WW) // stride + 1")),
        Variant("output size off by one", loops_forward(
            sizes="(H + 2 * pad - HH) // stride, (W + 2 * pad - WW) // stride")),
        Variant("bias missing", loops_forward(bias="")),
        Variant("stride ignored inside the loops", loops_forward(window="xp[n, :, i:i + HH, j:j + WW]")),
    ], [
        Variant("four loops, as the formula", loops_forward()),
        Variant("sliding windows and tensordot", (
            "def conv_forward(x, w, b, stride=1, pad=0):\n"
            "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
            "    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]\n"
            "    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)\n"
            "    return out + b[None, :, None, None], (x, w, b, stride, pad)")),
        Variant("torch.nn.functional.conv2d in float64", (
            "def conv_forward(x, w, b, stride=1, pad=0):\n"
            "    t = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))\n"
            "    out = torch.nn.functional.conv2d(t(x), t(w), t(b), stride=stride, padding=pad)\n"
            "    return out.numpy(), (x, w, b, stride, pad)")),
    ]),
    "conv_backward": ("conv_backward", "test_conv_backward", [
        Variant("dw summed over the filters (every filter gets the same gradient)",
                loops_backward(dw_line="dw[f] += dout[n, :, i, j].sum() * window")),
        Variant("dw averaged over the batch", loops_backward(after="    dw = dw / N\n")),
        Variant("db summed over the batch only", loops_backward(db_line="db = dout.sum(axis=0)")),
        Variant("dx keeps the padding", loops_backward(dx_return="dxp")),
        Variant("dx through the flipped kernel",
                loops_backward(dx_line="dxp[n, :, rows, cols] += g * w[f, :, ::-1, ::-1]")),
    ], [
        Variant("loops over every output", loops_backward()),
        Variant("torch autograd in float64", (
            "def conv_backward(dout, cache):\n"
            "    x, w, b, stride, pad = cache\n"
            "    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, w, b)]\n"
            "    out = torch.nn.functional.conv2d(*ts, stride=stride, padding=pad)\n"
            "    out.backward(torch.tensor(dout))\n"
            "    return tuple(t.grad.numpy() for t in ts)")),
        Variant("windows for dw, a full convolution with the flipped kernel for dx", (
            "def conv_backward(dout, cache):\n"
            "    x, w, b, stride, pad = cache\n"
            "    N, C, H, W = x.shape\n"
            "    F, _, HH, WW = w.shape\n"
            "    Ho, Wo = dout.shape[2:]\n"
            "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
            "    win = sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]\n"
            "    dw = np.tensordot(dout, win, axes=([0, 2, 3], [0, 2, 3]))\n"
            "    spread = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1))\n"
            "    spread[:, :, ::stride, ::stride] = dout\n"
            "    spread = np.pad(spread, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))\n"
            "    flipped = w[:, :, ::-1, ::-1]\n"
            "    win_d = sliding_window_view(spread, (HH, WW), axis=(2, 3))\n"
            "    dxp = np.tensordot(win_d, flipped, axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)  # padded x\n"
            "    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))")),
    ]),
    "max_pool_forward": ("max_pool_forward", "test_max_pool_forward", [
        Variant("average pooling", pool_forward("window.mean(axis=2)")),
        Variant("the maximum starts at 0",
                pool_forward("np.maximum(out[:, :, i, j], window.max(axis=2))", start="0.0")),
        Variant("stride ignored (windows side by side)", (
            "def max_pool_forward(x, size=2, stride=None):\n"
            "    N, C, H, W = x.shape\n"
            "    Ho, Wo = H // size, W // size\n"
            "    blocks = x[:, :, :Ho * size, :Wo * size].reshape(N, C, Ho, size, Wo, size)\n"
            "    return blocks.max(axis=(3, 5)), (x.shape, None, size, size)")),
    ], [
        Variant("loops with a running maximum from -inf", pool_forward(
            "np.maximum(out[:, :, i, j], window.max(axis=2))")),
        Variant("sliding windows", (
            "def max_pool_forward(x, size=2, stride=None):\n"
            "    stride = size if stride is None else stride\n"
            "    win = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]\n"
            "    flat = win.reshape(*win.shape[:4], -1)\n"
            "    return flat.max(axis=-1), (x.shape, flat.argmax(axis=-1), size, stride)")),
        Variant("torch max_pool2d", (
            "def max_pool_forward(x, size=2, stride=None):\n"
            "    out = torch.nn.functional.max_pool2d(torch.tensor(x), size, stride)\n"
            "    return out.numpy(), None")),
    ]),
    "max_pool_backward": ("max_pool_backward", "test_max_pool_backward", [
        Variant("gradient spread to every input of the window",
                pool_backward("                    dx[n, c, rows, cols] += dout[n, c, i, j]\n")),
        Variant("gradient split evenly (average pooling's)",
                pool_backward("                    dx[n, c, rows, cols] += dout[n, c, i, j] / size**2\n")),
        Variant("overlapping windows overwrite instead of adding",
                pool_backward("                    dx[n, c, i * stride + r, j * stride + q] = dout[n, c, i, j]\n")),
        Variant("every maximum of a tie gets the gradient", TIES_ALL),
    ], [
        Variant("loops, the switch of every window", pool_backward(
            "                    dx[n, c, i * stride + r, j * stride + q] += dout[n, c, i, j]\n")),
        Variant("np.add.at on all windows at once", (
            "def max_pool_backward(dout, cache):\n"
            "    shape, switches, size, stride = cache\n"
            "    N, C, Ho, Wo = dout.shape\n"
            "    n, c, i, j = np.meshgrid(*(np.arange(s) for s in (N, C, Ho, Wo)), indexing='ij')\n"
            "    dx = np.zeros(shape)\n"
            "    np.add.at(dx, (n, c, i * stride + switches // size, j * stride + switches % size), dout)\n"
            "    return dx")),
    ]),
    "receptive_field": ("receptive_field", "test_receptive_field", [
        Variant("strides ignored", (
            "def receptive_field(layers):\n"
            "    return 1 + sum(k - 1 for k, _ in layers)")),
        Variant("a layer's own stride counted", (
            "def receptive_field(layers):\n"
            "    r, jump = 1, 1\n"
            "    for k, s in layers:\n"
            "        jump *= s\n"
            "        r += (k - 1) * jump\n"
            "    return r")),
        Variant("the kernels added up", (
            "def receptive_field(layers):\n"
            "    return max(1, sum(k for k, _ in layers))")),
    ], [
        Variant("backwards from one output pixel", (
            "def receptive_field(layers):\n"
            "    r = 1\n"
            "    for k, s in reversed(list(layers)):\n"
            "        r = (r - 1) * s + k  # the input pixels under r neighbouring outputs of this layer\n"
            "    return r")),
        Variant("the sum with products of earlier strides", (
            "def receptive_field(layers):\n"
            "    strides = [s for _, s in layers]\n"
            "    return 1 + int(sum((k - 1) * np.prod(strides[:l]) for l, (k, _) in enumerate(layers)))")),
    ]),
    "conv1x1": ("conv1x1", "test_conv1x1", [
        Variant("reshape without moving the channels last", (
            "def conv1x1(x, w, b):\n"
            "    N, C, H, W = x.shape\n"
            "    return (x.reshape(-1, C) @ w.T + b).reshape(N, H, W, -1).transpose(0, 3, 1, 2)")),
        Variant("w used as (C, F)", (
            "def conv1x1(x, w, b):\n"
            "    return np.einsum('nchw,cf->nfhw', x, w) + b[None, :, None, None]")),
        Variant("bias added along the last axis", (
            "def conv1x1(x, w, b):\n"
            "    return np.einsum('nchw,fc->nfhw', x, w) + b")),
    ], [
        Variant("channels last, a matrix product, channels first again", (
            "def conv1x1(x, w, b):\n"
            "    N, C, H, W = x.shape\n"
            "    pixels = x.transpose(0, 2, 3, 1).reshape(-1, C)  # one row per pixel\n"
            "    return (pixels @ w.T + b).reshape(N, H, W, -1).transpose(0, 3, 1, 2)")),
        Variant("tensordot", (
            "def conv1x1(x, w, b):\n"
            "    return np.tensordot(w, x, axes=([1], [1])).transpose(1, 0, 2, 3) + b[None, :, None, None]")),
        Variant("a loop over the pixels", (
            "def conv1x1(x, w, b):\n"
            "    N, C, H, W = x.shape\n"
            "    out = np.empty((N, w.shape[0], H, W))\n"
            "    for i in range(H):\n"
            "        for j in range(W):\n"
            "            out[:, :, i, j] = x[:, :, i, j] @ w.T + b\n"
            "    return out")),
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
