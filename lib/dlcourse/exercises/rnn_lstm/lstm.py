"""Notebook 07's LSTM exercises: one step forward and backward (gates stacked i, f, o, g as in the
lecture's code), and the LSTM cell as a PyTorch module.

Test-cell wrappers (the notebook defines the same):

* ``lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[:2]``, i.e. (next_h, next_c);
* ``lstm_step_backward(dnext_h, dnext_c, cache)`` called as ``(x, prev_h, prev_c, Wx, Wh, b, dnext_h,
  dnext_c)``;
* the module ``LSTMCell`` through ``lstm_cell_numpy(x, h, c, Wx, Wh, b, dnext_h, dnext_c)``: it builds
  the student's cell in float64, copies Wx, Wh, b into its parameters, runs it forward, backpropagates
  (dnext_h, dnext_c) with autograd, and returns (next_h, next_c, dx, dh, dc, dWx, dWh, db): the numbers
  of lstm_step_forward and lstm_step_backward.

The known mistakes that change the forward pass are computed by one small autograd helper
(:func:`_mistaken_step`), so their backward passes are exactly what a module or a hand-written
backward pass built on the same mistake would return.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.rnn_lstm.rnn import sizes, weights
from dlcourse.lazy_reference import module

# -- cases ---------------------------------------------------------------------------------------


def _lstm_cases(rng: np.random.Generator, with_grad: bool) -> list[Case]:
    cases = []
    specs = [(None, 0.5, "random step 1"), (None, 0.5, "random step 2"), (1, 0.5, "a batch of one (N = 1)"),
             (None, 30.0, "huge pre-activations (every gate saturates; no NaN)")]
    for N_, scale, label in specs:
        N, D, H = sizes(rng, N_)
        args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), 2 * rng.standard_normal((N, H)),
                *weights(rng, D, H, gates=4, scale=scale)]
        if with_grad:
            args += [rng.standard_normal((N, H)), rng.standard_normal((N, H))]
        cases.append(Case(tuple(args), label=f"{label} (N={N}, D={D}, H={H})"))
    # Zero previous states, as at the first step: a forward pass that mixes up h and c still differs later.
    N, D, H = sizes(rng)
    args = [rng.standard_normal((N, D)), np.zeros((N, H)), np.zeros((N, H)), *weights(rng, D, H, gates=4)]
    if with_grad:
        args += [rng.standard_normal((N, H)), rng.standard_normal((N, H))]
    cases.append(Case(tuple(args), label=f"the first step: prev_h = prev_c = 0 (N={N}, D={D}, H={H})"))
    return cases


# -- the reference and the mistakes --------------------------------------------------------------


def _rnn():
    return module("rnn")


def _forward_ref(x, prev_h, prev_c, Wx, Wh, b):
    return _rnn().lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[:2]


def _backward_ref(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
    rnn = _rnn()
    return rnn.lstm_step_backward(dnext_h, dnext_c, rnn.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)[2])


def _cell_ref(x, h, c, Wx, Wh, b, dnext_h, dnext_c):
    return (*_forward_ref(x, h, c, Wx, Wh, b), *_backward_ref(x, h, c, Wx, Wh, b, dnext_h, dnext_c))


def _mistaken_step(x, prev_h, prev_c, Wx, Wh, b, dnext_h=None, dnext_c=None, *, order="ifog", cell_tanh=True,
                   candidate="tanh"):
    """An LSTM step with one mistake, differentiated by torch's autograd in float64.

    ``order``: the gate order in which the 4H columns are read ("ifgo" is torch's, wrong here);
    ``cell_tanh=False``: next_h = o * next_c; ``candidate="sigmoid"``: g squashed by a sigmoid.
    Returns (next_h, next_c) or, with the upstream gradients, (next_h, next_c, dx, dprev_h, dprev_c,
    dWx, dWh, db).
    """
    import torch  # only where a mistake is diagnosed (the grader's process, a student's notebook)

    ins = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
           for a in (x, prev_h, prev_c, Wx, Wh, b)]
    tx, th, tc, tWx, tWh, tb = ins
    blocks = dict(zip(order, (tx @ tWx + th @ tWh + tb).chunk(4, dim=1), strict=True))
    i, f, o = torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.sigmoid(blocks["o"])
    g = torch.tanh(blocks["g"]) if candidate == "tanh" else torch.sigmoid(blocks["g"])
    next_c = f * tc + i * g
    next_h = o * (torch.tanh(next_c) if cell_tanh else next_c)
    out = [next_h.detach().numpy(), next_c.detach().numpy()]
    if dnext_h is None:
        return tuple(out)
    torch.autograd.backward([next_h, next_c], [torch.tensor(dnext_h), torch.tensor(dnext_c)])
    return (*out, *(t.grad.numpy() for t in ins))


def _forward_mistake(**kind):
    return lambda x, prev_h, prev_c, Wx, Wh, b: _mistaken_step(x, prev_h, prev_c, Wx, Wh, b, **kind)


def _backward_mistake(**kind):
    return lambda *args: _mistaken_step(*args, **kind)[2:]


def _backward_by_hand(dc_from_h: str = "full", forget: bool = True, order: str = "ifog"):
    """The lecture's backward step, with one mistake: ``dc_from_h`` "full" (right), "none" (the path
    next_c -> next_h ignored) or "no_tanh'" (that path without tanh'); ``forget=False``: dprev_c = dc;
    ``order``: the gate order of da's stacked blocks."""
    def wrong(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
        _, _, cache = _rnn().lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        _, _, _, _, _, i, f, o, g, tanh_c = cache
        through_h = {"full": dnext_h * o * (1 - tanh_c**2), "none": 0.0, "no_tanh'": dnext_h * o}[dc_from_h]
        dc = dnext_c + through_h
        grads = {"i": dc * g * i * (1 - i), "f": dc * prev_c * f * (1 - f),
                 "o": dnext_h * tanh_c * o * (1 - o), "g": dc * i * (1 - g * g)}
        da = np.concatenate([grads[k] for k in order], axis=1)
        return da @ Wx.T, da @ Wh.T, dc * f if forget else dc, x.T @ da, prev_h.T @ da, da.sum(axis=0)

    return wrong


ORDER_HINT = ("the gates are stacked in the order i, f, o, g (the lecture's code): a[:, :H] is i, a[:, H:2H] f, "
              "a[:, 2H:3H] o and a[:, 3H:] g. PyTorch's own order is i, f, g, o.")
TANH_HINT = "next_h = o * tanh(next_c): the tanh on the cell state is missing."


register(Exercise(
    name="rnn_lstm.lstm_step_forward",
    reference=_forward_ref,
    cases=lambda rng: _lstm_cases(rng, with_grad=False),
    names=("next_h", "next_c"),
    mistakes=(
        Mistake(ORDER_HINT, _forward_mistake(order="ifgo")),
        Mistake(TANH_HINT, _forward_mistake(cell_tanh=False)),
        Mistake("the forget gate multiplies the OLD cell state and the input gate the candidate: "
                "next_c = f * prev_c + i * g.", _forward_mistake(order="fiog")),
        Mistake("the candidate g goes through tanh (values in (-1, 1)); only i, f, o use the sigmoid.",
                _forward_mistake(candidate="sigmoid")),
    ),
))


register(Exercise(
    name="rnn_lstm.lstm_step_backward",
    reference=_backward_ref,
    cases=lambda rng: _lstm_cases(rng, with_grad=True),
    names=("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
    mistakes=(
        Mistake("next_c also reaches the loss through next_h = o * tanh(next_c): the cell's gradient is "
                "dnext_c + dnext_h * o * (1 - tanh(next_c)**2).", _backward_by_hand(dc_from_h="none")),
        Mistake("the path next_c -> next_h goes through tanh: multiply by 1 - tanh(next_c)**2.",
                _backward_by_hand(dc_from_h="no_tanh'")),
        Mistake("dprev_c = dc * f: the forget gate scales what flows back along the cell.",
                _backward_by_hand(forget=False)),
        Mistake("stack the gates' gradients in the forward pass's order i, f, o, g.", _backward_by_hand(order="ifgo")),
        Mistake(ORDER_HINT, _backward_mistake(order="ifgo")),
        Mistake(TANH_HINT, _backward_mistake(cell_tanh=False)),
    ),
))


register(Exercise(
    name="rnn_lstm.lstm_cell",
    reference=_cell_ref,
    cases=lambda rng: _lstm_cases(rng, with_grad=True),
    names=("next_h", "next_c", "dx", "dh", "dc", "dWx", "dWh", "db"),
    mistakes=(
        Mistake(ORDER_HINT + " (a.chunk(4, dim=1) returns them in the order they are stacked.)",
                lambda *args: _mistaken_step(*args, order="ifgo")),
        Mistake(TANH_HINT, lambda *args: _mistaken_step(*args, cell_tanh=False)),
        Mistake("the forget gate multiplies the old cell state c, the input gate the candidate g.",
                lambda *args: _mistaken_step(*args, order="fiog")),
    ),
))
