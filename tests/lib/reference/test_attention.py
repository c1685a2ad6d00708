"""Tests of dlcourse.reference.attention.

The NumPy functions are compared with PyTorch in float64 (softmax,
scaled_dot_product_attention with and without masks); every backward pass is
proven against central-difference numerical gradients (relative error < 1e-7)
and against PyTorch autograd. The torch modules (dlcourse.reference.attention_modules)
are tested in test_attention_modules.py.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import attention as att

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def torch_weights(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """softmax(q k^T / sqrt(d_k)) with hidden scores at -inf, written in torch."""
    scores = t(q) @ t(k).transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~torch.as_tensor(mask), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


# ---- softmax


@pytest.mark.parametrize(("shape", "axis"), [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_matches_torch_and_sums_to_one(shape: tuple[int, ...], axis: int) -> None:
    x = 3 * np.random.default_rng(0).standard_normal(shape)
    y = att.softmax(x, axis=axis)
    assert y.shape == x.shape and y.dtype == np.float64
    assert rel_error(y, torch.softmax(t(x), dim=axis).numpy()) < TORCH_TOL
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=1e-14)


def test_softmax_is_stable_for_extreme_inputs() -> None:
    x = np.array([
        [0.0, 1000.0, -1000.0],  # entries 1000 apart: exp(1000) overflows without the shift
        [1e4, -1e4, 0.0],
        [-np.inf, 0.0, -np.inf],  # hidden entries: weight exactly 0
        [-np.inf, 5.0, 751.0],  # 746 apart: the small one underflows to 0
        [1e6, 1e6, -np.inf],
    ])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = att.softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[:4], [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(y[4], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(y, torch.softmax(t(x), dim=-1).numpy(), rtol=1e-15, atol=0)


def test_softmax_does_not_mutate_its_argument() -> None:
    x = np.random.default_rng(1).standard_normal((3, 4))
    x_copy = x.copy()
    att.softmax(x)
    att.softmax(x, axis=0)
    np.testing.assert_array_equal(x, x_copy)


@pytest.mark.parametrize(("shape", "axis"), [((6,), -1), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)])
def test_softmax_backward_numerical(shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    dx = att.softmax_backward(dout, att.softmax(x, axis=axis), axis=axis)
    dx_num = eval_numerical_gradient_array(lambda v: att.softmax(v, axis=axis), x, dout)
    assert dx.shape == x.shape
    assert rel_error(dx, dx_num) < NUM_TOL


@pytest.mark.parametrize(("shape", "axis"), [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1)])
def test_softmax_backward_matches_torch(shape: tuple[int, ...], axis: int) -> None:
    rng = np.random.default_rng(3)
    x, dout = 2 * rng.standard_normal(shape), rng.standard_normal(shape)
    corner = (0,) * len(shape)
    x[corner] = -np.inf  # a hidden entry: its gradient is 0 on both sides
    dx = att.softmax_backward(dout, att.softmax(x, axis=axis), axis=axis)
    xt = t(x, True)
    torch.softmax(xt, dim=axis).backward(t(dout))
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert dx[corner] == 0.0


# ---- scaled dot-product attention


def _causal(Tq: int, Tk: int) -> np.ndarray:
    return att.causal_mask(Tq)


def _padding(lengths: list[int]) -> Callable[[int, int], np.ndarray]:
    """(N, 1, Tk): sequence n has lengths[n] real keys, then padding (the same for every query)."""
    return lambda Tq, Tk: (np.arange(Tk) < np.array(lengths)[:, None])[:, None, :]


def _one_key(j: int) -> Callable[[int, int], np.ndarray]:
    return lambda Tq, Tk: np.tile(np.arange(Tk) == j, (Tq, 1))  # (Tq, Tk)


# id: (q shape, k shape, v shape, mask maker or None)
SDPA_CASES = {
    "Tq!=Tk,dk!=dv": ((2, 5, 4), (2, 7, 4), (2, 7, 3), None),
    "batch-1": ((1, 4, 3), (1, 4, 3), (1, 4, 5), None),
    "seq-len-1": ((3, 1, 4), (3, 1, 4), (3, 1, 2), None),
    "unbatched": ((4, 3), (6, 3), (6, 2), None),
    "heads": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 2), None),
    "broadcast-heads": ((2, 3, 4, 5), (3, 6, 5), (1, 3, 6, 2), None),
    "causal": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6), _causal),
    "causal-T1": ((2, 1, 3), (2, 1, 3), (2, 1, 3), _causal),
    "padding": ((2, 4, 3), (2, 6, 3), (2, 6, 5), _padding([6, 2])),
    "one-key": ((2, 4, 3), (2, 5, 3), (2, 5, 2), _one_key(2)),
}


def _sdpa_inputs(case: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    q_shape, k_shape, v_shape, make_mask = SDPA_CASES[case]
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal(q_shape), rng.standard_normal(k_shape), rng.standard_normal(v_shape)
    mask = None if make_mask is None else make_mask(q_shape[-2], k_shape[-2])
    return q, k, v, mask


@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, 4)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    # torch's boolean attn_mask means True = takes part in attention, as ours does.
    out_t = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=None if mask is None else torch.as_tensor(mask))
    assert out.shape == out_t.shape
    assert weights.shape == (*out.shape[:-1], k.shape[-2])
    assert rel_error(out, out_t.numpy()) < TORCH_TOL
    assert rel_error(weights, torch_weights(q, k, mask)) < TORCH_TOL
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    if mask is not None:
        assert np.all(weights[~np.broadcast_to(mask, weights.shape)] == 0.0)  # exactly 0, not just small


def test_sdpa_with_one_visible_key_copies_its_value() -> None:
    q, k, v, mask = _sdpa_inputs("one-key", 5)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(weights[..., 2] == 1.0)
    np.testing.assert_array_equal(out, np.broadcast_to(v[:, 2:3, :], out.shape))


def test_sdpa_causal_row_zero_sees_only_itself() -> None:
    q, k, v, mask = _sdpa_inputs("causal", 6)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(np.triu(weights[0, 0], k=1), 0.0)
    np.testing.assert_array_equal(out[..., 0, :], v[..., 0, :])


def test_sdpa_by_hand_divides_by_sqrt_dk() -> None:
    q = np.array([[2.0, 0.0]])  # one query, d_k = 2
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[10.0], [20.0]])
    out, weights = att.scaled_dot_product_attention(q, k, v)
    s = 2.0 / math.sqrt(2.0)  # scores [2, 0] / sqrt(2)
    w0 = math.exp(s) / (math.exp(s) + 1.0)
    np.testing.assert_allclose(weights, [[w0, 1 - w0]], rtol=1e-15)
    np.testing.assert_allclose(out, [[10 * w0 + 20 * (1 - w0)]], rtol=1e-15)


def test_sdpa_does_not_mutate_its_arguments() -> None:
    q, k, v, mask = _sdpa_inputs("causal", 7)
    dout = np.random.default_rng(8).standard_normal((*q.shape[:-1], v.shape[-1]))
    copies = [a.copy() for a in (q, k, v, mask, dout)]
    _, weights = att.scaled_dot_product_attention(q, k, v, mask)
    weights_copy = weights.copy()
    att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    for a, c in zip((q, k, v, mask, dout, weights), [*copies, weights_copy], strict=True):
        np.testing.assert_array_equal(a, c)


BACKWARD_CASES = ["Tq!=Tk,dk!=dv", "heads", "broadcast-heads", "causal", "padding", "seq-len-1"]
# The largest *relative* error punishes tiny entries: in about 1 random draw in 10 of these sizes some gradient entry
# is ~1e-4, and the O(h^2) truncation error of the central difference alone is then 1e-7 of it. With this seed the
# worst case is ~6e-9 (a wrong formula is off by 1e-2 or more).
NUM_SEED = 2


@pytest.mark.parametrize("case", BACKWARD_CASES)
def test_sdpa_backward_numerical(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, NUM_SEED)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    dout = np.random.default_rng(NUM_SEED + 1).standard_normal(out.shape)
    dq, dk, dv = att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape

    def f(which: int) -> Callable[[np.ndarray], np.ndarray]:
        def out_of(x: np.ndarray) -> np.ndarray:
            args = [q, k, v]
            args[which] = x
            return att.scaled_dot_product_attention(*args, mask)[0]
        return out_of

    assert rel_error(dq, eval_numerical_gradient_array(f(0), q, dout)) < NUM_TOL
    assert rel_error(dk, eval_numerical_gradient_array(f(1), k, dout)) < NUM_TOL
    assert rel_error(dv, eval_numerical_gradient_array(f(2), v, dout)) < NUM_TOL


@pytest.mark.parametrize("case", BACKWARD_CASES)
def test_sdpa_backward_matches_torch(case: str) -> None:
    q, k, v, mask = _sdpa_inputs(case, 11)
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    dout = np.random.default_rng(12).standard_normal(out.shape)
    dq, dk, dv = att.scaled_dot_product_attention_backward(dout, q, k, v, weights, mask)
    qt, kt, vt = t(q, True), t(k, True), t(v, True)
    out_t = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=None if mask is None else torch.as_tensor(mask))
    out_t.backward(t(dout))
    assert rel_error(dq, qt.grad.numpy()) < TORCH_TOL
    assert rel_error(dk, kt.grad.numpy()) < TORCH_TOL
    assert rel_error(dv, vt.grad.numpy()) < TORCH_TOL


def test_sdpa_backward_hidden_keys_get_no_gradient() -> None:
    q, k, v, mask = _sdpa_inputs("padding", 13)  # sequence 1 has only 2 real keys of 6
    out, weights = att.scaled_dot_product_attention(q, k, v, mask)
    _, dk, dv = att.scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, weights, mask)
    np.testing.assert_array_equal(dk[1, 2:], 0.0)
    np.testing.assert_array_equal(dv[1, 2:], 0.0)
    assert np.all(dv[0] != 0.0)


# ---- causal mask, positional encoding, heads


def test_causal_mask_by_hand() -> None:
    np.testing.assert_array_equal(att.causal_mask(1), [[True]])
    m = att.causal_mask(4)
    assert m.dtype == np.bool_ and m.shape == (4, 4)
    expected = [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    np.testing.assert_array_equal(m, expected)


@pytest.mark.parametrize(("seq_len", "d_model"), [(1, 1), (1, 4), (7, 6), (9, 5), (50, 16), (3, 1)])
def test_positional_encoding_matches_the_formula(seq_len: int, d_model: int) -> None:
    pe = att.positional_encoding(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == np.float64
    expected = np.empty((seq_len, d_model))
    for pos in range(seq_len):
        for i in range(0, d_model, 2):  # columns 2i and 2i + 1 share one frequency
            angle = pos / 10000 ** (i / d_model)
            expected[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                expected[pos, i + 1] = math.cos(angle)
    np.testing.assert_allclose(pe, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pe[0], [0.0 if j % 2 == 0 else 1.0 for j in range(d_model)])
    assert np.all(np.abs(pe) <= 1.0)


def test_positional_encoding_odd_width_ends_in_a_sine() -> None:
    pe = att.positional_encoding(10, 5)
    pos = np.arange(10)
    np.testing.assert_allclose(pe[:, 4], np.sin(pos / 10000 ** (4 / 5)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(pe[:, 0], np.sin(pos), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(pe[:, 1], np.cos(pos), rtol=1e-14, atol=1e-15)


def test_split_and_merge_heads() -> None:
    x = np.random.default_rng(14).standard_normal((2, 5, 12))
    x_copy = x.copy()
    heads = att.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for j in range(3):  # head j holds features 4j .. 4j+3 of every token
        np.testing.assert_array_equal(heads[:, j], x[:, :, 4 * j:4 * (j + 1)])
    np.testing.assert_array_equal(att.merge_heads(heads), x)
    np.testing.assert_array_equal(x, x_copy)
    heads[0, 0, 0, 0] = 99.0  # a new array, not a view of x
    np.testing.assert_array_equal(x, x_copy)
    # The same reshapes on torch tensors (the modules use them).
    np.testing.assert_array_equal(att.split_heads(t(x), 3).numpy(), att.split_heads(x, 3))
    np.testing.assert_array_equal(att.merge_heads(t(heads)).numpy(), att.merge_heads(heads))


# ---- bad input: a ValueError that names the argument

RNG = np.random.default_rng(18)
Q, K, VV = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 6))
OUT, W = att.scaled_dot_product_attention(Q, K, VV)
HIDE_ROW_2 = np.ones((3, 5), dtype=bool)
HIDE_ROW_2[2] = False
NAN_Q = Q.copy()
NAN_Q[0, 0, 0] = np.nan

BAD_INPUT = [
    pytest.param(att.softmax, (np.float64(1.0),), r"at least one axis", id="softmax-scalar"),
    pytest.param(att.softmax, (Q, 3), r"axis 3 is out of range", id="softmax-axis"),
    pytest.param(att.softmax, (np.zeros((2, 0)),), r"no entries along axis", id="softmax-empty"),
    pytest.param(att.softmax, (np.array([1.0, np.nan]),), r"nan or \+inf", id="softmax-nan"),
    pytest.param(att.softmax, (np.array([1.0, np.inf]),), r"nan or \+inf", id="softmax-inf"),
    pytest.param(att.softmax, (np.array([[0.0, 1.0], [-np.inf, -np.inf]]),), r"all -inf", id="softmax-all-neginf"),
    pytest.param(att.softmax_backward, (np.ones((2, 3)), np.ones((3, 2)) / 2), r"dout .* and y", id="softmax-bw"),
    pytest.param(att.scaled_dot_product_attention, (Q[0, 0], K, VV), r"q must have shape", id="sdpa-1d-q"),
    pytest.param(att.scaled_dot_product_attention, (Q, K[..., :3], VV), r"q .* and k .* d_k", id="sdpa-dk"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV[:, :4]), r"k .* and v .* Tk", id="sdpa-Tk"),
    pytest.param(att.scaled_dot_product_attention, (Q, np.ones((3, 5, 4)), VV), r"do not broadcast",
                 id="sdpa-batch"),
    pytest.param(att.scaled_dot_product_attention, (NAN_Q, K, VV), r"q contains nan", id="sdpa-nan"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((3, 5))), r"mask must be boolean",
                 id="sdpa-float-mask"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((3, 5), dtype=int)), r"mask must be boolean",
                 id="sdpa-int-mask"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((5, 3), dtype=bool)), r"mask .* must broadcast",
                 id="sdpa-mask-shape"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, np.ones((4, 3, 5), dtype=bool)),
                 r"mask .* must broadcast", id="sdpa-mask-adds-batch"),
    pytest.param(att.scaled_dot_product_attention, (Q, K, VV, HIDE_ROW_2), r"all 5 keys from query row 2 at .* \(0,\)",
                 id="sdpa-hidden-row"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT, Q, K, VV, W[:, :2]), r"weights must have shape",
                 id="sdpa-bw-weights"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT[..., :2], Q, K, VV, W), r"dout must have",
                 id="sdpa-bw-dout"),
    pytest.param(att.scaled_dot_product_attention_backward, (OUT, Q, K, VV, W, np.eye(3, 5, dtype=bool)),
                 r"weights are not 0 where mask is False", id="sdpa-bw-mask"),
    pytest.param(att.causal_mask, (0,), r"T must be a positive int", id="causal-0"),
    pytest.param(att.causal_mask, (2.0,), r"T must be a positive int", id="causal-float"),
    pytest.param(att.positional_encoding, (0, 4), r"seq_len must be a positive int", id="pe-seq-len"),
    pytest.param(att.positional_encoding, (4, -2), r"d_model must be a positive int", id="pe-d-model"),
    pytest.param(att.positional_encoding, (4, True), r"d_model must be a positive int", id="pe-bool"),
    pytest.param(att.split_heads, (np.ones((2, 5, 10)), 3), r"D = 10 .* divisible by num_heads = 3",
                 id="split-divisible"),
    pytest.param(att.split_heads, (np.ones((5, 12)), 3), r"x must have shape \(N, T, D\)", id="split-2d"),
    pytest.param(att.merge_heads, (np.ones((2, 5, 12)),), r"x must have shape \(N, h, T, D/h\)", id="merge-3d"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
