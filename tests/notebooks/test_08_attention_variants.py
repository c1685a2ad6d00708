"""Tests of the tests for 08_attention: wrong implementations are rejected, other correct ones accepted, by the
notebook's own graded test cells (as a student and as the grader).

The wrong ones are the mistakes the lecture's formulas invite: a softmax over the wrong axis or without each slice's
own maximum; attention without the scaling, scaled by d_k, masked after the softmax or with 0 instead of -inf, its
softmax over the queries; a mask that shows the future or hides the diagonal, or is not boolean; a backward pass
without the 1/sqrt(d_k) or with only the Jacobian's diagonal; heads cut by a plain reshape or interleaved; multi-head
attention without its output projection or scaled by the model width; sine and cosine swapped, one frequency per
column, or all sines before all cosines. The correct alternatives are written differently: log-sum-exp, einsum,
an explicit Jacobian, loops, slicing, the renormalized mask after the softmax.
"""

from __future__ import annotations

import harness
import pytest
from harness import REPO, Variant

pytestmark = pytest.mark.notebook("08_attention")

NOTEBOOK = REPO / "solutions" / "08_attention" / "08_attention.ipynb"

SDPA = "def scaled_dot_product_attention(q, k, v, mask=None):\n"


def attention(scores: str, mask_line: str = "        scores = np.where(mask, scores, -np.inf)\n",
              weights: str = "    weights = softmax(scores, axis=-1)\n", after: str = "") -> str:
    """scaled_dot_product_attention with its lines swapped for a variant's."""
    return (SDPA + f"    scores = {scores}\n    if mask is not None:\n" + mask_line + weights + after
            + "    return weights @ v, weights")


BACKWARD = "def scaled_dot_product_attention_backward(dout, q, k, v, weights, mask=None):\n"
BACKWARD_START = (
    "    dv = np.swapaxes(weights, -1, -2) @ dout\n"
    "    dA = dout @ np.swapaxes(v, -1, -2)\n")

MHA = "def multi_head_attention(x, params, num_heads, mask=None):\n"


def pe(body: str) -> str:
    return "def positional_encoding(seq_len, d_model):\n" + body


# exercise -> (solution cell, test cell, wrong variants, correct variants)
VARIANTS: harness.Variants = {
    "softmax": ("softmax", "test_softmax", [
        Variant("axis ignored", (
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - x.max(axis=-1, keepdims=True))\n"
            "    return e / e.sum(axis=-1, keepdims=True)")),
        Variant("no maximum subtracted", (
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x)\n"
            "    return e / e.sum(axis=axis, keepdims=True)")),
        Variant("one maximum for the whole array", (
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - np.max(x))\n"
            "    return e / e.sum(axis=axis, keepdims=True)")),
    ], [
        Variant("log-sum-exp", (
            "def softmax(x, axis=-1):\n"
            "    m = np.max(x, axis=axis, keepdims=True)\n"
            "    log_z = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))\n"
            "    return np.exp(x - log_z)")),
        Variant("moveaxis to the end and back", (
            "def softmax(x, axis=-1):\n"
            "    y = np.moveaxis(np.asarray(x, dtype=float), axis, -1)\n"
            "    y = np.exp(y - y.max(axis=-1)[..., None])\n"
            "    y = y / y.sum(axis=-1)[..., None]\n"
            "    return np.moveaxis(y, -1, axis)")),
    ]),
    "scaled_dot_product_attention": ("scaled_dot_product_attention", "test_scaled_dot_product_attention", [
        Variant("no scaling", attention("q @ np.swapaxes(k, -1, -2)")),
        Variant("scaled by d_k", attention("q @ np.swapaxes(k, -1, -2) / q.shape[-1]")),
        Variant("mask applied after the softmax", attention(
            "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])", mask_line="        pass\n",
            after="    if mask is not None:\n        weights = weights * mask\n")),
        Variant("hidden scores set to 0", attention(
            "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])",
            mask_line="        scores = np.where(mask, scores, 0.0)\n")),
        Variant("softmax over the queries", attention(
            "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])", weights="    weights = softmax(scores, axis=-2)\n")),
        Variant("mask meaning inverted (True = hidden)", attention(
            "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])",
            mask_line="        scores = np.where(mask, -1e9, scores)\n")),
    ], [
        Variant("einsum, -1e30 for hidden scores", (
            SDPA
            + "    scores = np.einsum('...qd,...kd->...qk', q, k) / q.shape[-1] ** 0.5\n"
            "    if mask is not None:\n"
            "        scores = scores + np.where(mask, 0.0, -1e30)\n"
            "    weights = softmax(scores)\n"
            "    return np.einsum('...qk,...kd->...qd', weights, v), weights")),
        Variant("mask after the softmax, renormalized", attention(
            "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])", mask_line="        pass\n",
            after=("    if mask is not None:\n"
                   "        weights = weights * mask\n"
                   "        weights = weights / weights.sum(axis=-1, keepdims=True)\n"))),
    ]),
    "causal_mask": ("causal_mask", "test_causal_mask", [
        Variant("the future (upper triangle)", "def causal_mask(T):\n    return np.triu(np.ones((T, T), dtype=bool))"),
        Variant("diagonal hidden", "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool), k=-1)"),
        Variant("float mask", "def causal_mask(T):\n    return np.tril(np.ones((T, T)))"),
    ], [
        Variant("comparison of aranges", (
            "def causal_mask(T):\n"
            "    return np.arange(T)[:, None] >= np.arange(T)[None, :]")),
        Variant("loops", (
            "def causal_mask(T):\n"
            "    mask = np.zeros((T, T), dtype=bool)\n"
            "    for i in range(T):\n"
            "        for j in range(i + 1):\n"
            "            mask[i, j] = True\n"
            "    return mask")),
    ]),
    "scaled_dot_product_attention_backward": (
        "scaled_dot_product_attention_backward", "test_scaled_dot_product_attention_backward", [
            Variant("1/sqrt(d_k) missing", (
                BACKWARD + BACKWARD_START
                + "    dS = weights * (dA - np.sum(dA * weights, axis=-1, keepdims=True))\n"
                "    return dS @ k, np.swapaxes(dS, -1, -2) @ q, dv")),
            Variant("diagonal of the softmax Jacobian only", (
                BACKWARD + BACKWARD_START
                + "    dS = dA * weights * (1 - weights)\n"
                "    s = np.sqrt(q.shape[-1])\n"
                "    return dS @ k / s, np.swapaxes(dS, -1, -2) @ q / s, dv")),
            Variant("dk without the transpose of dS", (
                BACKWARD + BACKWARD_START
                + "    dS = weights * (dA - np.sum(dA * weights, axis=-1, keepdims=True))\n"
                "    s = np.sqrt(q.shape[-1])\n"
                "    return dS @ k / s, dS @ q / s, dv")),
        ], [
            Variant("explicit Jacobian with einsum", (
                BACKWARD + BACKWARD_START
                + "    eye = np.eye(weights.shape[-1])\n"
                "    J = weights[..., :, None] * eye - weights[..., :, None] * weights[..., None, :]\n"
                "    dS = np.einsum('...qj,...qjk->...qk', dA, J)\n"
                "    s = np.sqrt(q.shape[-1])\n"
                "    dq = np.einsum('...qk,...kd->...qd', dS, k) / s\n"
                "    return dq, np.einsum('...qk,...qd->...kd', dS, q) / s, dv")),
        ]),
    "split_heads": ("split_heads", "test_split_heads", [
        Variant("plain reshape", (
            "def split_heads(x, num_heads):\n"
            "    N, T, D = x.shape\n"
            "    return x.reshape(N, num_heads, T, D // num_heads)")),
        Variant("interleaved features", (
            "def split_heads(x, num_heads):\n"
            "    N, T, D = x.shape\n"
            "    return x.reshape(N, T, D // num_heads, num_heads).transpose(0, 3, 1, 2)")),
    ], [
        Variant("slices stacked", (
            "def split_heads(x, num_heads):\n"
            "    d = x.shape[-1] // num_heads\n"
            "    return np.stack([x[:, :, j * d:(j + 1) * d] for j in range(num_heads)], axis=1)")),
    ]),
    "merge_heads": ("merge_heads", "test_merge_heads", [
        Variant("plain reshape", (
            "def merge_heads(x):\n"
            "    N, h, T, d = x.shape\n"
            "    return x.reshape(N, T, h * d)")),
        Variant("head and feature axes swapped", (
            "def merge_heads(x):\n"
            "    N, h, T, d = x.shape\n"
            "    return x.transpose(0, 2, 3, 1).reshape(N, T, h * d)")),
    ], [
        Variant("concatenate the heads", (
            "def merge_heads(x):\n"
            "    return np.concatenate([x[:, j] for j in range(x.shape[1])], axis=-1)")),
    ]),
    "multi_head_attention": ("multi_head_attention", "test_multi_head_attention", [
        Variant("output projection missing", (
            MHA
            + "    q, k, v = (split_heads(x @ params['W' + c] + params['b' + c], num_heads) for c in 'qkv')\n"
            "    heads, weights = scaled_dot_product_attention(q, k, v, mask)\n"
            "    return merge_heads(heads), weights")),
        Variant("scaled by sqrt(D) instead of sqrt(D/h)", (
            MHA
            + "    q, k, v = (split_heads(x @ params['W' + c] + params['b' + c], num_heads) for c in 'qkv')\n"
            "    heads, weights = scaled_dot_product_attention(q / np.sqrt(num_heads), k, v, mask)\n"
            "    return merge_heads(heads) @ params['Wo'] + params['bo'], weights")),
        Variant("heads by a plain reshape", (
            MHA
            + "    N, T, D = x.shape\n"
            "    q, k, v = ((x @ params['W' + c] + params['b' + c]).reshape(N, num_heads, T, D // num_heads)\n"
            "               for c in 'qkv')\n"
            "    heads, weights = scaled_dot_product_attention(q, k, v, mask)\n"
            "    return merge_heads(heads) @ params['Wo'] + params['bo'], weights")),
        Variant("biases left out", (
            MHA
            + "    q, k, v = (split_heads(x @ params['W' + c], num_heads) for c in 'qkv')\n"
            "    heads, weights = scaled_dot_product_attention(q, k, v, mask)\n"
            "    return merge_heads(heads) @ params['Wo'], weights")),
    ], [
        Variant("one head at a time, weight columns sliced", (
            MHA
            + "    N, T, D = x.shape\n"
            "    d = D // num_heads\n"
            "    outs, maps = [], []\n"
            "    for j in range(num_heads):\n"
            "        cols = slice(j * d, (j + 1) * d)\n"
            "        q, k, v = (x @ params['W' + c][:, cols] + params['b' + c][cols] for c in 'qkv')\n"
            "        m = None if mask is None else np.broadcast_to(mask, (N, num_heads, T, T))[:, j]\n"
            "        o, w = scaled_dot_product_attention(q, k, v, m)\n"
            "        outs.append(o)\n"
            "        maps.append(w)\n"
            "    return np.concatenate(outs, axis=-1) @ params['Wo'] + params['bo'], np.stack(maps, axis=1)")),
    ]),
    "positional_encoding": ("positional_encoding", "test_positional_encoding", [
        Variant("sin and cos swapped", pe(
            "    pe = np.zeros((seq_len, d_model))\n"
            "    angle = np.arange(seq_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)\n"
            "    pe[:, 0::2] = np.cos(angle)\n"
            "    pe[:, 1::2] = np.sin(angle[:, :d_model // 2])\n"
            "    return pe")),
        Variant("one frequency per column", pe(
            "    angle = np.arange(seq_len)[:, None] / 10000 ** (np.arange(d_model) / d_model)\n"
            "    return np.where(np.arange(d_model) % 2 == 0, np.sin(angle), np.cos(angle))")),
        Variant("all sines, then all cosines", pe(
            "    angle = np.arange(seq_len)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)\n"
            "    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)[:, :d_model]")),
    ], [
        Variant("two loops", pe(
            "    pe = np.zeros((seq_len, d_model))\n"
            "    for pos in range(seq_len):\n"
            "        for i in range(0, d_model, 2):\n"
            "            pe[pos, i] = np.sin(pos / 10000 ** (i / d_model))\n"
            "            if i + 1 < d_model:\n"
            "                pe[pos, i + 1] = np.cos(pos / 10000 ** (i / d_model))\n"
            "    return pe")),
        Variant("exp and log of the frequencies", pe(
            "    j = np.arange(d_model)\n"
            "    freq = np.exp(-np.log(10000.0) * (j - j % 2) / d_model)\n"
            "    angle = np.arange(seq_len)[:, None] * freq\n"
            "    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))")),
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
