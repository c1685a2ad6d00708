"""Attention and a tiny transformer (I2DL "Attention", after "Attention is all you need", Vaswani et al. 2017).

The lecture reads attention as *differentiable soft indexing*: the values V are
the things one may look up, the keys K say how to find each of them, and a query
Q says what is wanted. Every query is compared with every key by a dot product,
a softmax turns the scores into a distribution over the keys, and the answer is
the weighted average of the values:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Why sqrt(d_k): for random q and k with independent unit-variance entries,
q . k is a sum of d_k terms of variance 1, so its standard deviation grows like
sqrt(d_k). Unscaled, wide keys push the softmax into saturation, where one weight
is ~1 and the gradients of all the others are ~0; dividing by sqrt(d_k) gives the
scores unit variance again whatever the width.

The first half is NumPy in float64 (the reference the notebook's exercises are
graded against), each backward pass beside its forward pass:

- ``softmax``/``softmax_backward``, the stable softmax over any axis;
- ``scaled_dot_product_attention``/``scaled_dot_product_attention_backward``;
- ``causal_mask`` (the decoder's "masked multi-head attention": position i may
  only use positions <= i) and ``positional_encoding`` (the paper's sinusoids:
  attention alone is a weighted average and does not know where a token sits);
- ``split_heads``/``merge_heads``, the reshapes behind multi-head attention
  (they accept torch tensors as well, and the modules below use them).

Masks follow one convention everywhere: a boolean array, **True = keep** (the
query may attend to that key), False = hidden (weight exactly 0). This is the
convention of ``torch.nn.functional.scaled_dot_product_attention``; the opposite
one, True = NOT allowed, is that of ``torch.nn.MultiheadAttention``'s
``attn_mask`` and ``key_padding_mask``.

Cost (the lecture's complexity table): the weights form a (T_q, T_k) matrix per
head, so self-attention over n tokens of width d costs O(n^2 d) time and O(n^2)
memory, against O(n d^2) for a recurrent layer, but every pair of positions is
one step apart instead of up to n. Compare the MLP-Mixer (Tokyo DL2): its
token-mixing MLP also mixes positions, but with weights fixed after training,
while attention computes its mixing weights from the input itself.

The PyTorch modules, nanoGPT style (one ``nn.Module`` per idea), live in
:mod:`dlcourse.reference.attention_modules` to keep each file short:
``MultiHeadAttention`` (checked against ``torch.nn.MultiheadAttention``
through ``copy_weights_from_torch``), ``FeedForward``, ``TransformerBlock`` and
``TinyTransformer``. They keep their contract names here too
(``attention.TinyTransformer``), resolved on first use (PEP 562), because
that module imports the functions of this one. The transformer's
learning-rate warm-up lives in :func:`dlcourse.reference.optim.warmup_inverse_sqrt`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = [
    "causal_mask", "merge_heads", "positional_encoding", "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward", "softmax", "softmax_backward", "split_heads",
]
# The PyTorch modules, from attention_modules through __getattr__ at the bottom:
__all__ += ["FeedForward", "MultiHeadAttention", "TinyTransformer", "TransformerBlock"]  # noqa: F822
__all__ += ["copy_weights_from_torch"]  # noqa: F822


def _array(a: object, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None


def _axis(x: np.ndarray, axis: object, name: str = "x") -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise ValueError(f"axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {x.shape}")
    return int(axis) % x.ndim


def _positive_int(value: object, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


# ---- softmax


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``: ``exp(x_i) / sum_j exp(x_j)`` over each slice.

    Each slice's maximum is subtracted first. Mathematically nothing changes
    (the factor exp(-max) cancels), but then the largest exponent is exp(0) = 1,
    so nothing overflows, and entries far below the maximum underflow to an
    exact 0 instead of giving inf / inf = nan (without the shift, entries 1000
    apart already overflow: exp(710) is inf in float64).

    Inputs:
    - x: scores of any shape, with at least one axis. Entries may be -inf (a
      hidden position, weight exactly 0) as long as every slice along ``axis``
      holds at least one finite entry; +inf and nan are refused.
    - axis: the axis that sums to 1

    Returns y, the shape of x, float64. x is not modified.
    """
    x = _array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis, got a scalar")
    axis = _axis(x, axis)
    if x.shape[axis] == 0:
        raise ValueError(f"x has no entries along axis {axis} (shape {x.shape}): a softmax over nothing is undefined")
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError("x contains nan or +inf; only -inf is allowed (for a hidden position)")
    x_max = x.max(axis=axis, keepdims=True)
    if np.isneginf(x_max).any():
        raise ValueError(f"a slice of x along axis {axis} is all -inf: at least one entry must be finite")
    e = np.exp(x - x_max)  # a new array: x itself is left alone
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dout: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Backward pass of the softmax, given its output y.

    The Jacobian of one slice is ``dy_i/dx_j = y_i (δ_ij - y_j)``, so the
    vector-Jacobian product needs no matrix: ``dx = y * (dout - sum(dout * y))``,
    the sum taken along ``axis`` (the gradient is the upstream gradient minus its
    y-weighted mean, scaled by y).

    Inputs:
    - dout: upstream gradient, the shape of y
    - y: the softmax output, any shape
    - axis: the axis the softmax was taken along

    Returns dx, the shape of y.
    """
    dout, y = _array(dout, "dout"), _array(y, "y")
    if dout.shape != y.shape:
        raise ValueError(f"dout {dout.shape} and y {y.shape} must have the same shape")
    if y.ndim == 0:
        raise ValueError("y must have at least one axis, got a scalar")
    axis = _axis(y, axis, "y")
    return y * (dout - np.sum(dout * y, axis=axis, keepdims=True))


# ---- scaled dot-product attention


def _check_qkv(q: object, k: object, v: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """q, k, v as float64 and the shape (..., Tq, Tk) of the scores, or a ValueError that names the argument."""
    q, k, v = _array(q, "q"), _array(k, "k"), _array(v, "v")
    for name, a, letters in (("q", q, "Tq, d_k"), ("k", k, "Tk, d_k"), ("v", v, "Tk, d_v")):
        if a.ndim < 2:
            raise ValueError(f"{name} must have shape (..., {letters}), at least 2-D, got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains nan or inf")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q {q.shape} and k {k.shape} must have the same last axis d_k (q k^T compares them entry by entry)"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"d_k must be at least 1, got q of shape {q.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k {k.shape} and v {v.shape} must have the same number of keys Tk (axis -2): one value per key"
        )
    if k.shape[-2] == 0:
        raise ValueError(f"there must be at least one key, got k of shape {k.shape}")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the leading (batch, head) axes of q {q.shape}, k {k.shape} and v {v.shape} do not broadcast"
        ) from None
    return q, k, v, (*lead, q.shape[-2], k.shape[-2])


def _check_mask(mask: object, scores_shape: tuple[int, ...]) -> np.ndarray:
    """The mask broadcast to (..., Tq, Tk), or a ValueError naming what is wrong with it."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(
            f"mask must be boolean (True = keep, False = hidden), got dtype {mask.dtype}; an int or float "
            "mask is ambiguous (0/1 and 0/-inf conventions both exist): pass e.g. mask == 1 or mask.astype(bool)"
        )
    try:
        if np.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"mask {mask.shape} must broadcast to the scores' shape (..., Tq, Tk) = {scores_shape}"
        ) from None
    return np.broadcast_to(mask, scores_shape)


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum g over the axes that broadcasting added or stretched, giving back ``shape``:
    an input used at many batch positions collects the gradient of every use."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def scaled_dot_product_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(q k^T / sqrt(d_k)) v`` ("Attention is all you need", eq. 1).

    Inputs:
    - q: (..., Tq, d_k) queries
    - k: (..., Tk, d_k) keys
    - v: (..., Tk, d_v) values, one per key
      The leading axes (batch, heads, ...) of q, k and v broadcast against each other.
    - mask: optional boolean array broadcastable to (..., Tq, Tk); True = query i may
      attend to key j, False = hidden (its score becomes -inf, its weight exactly 0).

    Returns a tuple of:
    - out: (..., Tq, d_v), each query's weighted average of the values
    - weights: (..., Tq, Tk), each row a distribution over the keys (sums to 1)

    A query whose keys are ALL hidden has no distribution to take (a softmax of
    only -inf is 0/0): this raises a ValueError naming the row, where
    ``torch.nn.functional.scaled_dot_product_attention`` returns nan. Such a row
    is almost always a bug (a padding mask applied to the queries, a causal mask
    shifted by one); keep at least the query's own position.
    q, k, v and mask are not modified.
    """
    q, k, v, scores_shape = _check_qkv(q, k, v)
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)  # (..., Tq, Tk)
    if mask is not None:
        keep = _check_mask(mask, scores_shape)
        dead = ~keep.any(axis=-1)  # (..., Tq): rows with no key left
        if dead.any():
            where = tuple(int(i) for i in np.argwhere(dead)[0])
            lead = f" at leading (batch/head) index {where[:-1]}" if len(where) > 1 else ""
            raise ValueError(
                f"mask hides all {scores_shape[-1]} keys from query row {where[-1]}{lead}: its softmax would be "
                "0/0 (torch gives nan); every query must keep at least one key, e.g. its own position"
            )
        scores = np.where(keep, scores, -np.inf)
    weights = softmax(scores, axis=-1)
    return weights @ v, weights


def scaled_dot_product_attention_backward(
    dout: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    weights: np.ndarray,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of ``scaled_dot_product_attention``.

    With S = q k^T / sqrt(d_k), A = softmax(S) (the weights) and out = A v:

    - dv = A^T dout and dA = dout v^T (the matrix product rule, as in the affine layer);
    - dS = softmax_backward(dA, A), row by row over the keys; a hidden key has
      A = 0 there, so dS = 0: no gradient flows through a masked score;
    - dq = dS k / sqrt(d_k) and dk = dS^T q / sqrt(d_k).

    Gradients of inputs that were broadcast over leading axes are summed over those axes.

    Inputs:
    - dout: (..., Tq, d_v) upstream gradient of out
    - q, k, v: the forward inputs, (..., Tq, d_k), (..., Tk, d_k), (..., Tk, d_v)
    - weights: (..., Tq, Tk), the weights the forward pass returned
    - mask: the forward pass's mask (or None); it is checked against the weights
      (a hidden entry must have weight 0), and hidden scores get gradient exactly 0

    Returns a tuple (dq, dk, dv), the shapes of q, k and v.
    """
    q, k, v, scores_shape = _check_qkv(q, k, v)
    weights = _array(weights, "weights")
    if weights.shape != scores_shape:
        raise ValueError(f"weights must have shape (..., Tq, Tk) = {scores_shape}, got {weights.shape}")
    out_shape = (*scores_shape[:-1], v.shape[-1])
    dout = _array(dout, "dout")
    if dout.shape != out_shape:
        raise ValueError(f"dout must have the shape of out, (..., Tq, d_v) = {out_shape}, got {dout.shape}")
    d_k = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., Tk, d_v)
    dweights = dout @ np.swapaxes(v, -1, -2)  # (..., Tq, Tk)
    dscores = softmax_backward(dweights, weights, axis=-1)  # (..., Tq, Tk)
    if mask is not None:
        keep = _check_mask(mask, scores_shape)
        if np.any(weights[~keep] != 0):
            raise ValueError(
                "weights are not 0 where mask is False: pass the weights and the mask of the same forward call"
            )
        dscores = np.where(keep, dscores, 0.0)
    dq = dscores @ k / math.sqrt(d_k)  # (..., Tq, d_k)
    dk = np.swapaxes(dscores, -1, -2) @ q / math.sqrt(d_k)  # (..., Tk, d_k)
    return _unbroadcast(dq, q.shape), _unbroadcast(dk, k.shape), _unbroadcast(dv, v.shape)


# ---- masks, positions, heads


def causal_mask(T: int) -> np.ndarray:
    """(T, T) boolean mask, True on and below the diagonal: query i sees keys 0..i,
    itself and the past, never the future (the decoder's masked attention in the lecture).
    """
    T = _positive_int(T, "T")
    return np.tril(np.ones((T, T), dtype=bool))


def positional_encoding(seq_len: int, d_model: int) -> np.ndarray:
    """The sinusoidal table of "Attention is all you need" (section 3.5), float64 (seq_len, d_model):

        PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

    Each pair of columns is a sine and a cosine of one frequency, the
    wavelengths growing geometrically from 2π to 10000·2π; a fixed offset k is
    then a rotation of each pair, a linear map the model can learn. For an odd
    d_model the last column is a sine without its cosine. Row 0 is [0, 1, 0, 1, ...].
    """
    seq_len, d_model = _positive_int(seq_len, "seq_len"), _positive_int(d_model, "d_model")
    pos = np.arange(seq_len, dtype=np.float64)[:, None]  # (seq_len, 1)
    two_i = np.arange(d_model) // 2 * 2  # column j uses the frequency of its pair: 0, 0, 2, 2, 4, ...
    angle = pos / 10000.0 ** (two_i / d_model)  # (seq_len, d_model)
    pe = np.empty((seq_len, d_model))
    pe[:, 0::2] = np.sin(angle[:, 0::2])
    pe[:, 1::2] = np.cos(angle[:, 1::2])
    return pe


def split_heads(x: np.ndarray | torch.Tensor, num_heads: int) -> np.ndarray | torch.Tensor:
    """(N, T, D) -> (N, h, T, D/h): cut each token's D features into h heads of D/h,
    then move the head axis in front of T so that each head attends on its own.

    Works on NumPy arrays (returned as a new float64 array) and on torch tensors (a view).
    """
    if not isinstance(x, torch.Tensor):
        x = _array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, T, D), got {tuple(x.shape)}")
    num_heads = _positive_int(num_heads, "num_heads")
    N, T, D = x.shape  # batch, time, model width
    if D % num_heads:
        raise ValueError(f"the width D = {D} of x must be divisible by num_heads = {num_heads}")
    out = x.reshape(N, T, num_heads, D // num_heads).swapaxes(1, 2)  # (N, h, T, D/h)
    return out if isinstance(out, torch.Tensor) else out.copy()


def merge_heads(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(N, h, T, D/h) -> (N, T, D), the inverse of ``split_heads``: the heads'
    outputs side by side again for each token (the "concat" of multi-head attention)."""
    if not isinstance(x, torch.Tensor):
        x = _array(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, h, T, D/h), got {tuple(x.shape)}")
    N, h, T, d_head = x.shape  # batch, heads, time, head width
    return x.swapaxes(1, 2).reshape(N, T, h * d_head)  # reshape copies: swapaxes made x non-contiguous


# ---- the PyTorch modules under their contract names

_MODULES = frozenset({"FeedForward", "MultiHeadAttention", "TinyTransformer", "TransformerBlock",
                      "copy_weights_from_torch"})


def __getattr__(name: str) -> Any:
    """``attention.MultiHeadAttention`` and the other modules, from :mod:`.attention_modules`.

    Imported on first use rather than at the top: attention_modules imports
    ``split_heads`` and the rest from this module, so a top-level import here
    would be circular whichever of the two is imported first.
    """
    if name in _MODULES:
        from dlcourse.reference import attention_modules

        return getattr(attention_modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _MODULES)
