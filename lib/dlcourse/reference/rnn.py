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
the lecture's "highway for the gradient".

The PyTorch counterparts (``RNN``, ``LSTMCell``, ``LSTM``), the translation from and to torch.nn's
gate order i, f, g, o (``lstm_weights_from_torch``, ``lstm_weights_to_torch``) and
``set_forget_bias`` live in :mod:`dlcourse.reference.rnn_modules`; the contract names them here, so
they are imported into this module.

Every backward pass returns new arrays and never writes into its arguments (the lecture's code does
``dnext_c += ...`` in place; here the sum is a new array). Bad input raises a ``ValueError`` that
names the argument and the shape it should have.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from dlcourse.reference.rnn_modules import (
    LSTM,
    RNN,
    LSTMCell,
    lstm_weights_from_torch,
    lstm_weights_to_torch,
    set_forget_bias,
)

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

