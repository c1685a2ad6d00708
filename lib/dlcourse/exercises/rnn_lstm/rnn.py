"""Notebook 07's vanilla-RNN exercises: one step and whole sequences, forward and backward, and gradient
clipping by the global norm.

Test-cell wrappers (the notebook defines the same):

* ``rnn_step_forward(x, prev_h, Wx, Wh, b)[0]``;
* ``rnn_step_backward(dnext_h, cache)`` called as ``(x, prev_h, Wx, Wh, b, dnext_h)``;
* ``rnn_forward(x, h0, Wx, Wh, b)[0]``;
* ``rnn_backward(dh, cache)`` called as ``(x, h0, Wx, Wh, b, dh)``;
* ``clip_grad_norm(grads, max_norm)`` returned flat as ``(*clipped, total_norm)``, grads a list of three
  arrays (the RNN's dWx, dWh, db).
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

# -- cases ---------------------------------------------------------------------------------------


def sizes(rng: np.random.Generator, N: int | None = None) -> tuple[int, int, int]:
    """(N, D, H) with H != D, so that Wx and Wh.T, or x and h, cannot stand in for each other."""
    D = int(rng.integers(2, 6))
    H = int(rng.choice([h for h in range(2, 8) if h != D]))
    return (int(rng.integers(2, 7)) if N is None else N), D, H


def weights(rng: np.random.Generator, D: int, H: int, gates: int = 1,
            scale: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wx (D, G), Wh (H, G), b (G,), G = gates * H."""
    G = gates * H
    return (scale * rng.standard_normal((D, G)), scale * rng.standard_normal((H, G)),
            scale * rng.standard_normal(G))


def _step_cases(rng: np.random.Generator, with_grad: bool) -> list[Case]:
    cases = []
    specs = [(None, 0.5, "random step 1"), (None, 0.5, "random step 2"), (1, 0.5, "a batch of one (N = 1)"),
             (None, 40.0, "huge pre-activations (tanh saturates at +-1; no NaN)")]
    for N_, scale, label in specs:
        N, D, H = sizes(rng, N_)
        args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), *weights(rng, D, H, scale=scale)]
        if with_grad:
            args.append(rng.standard_normal((N, H)))
        cases.append(Case(tuple(args), label=f"{label} (N={N}, D={D}, H={H})"))
    return cases


def _sequence_cases(rng: np.random.Generator, with_grad: bool) -> list[Case]:
    cases = []
    # (N, T, label, gradient only at the last step)
    specs = [(None, int(rng.integers(3, 7)), "random sequences", False),
             (None, int(rng.integers(3, 7)), "a loss on the last hidden state only (dh = 0 before T)", True),
             (1, int(rng.integers(4, 8)), "one sequence (N = 1)", False),
             (None, 1, "sequences of length T = 1", False),
             (1, 1, "one sequence of one step (N = T = 1)", False)]
    for N_, T, label, last_only in specs:
        if not with_grad and last_only:
            continue
        N, D, H = sizes(rng, N_)
        args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), *weights(rng, D, H)]
        if with_grad:
            dh = rng.standard_normal((N, T, H))
            if last_only:
                dh[:, :-1] = 0.0
            args.append(dh)
        cases.append(Case(tuple(args), label=f"{label} (N={N}, T={T}, D={D}, H={H})"))
    return cases


# -- rnn_step_forward ----------------------------------------------------------------------------


def _rnn():
    return module("rnn")


register(Exercise(
    name="rnn_lstm.rnn_step_forward",
    reference=lambda x, prev_h, Wx, Wh, b: _rnn().rnn_step_forward(x, prev_h, Wx, Wh, b)[0],
    cases=lambda rng: _step_cases(rng, with_grad=False),
    names=("next_h",),
    mistakes=(
        Mistake("tanh is missing: next_h = tanh(x Wx + prev_h Wh + b).",
                lambda x, prev_h, Wx, Wh, b: x @ Wx + prev_h @ Wh + b),
        Mistake("Wh is used transposed: with rows as examples, the recurrent term is prev_h @ Wh.",
                lambda x, prev_h, Wx, Wh, b: np.tanh(x @ Wx + prev_h @ Wh.T + b)),
        Mistake("the bias b is missing.", lambda x, prev_h, Wx, Wh, b: np.tanh(x @ Wx + prev_h @ Wh)),
        Mistake("the vanilla RNN uses tanh, not the sigmoid.",
                lambda x, prev_h, Wx, Wh, b: 0.5 * (1 + np.tanh(0.5 * (x @ Wx + prev_h @ Wh + b)))),
    ),
))


# -- rnn_step_backward ---------------------------------------------------------------------------


def _step_backward_ref(x, prev_h, Wx, Wh, b, dnext_h):
    rnn = _rnn()
    return rnn.rnn_step_backward(dnext_h, rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)[1])


def _step_backward_with(local):
    """A backward step whose tanh' is ``local(next_h)`` (and otherwise right)."""
    def wrong(x, prev_h, Wx, Wh, b, dnext_h):
        next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
        da = dnext_h * local(next_h)
        return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)

    return wrong


def _step_backward_wh_untransposed(x, prev_h, Wx, Wh, b, dnext_h):
    dx, _, dWx, dWh, db = _step_backward_ref(x, prev_h, Wx, Wh, b, dnext_h)
    da = dnext_h * (1 - np.tanh(x @ Wx + prev_h @ Wh + b) ** 2)
    return dx, da @ Wh, dWx, dWh, db


def _step_backward_db_mean(x, prev_h, Wx, Wh, b, dnext_h):
    dx, dprev_h, dWx, dWh, db = _step_backward_ref(x, prev_h, Wx, Wh, b, dnext_h)
    return dx, dprev_h, dWx, dWh, db / len(x)


register(Exercise(
    name="rnn_lstm.rnn_step_backward",
    reference=_step_backward_ref,
    cases=lambda rng: _step_cases(rng, with_grad=True),
    names=("dx", "dprev_h", "dWx", "dWh", "db"),
    mistakes=(
        Mistake("tanh's derivative is missing: first da = dnext_h * (1 - next_h**2), then the affine part.",
                _step_backward_with(lambda h: 1.0)),
        Mistake("tanh'(a) = 1 - tanh(a)**2 = 1 - next_h**2: the square is missing.",
                _step_backward_with(lambda h: 1 - h)),
        Mistake("dprev_h = da @ Wh.T (Wh is square, so a missing transpose does not change the shape).",
                _step_backward_wh_untransposed),
        Mistake("db sums da over the batch; it is not the mean.", _step_backward_db_mean),
    ),
))


# -- rnn_forward ---------------------------------------------------------------------------------


def _forward_wrong(carry: bool = True, shift: bool = False, activation=np.tanh):
    def wrong(x, h0, Wx, Wh, b):
        N, T, _ = x.shape
        h, prev = np.empty((N, T, h0.shape[1])), h0
        for t in range(T):
            new = activation(x[:, t] @ Wx + (prev if carry else h0) @ Wh + b)
            h[:, t] = prev if shift else new
            prev = new
        return h

    return wrong


register(Exercise(
    name="rnn_lstm.rnn_forward",
    reference=lambda x, h0, Wx, Wh, b: _rnn().rnn_forward(x, h0, Wx, Wh, b)[0],
    cases=lambda rng: _sequence_cases(rng, with_grad=False),
    names=("h",),
    mistakes=(
        Mistake("every step must start from the PREVIOUS step's hidden state, not from h0 again.",
                _forward_wrong(carry=False)),
        Mistake("h[:, t] is the state AFTER step t (h_1 ... h_T); h0 itself is not part of h.",
                _forward_wrong(shift=True)),
        Mistake("tanh is missing in the step.", _forward_wrong(activation=lambda a: a)),
    ),
))


# -- rnn_backward --------------------------------------------------------------------------------


def _backward_ref(x, h0, Wx, Wh, b, dh):
    rnn = _rnn()
    return rnn.rnn_backward(dh, rnn.rnn_forward(x, h0, Wx, Wh, b)[1])


def _backward_wrong(carry: bool = True, accumulate: bool = True):
    """Backpropagation through time with one known mistake switched on."""
    def wrong(x, h0, Wx, Wh, b, dh):
        h = _rnn().rnn_forward(x, h0, Wx, Wh, b)[0]
        T = x.shape[1]
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dprev = np.zeros_like(h0)
        for t in reversed(range(T)):
            prev = h0 if t == 0 else h[:, t - 1]
            da = (dh[:, t] + (dprev if carry else 0.0)) * (1 - h[:, t] ** 2)
            dx[:, t], dprev = da @ Wx.T, da @ Wh.T
            step = (x[:, t].T @ da, prev.T @ da, da.sum(axis=0))
            if accumulate:
                dWx, dWh, db = dWx + step[0], dWh + step[1], db + step[2]
            else:
                dWx, dWh, db = step
        return dx, dprev, dWx, dWh, db

    return wrong


register(Exercise(
    name="rnn_lstm.rnn_backward",
    reference=_backward_ref,
    cases=lambda rng: _sequence_cases(rng, with_grad=True),
    names=("dx", "dh0", "dWx", "dWh", "db"),
    mistakes=(
        Mistake("the hidden-state gradient is not carried back: step t gets dh[:, t] PLUS the dprev_h that "
                "step t+1 returned.", _backward_wrong(carry=False)),
        Mistake("Wx, Wh and b are shared by every step, so their gradients are ADDED over the steps "
                "(dWh += ...), not overwritten by each step.", _backward_wrong(accumulate=False)),
    ),
))


# -- clip_grad_norm ------------------------------------------------------------------------------


def _clip_ref(grads, max_norm):
    clipped, total = _rnn().clip_grad_norm(list(grads), max_norm)
    return (*clipped, total)


def _grads(rng: np.random.Generator, scale: float) -> list[np.ndarray]:
    _, D, H = sizes(rng)
    return [scale * rng.standard_normal((D, H)), scale * rng.standard_normal((H, H)), scale * rng.standard_normal(H)]


def _clip_cases(rng: np.random.Generator) -> list[Case]:
    # Clipped cases have a global norm of at least 1, where the CLIP_EPS of the reference (torch's 1e-6 in
    # max_norm / (norm + 1e-6)) changes the result by less than the tolerance: the lecture's max_norm / norm passes.
    cases = []
    for k, (scale, fraction) in enumerate([(1.0, 0.5), (1.0, 0.1), (3.0, 0.9)]):
        grads = _grads(rng, scale)
        norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
        cases.append(Case((grads, round(fraction * norm, 4)), label=f"clipped case {k + 1} (norm {norm:.3g})"))
    grads = _grads(rng, 0.3)
    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    cases.append(Case((grads, round(2 * norm + 0.1, 4)), label="a norm below max_norm: nothing changes"))
    cases.append(Case((_grads(rng, 1e6), 5.0), label="an exploded gradient (entries ~1e6), max_norm = 5"))
    cases.append(Case(([np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3)], 1.0), label="all gradients exactly 0"))
    return cases


def _clip_elementwise(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    return (*(np.clip(g, -max_norm, max_norm) for g in grads), total)


def _clip_each(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    return (*(g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-300)) for g in grads), total)


def _clip_always(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))
    with np.errstate(invalid="ignore", divide="ignore"):  # all-zero gradients: 0 / 0, as a student's code would
        return (*(g * max_norm / total for g in grads), total)


register(Exercise(
    name="rnn_lstm.clip_grad_norm",
    reference=_clip_ref,
    cases=_clip_cases,
    names=("clipped dWx", "clipped dWh", "clipped db", "total_norm"),
    rtol=1e-5,
    atol=1e-10,
    mistakes=(
        Mistake("clipping each ENTRY to [-max_norm, max_norm] changes the gradient's direction: rescale the "
                "whole gradient by max_norm / norm instead.", _clip_elementwise),
        Mistake("the norm is the global one, over all arrays together (sqrt of the sum of every squared "
                "entry); every array is scaled by the same factor.", _clip_each),
        Mistake("only clip when the norm EXCEEDS max_norm; smaller gradients stay as they are.", _clip_always),
    ),
))
