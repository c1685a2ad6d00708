"""What the views and the measurements of notebook 08_attention compute (NumPy and torch, no matplotlib).

* :func:`softmax_sharpness`: how sharp the softmax of q . k scores gets as the
  key width d_k grows, with and without the 1/sqrt(d_k) of "Attention is all you
  need", and how small its gradient becomes (I2DL "Attention": unscaled, wide
  keys push the softmax "into regions where it has extremely small gradients").
* :func:`softmax_jacobian_norm`: the size of that gradient, in closed form.
* :func:`attention_maps`: every layer's and head's attention weights of a
  trained model, computed once, so that a slider only picks one.
* :func:`mirror_mass`: how much of each map lies on the anti-diagonal, the
  positions a sequence-reversing model has to read.
* :func:`time_attention_and_recurrence`, :func:`attention_macs`,
  :func:`recurrent_macs`: the lecture's complexity table, O(n^2 d) for
  self-attention against O(n d^2) for a recurrent layer, counted and timed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SharpnessTable", "attention_macs", "attention_maps", "mirror_mass", "recurrent_macs", "softmax_jacobian_norm",
    "softmax_sharpness", "time_attention_and_recurrence",
]

Softmax = Callable[..., np.ndarray]


def softmax_jacobian_norm(weights: np.ndarray) -> np.ndarray:
    """Frobenius norm of the softmax's Jacobian at each distribution in ``weights`` (..., K): shape (...).

    The Jacobian is J = diag(w) - w w^T (J_ij = w_i (δ_ij - w_j)), so
    ||J||^2 = sum_i w_i^2 (1 - 2 w_i + sum_j w_j^2) = S2 - 2 S3 + S2^2 with
    S2 = sum w^2 and S3 = sum w^3. It is 0 at a one-hot w (a saturated
    softmax passes no gradient back) and largest when the weight is spread.
    """
    w = np.asarray(weights, dtype=np.float64)
    s2, s3 = np.sum(w**2, axis=-1), np.sum(w**3, axis=-1)
    return np.sqrt(np.maximum(s2 - 2 * s3 + s2**2, 0.0))


@dataclass(frozen=True)
class SharpnessTable:
    """The softmax of random scores q . k against the key width d_k; index 0 unscaled, 1 divided by sqrt(d_k).

    - d_ks: (M,) the widths
    - max_weight: (M, 2) the largest weight of a query, averaged over the queries
    - grad_norm: (M, 2) the Jacobian's norm (:func:`softmax_jacobian_norm`), the median over the queries
      (the mean would be ruled by the rare queries whose two best keys tie)
    - score_std: (M,) the standard deviation of the unscaled scores (about sqrt(d_k))
    - examples: (M, E, 2, K) the weights of the first E queries over the K keys
    """

    d_ks: np.ndarray
    max_weight: np.ndarray
    grad_norm: np.ndarray
    score_std: np.ndarray
    examples: np.ndarray


def softmax_sharpness(softmax: Softmax, d_ks: Sequence[int], n_keys: int = 16, n_queries: int = 256,
                      n_examples: int = 8, seed: int = 0) -> SharpnessTable:
    """Draw q (n_queries, d_k) and k (n_keys, d_k) with unit-variance entries for each d_k, and softmax
    ``q k^T`` and ``q k^T / sqrt(d_k)`` row by row with ``softmax(scores)`` (the student's or the reference).

    One generator of ``seed`` draws the widths in order, so the table is the same every time.
    """
    rng = np.random.default_rng(seed)
    max_weight, grad_norm, score_std, examples = [], [], [], []
    for d_k in d_ks:
        q = rng.standard_normal((n_queries, int(d_k)))
        k = rng.standard_normal((n_keys, int(d_k)))
        scores = q @ k.T  # (n_queries, n_keys): each a sum of d_k products of unit variance
        weights = [np.asarray(softmax(s), dtype=np.float64) for s in (scores, scores / math.sqrt(d_k))]
        max_weight.append([w.max(axis=-1).mean() for w in weights])
        grad_norm.append([np.median(softmax_jacobian_norm(w)) for w in weights])
        score_std.append(scores.std())
        examples.append(np.stack([w[:n_examples] for w in weights], axis=1))  # (E, 2, K)
    return SharpnessTable(np.asarray(d_ks, dtype=np.int64), np.array(max_weight), np.array(grad_norm),
                          np.array(score_std), np.array(examples))


def attention_maps(model: object, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every attention map of ``model`` on ``tokens`` (N, T), and its predictions, as NumPy arrays.

    ``model(tokens, return_attention=True)`` must return (logits (N, T, V),
    maps (L, N, h, T, T)), as the notebook's TinyTransformer does. It runs once,
    in eval mode without gradients, on the model's device; the model's mode is
    put back. Returns maps (L, N, h, T, T) float64 and predictions (N, T) int64.
    """
    import torch

    param = next(model.parameters(), None)  # type: ignore[attr-defined]
    device = param.device if param is not None else torch.device("cpu")
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.long, device=device)
    if x.ndim != 2:
        raise ValueError(f"tokens must have shape (N, T), got {tuple(x.shape)}")
    was_training = model.training  # type: ignore[attr-defined]
    model.eval()  # type: ignore[attr-defined]
    try:
        with torch.no_grad():
            logits, maps = model(x, return_attention=True)  # type: ignore[operator]
    finally:
        model.train(was_training)  # type: ignore[attr-defined]
    maps = maps.detach().double().cpu().numpy()
    if maps.ndim != 5 or maps.shape[1] != x.shape[0] or maps.shape[-2:] != (x.shape[1],) * 2:
        raise ValueError(f"the model's attention maps must have shape (L, N, h, T, T) = (L, {x.shape[0]}, h, "
                         f"{x.shape[1]}, {x.shape[1]}), got {maps.shape}")
    return maps, logits.argmax(dim=-1).cpu().numpy().astype(np.int64)


def mirror_mass(maps: np.ndarray) -> np.ndarray:
    """The attention weight each query t puts on key T-1-t, averaged over queries and examples.

    maps: (L, N, h, T, T). Returns (L, h): 1 for a head that reads exactly the
    mirrored position (what reversing a sequence needs), about 1/T for a uniform one.
    """
    maps = np.asarray(maps, dtype=np.float64)
    T = maps.shape[-1]
    t = np.arange(T)
    return maps[..., t, T - 1 - t].mean(axis=(1, 3))


def attention_macs(n: int, d: int) -> int:
    """Multiply-adds of one self-attention over n tokens of width d, after the projections:
    q k^T (n x n scores of d products each) and the weighted sum of the values (n x d outputs of n products)."""
    return 2 * n * n * d


def recurrent_macs(n: int, d: int) -> int:
    """Multiply-adds of a recurrent layer of width d over n steps: x_t W_x and h_{t-1} W_h, d x d each, per step."""
    return 2 * n * d * d


def time_attention_and_recurrence(ns: Sequence[int], d: int = 64, repeats: int = 9,
                                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The best time, in seconds, of self-attention and of a tanh recurrent layer over n tokens of width d.

    Both in NumPy on one BLAS thread (so both are timed the same way): attention is
    softmax(x x^T / sqrt(d)) x, the recurrent layer h_t = tanh(x_t W_x + h_{t-1} W_h),
    one step after the other. The lengths are measured in turn, ``repeats``
    rounds, keeping each one's fastest run: a burst of load from other programs
    then slows one round of every length instead of all runs of one length.
    Returns (attention times, recurrent times), each of shape (len(ns),).
    """
    from dlcourse.widgets.blas import one_blas_thread

    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((int(n), d)) for n in ns]
    Wx, Wh = rng.standard_normal((2, d, d)) / math.sqrt(d)

    def attention(x: np.ndarray) -> np.ndarray:
        s = x @ x.T / math.sqrt(d)  # (n, n): the O(n^2 d) part
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)) @ x

    def recurrence(x: np.ndarray) -> np.ndarray:
        h, out = np.zeros(d), np.empty_like(x)
        inputs = x @ Wx
        for t in range(len(x)):  # n steps that cannot run in parallel, O(d^2) each
            h = np.tanh(inputs[t] + h @ Wh)
            out[t] = h
        return out

    best = np.full((2, len(xs)), np.inf)
    with one_blas_thread():
        for _ in range(repeats):
            for i, x in enumerate(xs):
                for j, layer in enumerate((attention, recurrence)):
                    start = time.perf_counter()
                    layer(x)
                    best[j, i] = min(best[j, i], time.perf_counter() - start)
    return best[0], best[1]
