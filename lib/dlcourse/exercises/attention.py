"""Graded exercises of notebook 08_attention (I2DL "Attention", after "Attention is all you need").

Eight NumPy functions, each judged against ``dlcourse.reference.attention``:
the stable softmax, scaled dot-product attention with masks and its backward
pass, the causal mask, the head reshapes, multi-head self-attention as one
function, and the sinusoidal positional encoding.

The fixed cases aim at what random ones miss: d_k different from d_v (a
swapped k and v fails), a batch of one and sequences of length one, masks
that hide all keys but one (a mask applied after the softmax, or a hidden
score set to 0 instead of -inf, leaves weight on the hidden keys), scores far
apart in one row and between rows (a softmax without each slice's own
maximum overflows), head widths where sqrt(d_k), d_k and sqrt(D) differ, and
odd model widths for the positional encoding. No case hides every key from a
query: the reference refuses such a row (its softmax would be 0/0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison, compare_outputs, flatten_outputs
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module, reference


def _ref() -> Any:
    return module("attention")


def _ints(rng: np.random.Generator, lo: int, hi: int, k: int) -> list[int]:
    return [int(v) for v in rng.integers(lo, hi, size=k)]


# -- softmax ------------------------------------------------------------------------------------

def _softmax_cases(rng: np.random.Generator) -> list[Case]:
    n, c = _ints(rng, 2, 8, 2)
    a, b, d = _ints(rng, 2, 6, 3)
    hidden = 2 * rng.standard_normal((3, 5))
    hidden[0, 1] = hidden[1, [0, 4]] = hidden[2, :4] = -np.inf  # hidden positions; row 2 keeps one entry
    return [
        Case((3 * rng.standard_normal((n, c)),), label=f"random scores ({n}, {c}), the default axis -1"),
        Case((3 * rng.standard_normal((c + 1, n)), 0), label=f"random scores ({c + 1}, {n}) along axis 0"),
        Case((2 * rng.standard_normal((a, b, d)), 1), label=f"random scores ({a}, {b}, {d}) along axis 1"),
        Case((rng.standard_normal(int(rng.integers(2, 10))),), label="a 1-D vector"),
        Case((np.array([[1000.0, 0.0, -1000.0], [1001.0, 1002.0, 1000.0]]),),
             label="scores 1000 apart (exp(1000) overflows: subtract each row's maximum)"),
        Case((np.array([[-740.0, -740.5, -741.0], [0.0, 2.0, 1.0]]),),
             label="rows of very different size (with one maximum for the whole array, row 0's exponentials are "
                   "exp(-742) ~ 1e-322, too small for float64 to hold more than two or three digits)"),
        Case((np.array([[-1000.0, -1001.0, -999.0], [5.0, 3.0, 4.0]]),),
             label="rows of very different size (with one maximum for the whole array, row 0 is exp(-1000) = 0: 0/0)"),
        Case((hidden,), label="-inf entries (hidden positions get weight exactly 0)"),
        Case((np.zeros((2, 4)),), label="equal scores: a uniform distribution"),
    ]


def _softmax_axis_ignored(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return _ref().softmax(x, axis=-1)


def _softmax_global(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x))
    with np.errstate(invalid="ignore"):  # 0/0 in a slice far below the maximum: the mistake this shows
        return e / e.sum(axis=axis, keepdims=True)


register(Exercise(
    name="attention.softmax",
    reference=reference("attention.softmax"),
    cases=_softmax_cases,
    names=("softmax(x)",),
    rtol=1e-7,
    atol=1e-12,
    mistakes=(
        Mistake("the axis argument is ignored: take the maximum and the sum along `axis` (keepdims=True).",
                _softmax_axis_ignored),
        Mistake("the sum runs over the whole array: each slice along `axis` must sum to 1.",
                lambda x, axis=-1: np.exp(x - x.max()) / np.exp(x - x.max()).sum()),
        Mistake("subtract each slice's own maximum (x.max(axis=axis, keepdims=True)), not the array's: a row far "
                "below the global maximum underflows to 0/0.", _softmax_global),
    ),
))


# -- scaled dot-product attention -----------------------------------------------------------------

def _one_key_mask(Tq: int, Tk: int, rng: np.random.Generator) -> np.ndarray:
    """(Tq, Tk): every query keeps exactly one key, a different one per row where possible."""
    keep = np.zeros((Tq, Tk), dtype=bool)
    keep[np.arange(Tq), rng.integers(0, Tk, size=Tq)] = True
    return keep


def _padding_mask(lengths: list[int], Tk: int) -> np.ndarray:
    """(N, 1, Tk): sequence n has lengths[n] real keys, then padding, the same for every query."""
    return (np.arange(Tk) < np.array(lengths)[:, None])[:, None, :]


def _attention_shapes(rng: np.random.Generator) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                                                np.ndarray | None, str]]:
    """(q shape, k shape, v shape, mask, label) of the attention cases, forward and backward."""
    N, Tq, Tk = int(rng.integers(2, 4)), int(rng.integers(2, 6)), int(rng.integers(3, 7))
    dk, dv = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    dv += dv == dk  # d_v != d_k: swapping k and v must show
    T, h = int(rng.integers(3, 7)), int(rng.integers(2, 4))
    return [
        ((N, Tq, dk), (N, Tk, dk), (N, Tk, dv), None, f"random q, k, v: N={N}, Tq={Tq}, Tk={Tk}, d_k={dk}, d_v={dv}"),
        ((N, h, Tq, dk), (N, h, Tk, dk), (N, h, Tk, dv), None, f"with a head axis: (N, h) = ({N}, {h})"),
        ((1, Tq, dk), (1, Tk, dk), (1, Tk, dv), None, "a batch of one"),
        ((N, 1, dk), (N, 1, dk), (N, 1, dv), None, "sequences of length one (Tq = Tk = 1)"),
        ((Tq, 64), (Tk, 64), (Tk, dv), None, "no batch axis, wide keys d_k = 64 (where the scaling matters)"),
        ((N, T, dk), (N, T, dk), (N, T, dv), np.tril(np.ones((T, T), dtype=bool)), f"a causal mask ({T}, {T})"),
        ((2, Tq, dk), (2, Tk + 2, dk), (2, Tk + 2, dv), _padding_mask([Tk + 2, 2], Tk + 2),
         "a padding mask (N, 1, Tk): sequence 1 has only 2 real keys"),
        ((N, Tq, dk), (N, Tk, dk), (N, Tk, dv), _one_key_mask(Tq, Tk, rng), "a mask that hides all keys but one"),
    ]


def _attention_cases(rng: np.random.Generator, backward: bool) -> list[Case]:
    cases = []
    for q_shape, k_shape, v_shape, mask, label in _attention_shapes(rng):
        q, k, v = rng.standard_normal(q_shape), rng.standard_normal(k_shape), rng.standard_normal(v_shape)
        tail = () if mask is None else (mask,)
        if backward:
            out, weights = _ref().scaled_dot_product_attention(q, k, v, mask)
            cases.append(Case((rng.standard_normal(out.shape), q, k, v, weights, *tail), label=label))
        else:
            cases.append(Case((q, k, v, *tail), label=label))
    return cases


def _attention_variant(scale: Callable[[int], float] = math.sqrt, mask_after: bool = False, axis: int = -1,
                       zero_fill: bool = False) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Scaled dot-product attention with one mistake switched on."""
    def attention(q, k, v, mask=None):
        scores = q @ np.swapaxes(k, -1, -2) / scale(q.shape[-1])
        if mask is not None and not mask_after:
            scores = np.where(mask, scores, 0.0 if zero_fill else -np.inf)
        weights = _ref().softmax(scores, axis=axis)
        if mask is not None and mask_after:
            weights = weights * mask
        return weights @ v, weights

    return attention


register(Exercise(
    name="attention.scaled_dot_product_attention",
    reference=reference("attention.scaled_dot_product_attention"),
    cases=lambda rng: _attention_cases(rng, backward=False),
    names=("out", "weights"),
    mistakes=(
        Mistake("the scores are not scaled: divide q k^T by sqrt(d_k).", _attention_variant(scale=lambda d: 1.0)),
        Mistake("the scores are divided by d_k: the scale is sqrt(d_k) (q . k has standard deviation sqrt(d_k)).",
                _attention_variant(scale=float)),
        Mistake("the mask is applied after the softmax: the hidden keys' probability is lost and the rows no longer "
                "sum to 1. Set hidden scores to -inf BEFORE the softmax.", _attention_variant(mask_after=True)),
        Mistake("hidden scores are set to 0, but exp(0) = 1 still gives them weight: set them to -inf.",
                _attention_variant(zero_fill=True)),
        Mistake("the softmax runs over the queries (axis -2): each query's weights over the KEYS (axis -1) sum to 1.",
                _attention_variant(axis=-2)),
    ),
))


# -- causal mask ----------------------------------------------------------------------------------

def _causal_cases(rng: np.random.Generator) -> list[Case]:
    # T = 1 last: there the upper and the lower triangle agree, so an earlier case names a dtype mistake better.
    return [Case((T,), label=f"T = {T}") for T in (4, int(rng.integers(5, 13)), 2, 1)]


def _check_causal(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
    expected = flatten_outputs(_ref().causal_mask(*case["args"]))
    verdict = compare_outputs(outputs, expected, names=("mask",), rtol=0, atol=0)
    if not verdict.ok:
        return verdict
    if outputs[0].dtype != np.bool_:
        return Comparison(False, f"the mask has the right values but dtype {outputs[0].dtype}: return a boolean "
                                 "array (True = keep), e.g. np.tril(np.ones((T, T), dtype=bool)).")
    return Comparison(True)


register(Exercise(
    name="attention.causal_mask",
    reference=reference("attention.causal_mask"),
    cases=_causal_cases,
    names=("mask",),
    check=_check_causal,
    handout="outputs",  # the hand-out compares the values; the notebook's visible test checks the dtype itself
    mistakes=(
        Mistake("this mask lets each position see the future: keep the lower triangle (key j <= query i), "
                "np.tril, not np.triu.", lambda T: np.triu(np.ones((T, T), dtype=bool))),
        Mistake("each position must also see itself: keep the diagonal (np.tril with k=0).",
                lambda T: np.tril(np.ones((T, T), dtype=bool), k=-1)),
    ),
))


# -- backward --------------------------------------------------------------------------------------

def _attention_backward_variant(scaled: bool = True, diagonal: bool = False) -> Callable[..., tuple]:
    """The backward pass with one mistake switched on."""
    def backward(dout, q, k, v, weights, mask=None):
        scale = math.sqrt(q.shape[-1]) if scaled else 1.0
        dv = np.swapaxes(weights, -1, -2) @ dout
        dweights = dout @ np.swapaxes(v, -1, -2)
        if diagonal:
            dscores = dweights * weights * (1 - weights)
        else:
            dscores = weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))
        return dscores @ k / scale, np.swapaxes(dscores, -1, -2) @ q / scale, dv

    return backward


register(Exercise(
    name="attention.scaled_dot_product_attention_backward",
    reference=reference("attention.scaled_dot_product_attention_backward"),
    cases=lambda rng: _attention_cases(rng, backward=True),
    names=("dq", "dk", "dv"),
    mistakes=(
        Mistake("dq and dk miss the factor 1/sqrt(d_k) of the forward pass's scaling.",
                _attention_backward_variant(scaled=False)),
        Mistake("the softmax's Jacobian is not diagonal: dS = A * (dA - sum(dA * A, axis=-1, keepdims=True)); "
                "dA * A * (1 - A) keeps only its diagonal.", _attention_backward_variant(diagonal=True)),
    ),
))


# -- heads -----------------------------------------------------------------------------------------

def _split_cases(rng: np.random.Generator) -> list[Case]:
    N, T, h, d = int(rng.integers(2, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 4)), int(rng.integers(2, 5))
    D = h * d
    return [
        Case((rng.standard_normal((N, T, D)), h), label=f"random x (N, T, D) = ({N}, {T}, {D}), {h} heads"),
        Case((rng.standard_normal((1, T, 12)), 3), label="a batch of one, D = 12, 3 heads"),
        Case((rng.standard_normal((N, 1, 8)), 2), label="sequences of length one"),
        Case((rng.standard_normal((N, T, 6)), 1), label="one head (the whole width)"),
        Case((rng.standard_normal((2, 3, 4)), 4), label="as many heads as features (D/h = 1)"),
    ]


def _merge_cases(rng: np.random.Generator) -> list[Case]:
    N, h, T, d = int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
    return [
        Case((rng.standard_normal((N, h, T, d)),), label=f"random heads (N, h, T, D/h) = ({N}, {h}, {T}, {d})"),
        Case((rng.standard_normal((1, 3, T, 4)),), label="a batch of one"),
        Case((rng.standard_normal((N, 2, 1, 3)),), label="sequences of length one"),
        Case((rng.standard_normal((N, 1, T, 5)),), label="one head"),
        Case((rng.standard_normal((2, 4, 3, 1)),), label="heads of width one"),
    ]


register(Exercise(
    name="attention.split_heads",
    reference=reference("attention.split_heads"),
    cases=_split_cases,
    names=("heads",),
    mistakes=(
        Mistake("reshaping (N, T, D) straight to (N, h, T, D/h) mixes tokens into heads: reshape to "
                "(N, T, h, D/h) first, then swap the axes T and h.",
                lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1)),
        Mistake("head j holds the CONSECUTIVE features j*D/h .. (j+1)*D/h - 1: reshape to (N, T, h, D/h), not "
                "(N, T, D/h, h).", lambda x, h: x.reshape(x.shape[0], x.shape[1], -1, h).transpose(0, 3, 1, 2)),
    ),
))

register(Exercise(
    name="attention.merge_heads",
    reference=reference("attention.merge_heads"),
    cases=_merge_cases,
    names=("x",),
    mistakes=(
        Mistake("reshaping (N, h, T, D/h) straight to (N, T, D) mixes tokens: swap the axes h and T back first.",
                lambda x: x.reshape(x.shape[0], x.shape[2], -1)),
    ),
))


# -- multi-head self-attention --------------------------------------------------------------------

PARAM_NAMES = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


def _mha(x: np.ndarray, params: dict[str, np.ndarray], num_heads: int, mask: np.ndarray | None = None, *,
         scale_width: bool = False, project_out: bool = True, transpose: bool = True) -> tuple:
    """Multi-head self-attention from the reference's pieces; the keyword arguments switch on mistakes."""
    att = _ref()
    N, T, D = x.shape

    def heads(a: np.ndarray) -> np.ndarray:
        return att.split_heads(a, num_heads) if transpose else a.reshape(N, num_heads, T, D // num_heads)

    q, k, v = (heads(x @ params[f"W{c}"] + params[f"b{c}"]) for c in "qkv")
    if scale_width:  # sqrt(D) instead of sqrt(D/h): undo the reference's scale, apply the wrong one
        q = q * math.sqrt(D // num_heads) / math.sqrt(D)
    y, weights = att.scaled_dot_product_attention(q, k, v, mask)
    y = att.merge_heads(y)
    return (y @ params["Wo"] + params["bo"] if project_out else y), weights


def _mha_cases(rng: np.random.Generator) -> list[Case]:
    def params(D: int) -> dict[str, np.ndarray]:
        return {name: rng.standard_normal((D, D) if name[0] == "W" else D) / (math.sqrt(D) if name[0] == "W" else 2)
                for name in PARAM_NAMES}

    N, T, h = int(rng.integers(2, 4)), int(rng.integers(3, 7)), int(rng.integers(2, 4))
    D = h * int(rng.integers(2, 5))
    cases = [
        Case((rng.standard_normal((N, T, D)), params(D), h), label=f"random x (N, T, D) = ({N}, {T}, {D}), {h} heads"),
        Case((rng.standard_normal((1, T, 8)), params(8), 2), label="a batch of one, D = 8, 2 heads"),
        Case((rng.standard_normal((N, 1, 6)), params(6), 3), label="sequences of length one"),
        Case((rng.standard_normal((N, T, 6)), params(6), 1), label="one head"),
        Case((rng.standard_normal((N, T, 12)), params(12), 3, np.tril(np.ones((T, T), dtype=bool))),
             label=f"a causal mask ({T}, {T}), 3 heads of width 4"),
        Case((rng.standard_normal((2, 5, 8)), params(8), 4, _padding_mask([5, 2], 5)[:, None]),
             label="a padding mask (N, 1, 1, T): sequence 1 has 2 real tokens"),
    ]
    return cases


register(Exercise(
    name="attention.multi_head_attention",
    reference=_mha,
    cases=_mha_cases,
    names=("out", "weights"),
    mistakes=(
        Mistake("the output projection is missing: concatenate the heads, then multiply by Wo and add bo.",
                lambda *a: _mha(*a, project_out=False)),
        Mistake("each head's scores are scaled by sqrt(D/h), the width of ONE head (its d_k), not sqrt(D).",
                lambda *a: _mha(*a, scale_width=True)),
        Mistake("the heads are cut with a plain reshape to (N, h, T, D/h), which mixes tokens: use split_heads.",
                lambda *a: _mha(*a, transpose=False)),
    ),
))


# -- positional encoding -----------------------------------------------------------------------------

def _pe_cases(rng: np.random.Generator) -> list[Case]:
    seq_len, half = int(rng.integers(5, 60)), int(rng.integers(2, 33))
    return [
        Case((seq_len, 2 * half), label=f"seq_len = {seq_len}, d_model = {2 * half}"),
        Case((50, 16), label="seq_len = 50, d_model = 16"),
        Case((int(rng.integers(3, 20)), 2 * int(rng.integers(1, 5)) + 1), label="an odd d_model (ends in a sine)"),
        Case((1, 6), label="one position: [0, 1, 0, 1, 0, 1]"),
        Case((7, 2), label="d_model = 2: one sine and one cosine of pos"),
        Case((120, 32), label="120 positions, d_model = 32"),
    ]


def _pe_variant(swap: bool = False, per_column: bool = False, halves: bool = False) -> Callable[[int, int],
                                                                                                np.ndarray]:
    def encoding(seq_len: int, d_model: int) -> np.ndarray:
        pos = np.arange(seq_len)[:, None]
        j = np.arange(d_model)
        if halves:  # all sines, then all cosines
            half = (d_model + 1) // 2
            angle = pos / 10000.0 ** (2 * np.arange(half) / d_model)
            return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)[:, :d_model]
        angle = pos / 10000.0 ** ((j if per_column else j // 2 * 2) / d_model)
        even, odd = (np.cos, np.sin) if swap else (np.sin, np.cos)
        return np.where(j % 2 == 0, even(angle), odd(angle))

    return encoding


register(Exercise(
    name="attention.positional_encoding",
    reference=reference("attention.positional_encoding"),
    cases=_pe_cases,
    names=("PE",),
    rtol=1e-7,
    atol=1e-10,
    mistakes=(
        Mistake("sine and cosine are swapped: even columns 2i hold the sine, odd columns 2i+1 the cosine.",
                _pe_variant(swap=True)),
        Mistake("columns 2i and 2i+1 share ONE frequency 1/10000^(2i/d_model); using the column index j in the "
                "exponent gives the cosine columns their own frequencies.", _pe_variant(per_column=True)),
        Mistake("the sines and cosines alternate column by column (sin, cos, sin, cos, ...), not all sines then all "
                "cosines.", _pe_variant(halves=True)),
    ),
))
