"""Recurrent networks: the vanilla RNN and the LSTM as NumPy forward/backward pairs, gradient clipping,
and the same cells as PyTorch modules (I2DL lecture 11, "Recurrent Neural Networks"; TUM ML "Deep
Learning 2", vanishing and exploding gradients).

Shapes use N (batch), T (time steps), D (input features) and H (hidden units).

Vanilla RNN. One step mixes the current input with the previous hidden state, always with the same
weights (the lecture's "same parameters for each time step"):

    h_t = tanh(x_t Wx + h_{t-1} Wh + b),   Wx (D, H), Wh (H, H), b (H,)

Backpropagation through time. Unrolled over T steps the RNN is a deep feed-forward net whose layers
share Wx, Wh and b. Walking the steps backwards, each shared parameter collects one gradient per step
and they are added ("add the derivatives at different times for each weight"), and the gradient of
h_t has two sources that are added as well: the loss at step t (dh[:, t]) and the next step, through
h_{t+1} = tanh(x_{t+1} Wx + h_t Wh + b).

Why long sequences are hard. Each step back multiplies the hidden-state gradient by Wh^T (and by
tanh' <= 1): over k steps by (Wh^T)^k. With Wh = Q Λ Q^T that is Q Λ^k Q^T, so components along
eigenvalues of modulus < 1 shrink geometrically (vanishing gradient) and those of modulus > 1 grow
geometrically (exploding gradient). TUM ML DL2 makes the same point with W^t = V diag(D)^t V^-1.
Exploding gradients are tamed by clipping (:func:`clip_grad_norm`); vanishing ones by the LSTM.

LSTM (Hochreiter & Schmidhuber 1997, as in the lecture's code slides). The four pre-activations are
computed in one product and stacked in the order i, f, o, g (input, forget, output, candidate):

    a = x_t Wx + h_{t-1} Wh + b,           Wx (D, 4H), Wh (H, 4H), b (4H,)
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
    c_t = f * c_{t-1} + i * g,             h_t = o * tanh(c_t)

Along the cell path c_{t-1} -> c_t the gradient is multiplied by the gate f, not by a weight matrix:
the lecture's "highway for the gradient". PyTorch stacks its gates as i, f, g, o, and keeps two
biases (b_ih + b_hh); :func:`lstm_weights_from_torch` and :func:`lstm_weights_to_torch` translate.

Every backward pass returns new arrays and never writes into its arguments (the lecture's code does
``dnext_c += ...`` in place; here the sum is a new array). Bad input raises a ``ValueError`` that
names the argument and the shape it should have.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "CLIP_EPS", "LSTM", "RNN", "LSTMCell", "clip_grad_norm", "lstm_backward", "lstm_forward",
    "lstm_step_backward", "lstm_step_forward", "lstm_weights_from_torch", "lstm_weights_to_torch",
    "rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward", "set_forget_bias",
]

# clip_grad_norm divides by (total_norm + CLIP_EPS), like torch.nn.utils.clip_grad_norm_: the clipped
# norm then stays strictly below max_norm despite rounding, and a zero gradient divides by no zero.
CLIP_EPS = 1e-6


# ---- validation helpers


def _array(a: object, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None


def _check_state(h: np.ndarray, name: str, N: int) -> int:
    """h must be (N, H) with the batch size of x; returns H."""
    if h.ndim != 2 or h.shape[0] != N:
        raise ValueError(f"{name} must have shape (N, H) with N = {N} rows like x, got {h.shape}")
    if h.shape[1] == 0:
        raise ValueError(f"{name} has H = 0 hidden units; H must be at least 1")
    return h.shape[1]


def _check_weights(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, D: int, H: int, gates: int,
                   where: str) -> None:
    """Wx (D, gates*H), Wh (H, gates*H), b (gates*H,); ``where`` says which arrays fixed D and H."""
    G = gates * H
    cols = "H" if gates == 1 else f"{gates}H"
    gates_hint = " (an LSTM stacks its four gates i, f, o, g side by side: 4H columns)"
    if Wx.shape != (D, G):
        hint = ""
        if Wx.shape == (G, D):
            hint = f" (is Wx transposed? torch's weight_ih is ({cols}, D) = Wx.T)"
        elif gates > 1 and Wx.shape == (D, H):
            hint = gates_hint
        raise ValueError(f"Wx must have shape (D, {cols}) = ({D}, {G}) {where}, got {Wx.shape}{hint}")
    if Wh.shape != (H, G):
        hint = ""
        if gates > 1 and Wh.shape == (G, H):
            hint = f" (is Wh transposed? torch's weight_hh is ({cols}, H) = Wh.T)"
        elif gates > 1 and Wh.shape == (H, H):
            hint = gates_hint
        raise ValueError(f"Wh must have shape (H, {cols}) = ({H}, {G}) {where}, got {Wh.shape}{hint}")
    if b.shape != (G,):
        hint = " (a 1-D vector, not a row)" if b.shape == (1, G) else ""
        raise ValueError(f"b must have shape ({cols},) = ({G},), got {b.shape}{hint}")


def _step_inputs(x: object, prev_h: object, Wx: object, Wh: object, b: object, gates: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, prev_h = _array(x, "x"), _array(prev_h, "prev_h")
    Wx, Wh, b = _array(Wx, "Wx"), _array(Wh, "Wh"), _array(b, "b")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), one row per example at this time step, got {x.shape}")
    N, D = x.shape
    H = _check_state(prev_h, "prev_h", N)
    _check_weights(Wx, Wh, b, D, H, gates, "(D from x, H from prev_h)")
    return x, prev_h, Wx, Wh, b


def _sequence_inputs(x: object, h0: object, Wx: object, Wh: object, b: object, gates: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, h0 = _array(x, "x"), _array(h0, "h0")
    Wx, Wh, b = _array(Wx, "Wx"), _array(Wh, "Wh"), _array(b, "b")
    if x.ndim != 3:
        raise ValueError(
            f"x must have shape (N, T, D): N sequences of T steps with D features each, got {x.shape}"
        )
    N, T, D = x.shape
    if T == 0:
        raise ValueError(f"x has T = 0 time steps (shape {x.shape}); a sequence needs at least one")
    H = _check_state(h0, "h0", N)
    _check_weights(Wx, Wh, b, D, H, gates, "(D from x, H from h0)")
    return x, h0, Wx, Wh, b


def _check_grad(g: object, shape: tuple[int, ...], name: str, of: str, fn: str) -> np.ndarray:
    g = _array(g, name)
    if g.shape != shape:
        raise ValueError(f"{fn}: {name} has shape {g.shape}, but {of} had shape {shape} in the forward pass")
    return g


def _unpack(cache: object, n: int, forward: str) -> tuple:
    if not isinstance(cache, tuple) or len(cache) != n:
        raise ValueError(
            f"cache must be the tuple of {n} items that {forward} returned, got a {type(cache).__name__}"
        )
    return cache


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-|z|) <= 1 never overflows: 1 / (1 + e) for z >= 0 and the equal e / (1 + e) for z < 0
    # (the same trick as layers.sigmoid_forward).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# ---- vanilla RNN


def rnn_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """One step of a tanh RNN, ``next_h = tanh(x Wx + prev_h Wh + b)`` (I2DL lecture 11).

    Inputs:
    - x: (N, D) inputs of this time step
    - prev_h: (N, H) previous hidden state
    - Wx: (D, H) input-to-hidden weights
    - Wh: (H, H) hidden-to-hidden weights
    - b: (H,) biases

    Returns a tuple of:
    - next_h: (N, H)
    - cache: (x, prev_h, Wx, Wh, next_h) for rnn_step_backward
    """
    x, prev_h, Wx, Wh, b = _step_inputs(x, prev_h, Wx, Wh, b, gates=1)
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(
    dnext_h: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one RNN step.

    Inputs:
    - dnext_h: (N, H) gradient of the loss with respect to next_h
    - cache: from rnn_step_forward

    Returns a tuple of:
    - dx: (N, D)
    - dprev_h: (N, H)
    - dWx: (D, H)
    - dWh: (H, H)
    - db: (H,)
    """
    x, prev_h, Wx, Wh, next_h = _unpack(cache, 5, "rnn_step_forward")
    dnext_h = _check_grad(dnext_h, next_h.shape, "dnext_h", "next_h", "rnn_step_backward")
    # tanh'(a) = 1 - tanh(a)^2, read off the saved output instead of recomputing tanh.
    da = dnext_h * (1.0 - next_h * next_h)
    # The affine part a = x Wx + prev_h Wh + b, differentiated as in affine_backward.
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """A tanh RNN over whole sequences: rnn_step_forward applied T times with the same weights.

    Inputs:
    - x: (N, T, D) N sequences of T steps
    - h0: (N, H) initial hidden state
    - Wx: (D, H), Wh: (H, H), b: (H,)

    Returns a tuple of:
    - h: (N, T, H) the hidden state after every step (h[:, t] is h_{t+1} if h0 is h_0)
    - cache: (x, h0, Wx, Wh, h) for rnn_backward
    """
    x, h0, Wx, Wh, b = _sequence_inputs(x, h0, Wx, Wh, b, gates=1)
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    prev_h = h0
    for t in range(T):
        prev_h = np.tanh(x[:, t] @ Wx + prev_h @ Wh + b)
        h[:, t] = prev_h
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(
    dh: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for rnn_forward (I2DL lecture 11, "Backprop through an RNN").

    Inputs:
    - dh: (N, T, H) upstream gradient of every hidden state (zeros where a step feeds no loss)
    - cache: from rnn_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, H), dWh: (H, H), db: (H,), each summed over the T steps
    """
    x, h0, Wx, Wh, h = _unpack(cache, 5, "rnn_forward")
    N, T, D = x.shape
    H = h0.shape[1]
    dh = _check_grad(dh, (N, T, H), "dh", "the hidden states h (N, T, H)", "rnn_backward")
    dx = np.empty((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))  # nothing comes back from after the last step
    for t in reversed(range(T)):
        prev_h = h0 if t == 0 else h[:, t - 1]
        # h_t reaches the loss directly (dh[:, t]) and through h_{t+1} (dprev_h of the later step).
        dnext_h = dh[:, t] + dprev_h
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dnext_h, (x[:, t], prev_h, Wx, Wh, h[:, t]))
        # Shared weights: one contribution per step, added up.
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# ---- LSTM


def _lstm_step(x: np.ndarray, prev_h: np.ndarray, prev_c: np.ndarray, Wx: np.ndarray, Wh: np.ndarray,
               b: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H): the four pre-activations from one product
    i = _sigmoid(a[:, :H])  # input gate: how much of the candidate to write
    f = _sigmoid(a[:, H:2 * H])  # forget gate: how much of the old cell to keep
    o = _sigmoid(a[:, 2 * H:3 * H])  # output gate: how much of the cell to show
    g = np.tanh(a[:, 3 * H:])  # candidate values, in (-1, 1)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_forward(
    x: np.ndarray, prev_h: np.ndarray, prev_c: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """One LSTM step, gates stacked in the order i, f, o, g (I2DL lecture 11, "LSTM in code").

    Inputs:
    - x: (N, D) inputs of this time step
    - prev_h: (N, H) previous hidden state
    - prev_c: (N, H) previous cell state
    - Wx: (D, 4H) input-to-hidden weights, columns [i | f | o | g]
    - Wh: (H, 4H) hidden-to-hidden weights, same column order
    - b: (4H,) biases, same order

    Returns a tuple of:
    - next_h: (N, H) = o * tanh(next_c)
    - next_c: (N, H) = f * prev_c + i * g
    - cache: (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh(next_c)) for lstm_step_backward
    """
    x, prev_h, Wx, Wh, b = _step_inputs(x, prev_h, Wx, Wh, b, gates=4)
    prev_c = _array(prev_c, "prev_c")
    if prev_c.shape != prev_h.shape:
        raise ValueError(f"prev_c must have the shape of prev_h, (N, H) = {prev_h.shape}, got {prev_c.shape}")
    return _lstm_step(x, prev_h, prev_c, Wx, Wh, b)


def lstm_step_backward(
    dnext_h: np.ndarray, dnext_c: np.ndarray, cache: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one LSTM step.

    Inputs:
    - dnext_h: (N, H) gradient with respect to next_h
    - dnext_c: (N, H) gradient with respect to next_c (from the step after; zeros at the last one)
    - cache: from lstm_step_forward

    Returns a tuple of:
    - dx: (N, D)
    - dprev_h: (N, H)
    - dprev_c: (N, H)
    - dWx: (D, 4H), dWh: (H, 4H), db: (4H,), gate columns in the order i, f, o, g
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = _unpack(cache, 10, "lstm_step_forward")
    shape = prev_h.shape
    dnext_h = _check_grad(dnext_h, shape, "dnext_h", "next_h", "lstm_step_backward")
    dnext_c = _check_grad(dnext_c, shape, "dnext_c", "next_c", "lstm_step_backward")
    # next_h = o * tanh(next_c)
    do = dnext_h * tanh_c
    # next_c reaches the loss directly (dnext_c) and through next_h. The lecture's code adds the second
    # part into dnext_c in place; a new array leaves the caller's dnext_c as it was.
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c * tanh_c)
    # next_c = f * prev_c + i * g
    di, df, dg, dprev_c = dc * g, dc * prev_c, dc * i, dc * f
    # Through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - t^2, stacked back as i, f, o, g.
    da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), do * o * (1.0 - o), dg * (1.0 - g * g)], axis=1)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """An LSTM over whole sequences, starting from h0 and a zero cell state c0 = 0.

    Inputs:
    - x: (N, T, D) N sequences of T steps
    - h0: (N, H) initial hidden state
    - Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gates in the order i, f, o, g

    Returns a tuple of:
    - h: (N, T, H) the hidden state after every step
    - cache: (x, h0, step_caches) for lstm_backward, one lstm_step_forward cache per step
    """
    x, h0, Wx, Wh, b = _sequence_inputs(x, h0, Wx, Wh, b, gates=4)
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    prev_h, prev_c = h0, np.zeros_like(h0)
    steps = []
    for t in range(T):
        prev_h, prev_c, step = _lstm_step(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step)
    return h, (x, h0, tuple(steps))


def lstm_backward(
    dh: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for lstm_forward.

    Inputs:
    - dh: (N, T, H) upstream gradient of every hidden state
    - cache: from lstm_forward

    Returns a tuple of:
    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, 4H), dWh: (H, 4H), db: (4H,), each summed over the T steps
    (c0 is the constant 0, so no gradient is returned for it.)
    """
    x, h0, steps = _unpack(cache, 3, "lstm_forward")
    N, T, D = x.shape
    H = h0.shape[1]
    dh = _check_grad(dh, (N, T, H), "dh", "the hidden states h (N, T, H)", "lstm_backward")
    dx = np.empty((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        # Both states carry gradient back: h_t also feeds the loss at step t, c_t only the next step.
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# ---- gradient clipping


def clip_grad_norm(
    grads: Sequence[np.ndarray] | Mapping[str, np.ndarray], max_norm: float
) -> tuple[list[np.ndarray] | tuple[np.ndarray, ...] | dict[str, np.ndarray], float]:
    """Clip gradients by their global norm (I2DL lecture 11, "Gradient clipping"; Pascanu et al. 2013).

    All arrays are treated as one long vector g. Its L2 norm ``||g||`` is computed over every entry
    of every array; if it exceeds max_norm, every array is multiplied by the same factor
    ``max_norm / (||g|| + CLIP_EPS)``, so the direction of g is kept and only its length shrinks.
    This is the formula of ``torch.nn.utils.clip_grad_norm_`` (which clips in place; this returns
    new arrays and never changes its arguments).

    Inputs:
    - grads: a list or tuple of arrays (any shapes), or a dict name -> array
    - max_norm: the largest global norm allowed, a positive number

    Returns a tuple of:
    - clipped: new arrays in a container of the same kind (list, tuple or dict with the same keys)
    - total_norm: the global norm before clipping, a float

    A gradient holding NaN or inf raises ValueError: no rescaling repairs it (lower the learning rate).
    """
    if isinstance(grads, Mapping):
        names, values = [f"grads[{k!r}]" for k in grads], list(grads.values())
    elif isinstance(grads, (list, tuple)):
        names, values = [f"grads[{i}]" for i in range(len(grads))], list(grads)
    else:
        raise ValueError(
            f"grads must be a list, tuple or dict of arrays, got {type(grads).__name__}; for one array pass [dW]"
        )
    if (isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real)
            or not math.isfinite(max_norm) or max_norm <= 0):
        raise ValueError(f"max_norm must be a positive finite number, got {max_norm!r}")
    arrays = [_array(v, n) for v, n in zip(values, names, strict=True)]
    for a, n in zip(arrays, names, strict=True):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{n} holds NaN or inf: clipping cannot repair it (lower the learning rate)")
    # Divide by the largest entry before squaring, so gradients of 1e200 do not overflow to inf.
    biggest = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    total_norm = 0.0
    if biggest > 0:
        total_norm = biggest * math.sqrt(sum(float(np.sum(np.square(a / biggest))) for a in arrays))
    coef = min(1.0, max_norm / (total_norm + CLIP_EPS))
    clipped = [a * coef for a in arrays]  # coef = 1 leaves the values exactly as they were (in copies)
    if isinstance(grads, Mapping):
        return dict(zip(grads, clipped, strict=True)), total_norm
    return (tuple(clipped) if isinstance(grads, tuple) else clipped), total_norm


# ---- PyTorch modules, written by hand with our layout (Wx (D, gates*H), gates i, f, o, g)


def _check_size(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _check_tensor(x: object, name: str, dims: str, shape: tuple[int | None, ...]) -> torch.Tensor:
    """x must be a tensor whose shape matches ``shape`` (None = any size); ``dims`` names the axes."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {dims}, got {type(x).__name__}")
    if x.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape, strict=True)):
        want = ", ".join("?" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must have shape {dims} = ({want}), got {tuple(x.shape)}")
    return x


def _uniform_init(module: nn.Module, hidden_size: int, generator: torch.Generator | None) -> None:
    # torch.nn.RNN / LSTM's default: every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)].
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound, generator=generator)


class RNN(nn.Module):
    """A single-layer tanh RNN over batch-first sequences, like ``torch.nn.RNN(D, H, batch_first=True)``.

    Parameters in the layout of :func:`rnn_forward`: ``Wx`` (D, H), ``Wh`` (H, H) and one bias ``b``
    (H,). torch.nn.RNN holds ``weight_ih_l0 = Wx.T``, ``weight_hh_l0 = Wh.T`` and two biases whose
    sum is ``b``. Initialised like torch (uniform in +-1/sqrt(H)), from ``generator`` when one is given.

    ``forward(x, h0=None)``: x (N, T, D), h0 (N, H) or None for zeros. Returns ``(h, h_last)``:
    h (N, T, H), every hidden state, and h_last (N, H) = h[:, -1]. (torch returns h_n as (1, N, H).)
    """

    def __init__(self, input_size: int, hidden_size: int, *, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.input_size = _check_size(input_size, "input_size")
        self.hidden_size = _check_size(hidden_size, "hidden_size")
        D, H = self.input_size, self.hidden_size
        self.Wx = nn.Parameter(torch.empty(D, H, device=device, dtype=dtype))
        self.Wh = nn.Parameter(torch.empty(H, H, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.empty(H, device=device, dtype=dtype))
        _uniform_init(self, H, generator)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_tensor(x, "x", "(N, T, D)", (None, None, self.input_size))
        N, T, _ = x.shape  # batch, time, input features
        if T == 0:
            raise ValueError("x has T = 0 time steps; a sequence needs at least one")
        h = x.new_zeros(N, self.hidden_size) if h0 is None else _check_tensor(h0, "h0", "(N, H)", (N, self.hidden_size))
        xw = x @ self.Wx + self.b  # (N, T, H): the input's share of every step in one product
        hs = []
        for t in range(T):
            h = torch.tanh(xw[:, t] + h @ self.Wh)  # (N, H)
            hs.append(h)
        return torch.stack(hs, dim=1), h


class LSTMCell(nn.Module):
    """One LSTM step, like ``torch.nn.LSTMCell`` but with our layout and gate order i, f, o, g.

    Parameters: ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,), as in :func:`lstm_step_forward`.
    Initialised uniform in +-1/sqrt(H) like torch, except the forget gate's bias, which is set to
    ``forget_bias`` (default 1.0; None keeps the uniform values). A forget bias of 1 starts the cell
    close to "keep everything" (f = sigmoid(1) ~ 0.73 instead of ~0.5), so gradients survive long
    delays from the first step on (Gers et al. 2000; Jozefowicz et al. 2015).

    ``forward(x, hx=None)``: x (N, D), hx = (h, c) with both (N, H), or None for zeros.
    Returns ``(next_h, next_c)``, both (N, H), like torch.nn.LSTMCell.
    """

    def __init__(self, input_size: int, hidden_size: int, *, forget_bias: float | None = 1.0,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.input_size = _check_size(input_size, "input_size")
        self.hidden_size = _check_size(hidden_size, "hidden_size")
        D, H = self.input_size, self.hidden_size
        self.Wx = nn.Parameter(torch.empty(D, 4 * H, device=device, dtype=dtype))
        self.Wh = nn.Parameter(torch.empty(H, 4 * H, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.empty(4 * H, device=device, dtype=dtype))
        _uniform_init(self, H, generator)
        if forget_bias is not None:
            set_forget_bias(self, forget_bias)

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_tensor(x, "x", "(N, D)", (None, self.input_size))
        N, H = x.shape[0], self.hidden_size
        if hx is None:
            h = c = x.new_zeros(N, H)
        else:
            h = _check_tensor(hx[0], "hx[0] (h)", "(N, H)", (N, H))
            c = _check_tensor(hx[1], "hx[1] (c)", "(N, H)", (N, H))
        a = x @ self.Wx + h @ self.Wh + self.b  # (N, 4H)
        a_i, a_f, a_o, a_g = a.chunk(4, dim=1)  # OUR order i, f, o, g (torch's is i, f, g, o)
        i, f, o, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o), torch.tanh(a_g)
        c = f * c + i * g
        return o * torch.tanh(c), c


class LSTM(nn.Module):
    """A single-layer LSTM over batch-first sequences, like ``torch.nn.LSTM(D, H, batch_first=True)``,
    made of one :class:`LSTMCell` (gate order i, f, o, g; ``forget_bias`` as there) applied at every step.

    ``forward(x, hx=None)``: x (N, T, D), hx = (h0, c0) with both (N, H), or None for zeros.
    Returns ``(h, (h_last, c_last))``: h (N, T, H) and the final states, both (N, H).
    (torch returns the final states as (1, N, H).)
    """

    def __init__(self, input_size: int, hidden_size: int, *, forget_bias: float | None = 1.0,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.cell = LSTMCell(input_size, hidden_size, forget_bias=forget_bias, generator=generator,
                             device=device, dtype=dtype)
        self.input_size, self.hidden_size = self.cell.input_size, self.cell.hidden_size

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        x = _check_tensor(x, "x", "(N, T, D)", (None, None, self.input_size))
        T = x.shape[1]  # x: (N, T, D), batch, time, input features
        if T == 0:
            raise ValueError("x has T = 0 time steps; a sequence needs at least one")
        state = hx
        hs = []
        for t in range(T):
            state = self.cell(x[:, t], state)  # (h, c), each (N, H)
            hs.append(state[0])
        return torch.stack(hs, dim=1), state


# ---- translating between torch.nn's LSTM parameters and ours


def _gate_order_swap(H: int) -> np.ndarray:
    """Row indices that turn blocks [i, f, g, o] (torch) into [i, f, o, g] (ours); the same swap
    of the last two blocks also turns ours back into torch's."""
    return np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]


def _torch_lstm_parameters(module: object, fn: str) -> tuple[torch.Tensor, ...]:
    """(weight_ih (4H, D), weight_hh (4H, H), bias_ih or None, bias_hh or None) of a torch LSTM."""
    if isinstance(module, nn.LSTMCell):
        return module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh
    if isinstance(module, nn.LSTM):
        if module.num_layers != 1 or module.bidirectional or module.proj_size:
            raise ValueError(
                f"{fn}: module must be a single-layer, one-direction torch.nn.LSTM without proj_size, got "
                f"num_layers={module.num_layers}, bidirectional={module.bidirectional}, proj_size={module.proj_size}"
            )
        return (module.weight_ih_l0, module.weight_hh_l0,
                getattr(module, "bias_ih_l0", None), getattr(module, "bias_hh_l0", None))
    raise ValueError(
        f"{fn}: module must be a torch.nn.LSTMCell or a single-layer torch.nn.LSTM, got {type(module).__name__}"
    )


def lstm_weights_from_torch(module: nn.LSTMCell | nn.LSTM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights of a ``torch.nn.LSTMCell`` (or single-layer ``torch.nn.LSTM``) in our layout.

    torch keeps ``weight_ih`` (4H, D) and ``weight_hh`` (4H, H) with gate blocks in the order i, f, g, o,
    and two biases that are always added. Ours: ``Wx`` (D, 4H) and ``Wh`` (H, 4H), columns i, f, o, g,
    and ``b = bias_ih + bias_hh`` (4H,) in that order (zeros when the module has no bias).

    Returns (Wx, Wh, b) as new float64 NumPy arrays; the module is not changed.
    """
    w_ih, w_hh, b_ih, b_hh = _torch_lstm_parameters(module, "lstm_weights_from_torch")
    H = w_hh.shape[1]
    swap = _gate_order_swap(H)

    def ours(t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", torch.float64).numpy()[swap]  # fancy indexing copies

    b = np.zeros(4 * H) if b_ih is None else ours(b_ih) + ours(b_hh)
    return np.ascontiguousarray(ours(w_ih).T), np.ascontiguousarray(ours(w_hh).T), b


def lstm_weights_to_torch(
    Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, into: nn.LSTMCell | nn.LSTM | None = None
) -> nn.LSTMCell | nn.LSTM:
    """Our LSTM weights (Wx (D, 4H), Wh (H, 4H), b (4H,), gates i, f, o, g) as torch.nn parameters.

    Without ``into``: a new float64 ``torch.nn.LSTMCell(D, H)``. With ``into`` (a torch.nn.LSTMCell or
    single-layer torch.nn.LSTM of the same sizes): its parameters are overwritten, in its own dtype and
    device, and it is returned. ``bias_ih`` receives b (reordered) and ``bias_hh`` zeros, so their sum
    is b. Wx, Wh and b are not changed.
    """
    Wx, Wh, b = _array(Wx, "Wx"), _array(Wh, "Wh"), _array(b, "b")
    if Wh.ndim != 2 or Wh.shape[1] != 4 * Wh.shape[0] or Wh.shape[0] == 0:
        raise ValueError(f"Wh must have shape (H, 4H), the four gates i, f, o, g side by side, got {Wh.shape}")
    H = Wh.shape[0]
    if Wx.ndim != 2 or Wx.shape[1] != 4 * H:
        hint = ""
        if Wx.ndim == 2 and Wx.shape[0] == 4 * H:
            hint = " (is Wx transposed? torch's weight_ih is (4H, D) = Wx.T; pass ours, lstm_weights_from_torch's)"
        raise ValueError(f"Wx must have shape (D, 4H) = (D, {4 * H}) (H from Wh), got {Wx.shape}{hint}")
    D = Wx.shape[0]
    _check_weights(Wx, Wh, b, D, H, 4, "(D from Wx, H from Wh)")
    if into is None:
        # skip_init: no random initial values (which would draw from torch's global generator).
        into = nn.utils.skip_init(nn.LSTMCell, D, H, dtype=torch.float64)
    w_ih, w_hh, b_ih, b_hh = _torch_lstm_parameters(into, "lstm_weights_to_torch")
    if (into.input_size, into.hidden_size) != (D, H):
        raise ValueError(
            f"into has input_size={into.input_size}, hidden_size={into.hidden_size}, but Wx, Wh are for D={D}, H={H}"
        )
    if b_ih is None and np.any(b != 0):
        raise ValueError("into was built with bias=False, but b is not zero")
    swap = _gate_order_swap(H)
    with torch.no_grad():
        w_ih.copy_(torch.from_numpy(Wx.T[swap]))
        w_hh.copy_(torch.from_numpy(Wh.T[swap]))
        if b_ih is not None:
            b_ih.copy_(torch.from_numpy(b[swap]))
            b_hh.zero_()
    return into


def set_forget_bias(module: nn.Module, value: float) -> nn.Module:
    """Set the forget gate's bias of an LSTM to ``value`` (often 1.0, see :class:`LSTMCell`), in place.

    Works on our :class:`LSTMCell` and :class:`LSTM` (b[H:2H]) and on torch.nn.LSTMCell and
    torch.nn.LSTM (every layer and direction): the forget gate is the second block in both gate
    orders; torch's ``bias_ih`` gets ``value`` there and ``bias_hh`` 0, so their sum is ``value``.
    Returns the module.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    cell = module.cell if isinstance(module, LSTM) else module
    if isinstance(cell, LSTMCell):
        pairs = [(cell.b, None)]
    elif isinstance(module, nn.LSTMCell):
        pairs = [(module.bias_ih, module.bias_hh)]
    elif isinstance(module, nn.LSTM):
        suffixes = [s[len("bias_ih"):] for s, _ in module.named_parameters() if s.startswith("bias_ih")]
        pairs = [(getattr(module, "bias_ih" + s), getattr(module, "bias_hh" + s)) for s in suffixes]
    else:
        raise ValueError(f"module must be an LSTM or LSTMCell (ours or torch.nn's), got {type(module).__name__}")
    if not pairs or pairs[0][0] is None:
        raise ValueError("module has no bias (bias=False): there is no forget bias to set")
    H = cell.hidden_size
    with torch.no_grad():
        for b_ih, b_hh in pairs:
            b_ih[H:2 * H] = value
            if b_hh is not None:
                b_hh[H:2 * H] = 0.0
    return module
