"""The recurrent cells of :mod:`dlcourse.reference.rnn` as PyTorch modules, and torch.nn's LSTM weights
translated to and from our layout (I2DL lecture 11, "LSTM in code").

Our layout is the NumPy reference's: ``Wx`` (D, G), ``Wh`` (H, G), one bias ``b`` (G,), with G = H for
the RNN and G = 4H for the LSTM, whose gate blocks are stacked in the order i, f, o, g. torch.nn keeps
the transposes, ``weight_ih`` (G, D) and ``weight_hh`` (G, H), stacks its LSTM gates as i, f, g, o, and
has two biases that are always added (``bias_ih + bias_hh``).

- :class:`RNN`, :class:`LSTMCell`, :class:`LSTM`: written by hand, one step at a time, in our layout;
  they match ``torch.nn.RNN``, ``torch.nn.LSTMCell`` and ``torch.nn.LSTM`` holding the same weights.
- :func:`lstm_weights_from_torch`, :func:`lstm_weights_to_torch`: the translation, gate order included.
- :func:`set_forget_bias`: the forget gate's bias of any of these LSTMs, often set to 1 or 2 so that the
  cell starts out remembering (Gers et al. 2000; Jozefowicz et al. 2015).

Every name is also reachable as ``dlcourse.reference.rnn.<name>`` (the reference contract).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

__all__ = ["LSTM", "RNN", "LSTMCell", "lstm_weights_from_torch", "lstm_weights_to_torch", "set_forget_bias"]


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
    # The NumPy half's checks, imported here: rnn imports this module at its top.
    from dlcourse.reference.rnn import _array, _check_weights

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
