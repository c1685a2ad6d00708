"""Tests of dlcourse.reference.rnn_modules: the hand-made torch RNN, LSTMCell and LSTM, the translation of
LSTM weights between torch.nn's gate order (i, f, g, o) and ours (i, f, o, g), and the forget bias.

The modules are checked against torch.nn.RNN, torch.nn.LSTMCell and torch.nn.LSTM holding the same
weights, forward and backward in float64, and against the NumPy reference of dlcourse.reference.rnn;
the contract's names in dlcourse.reference.rnn are these very objects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch

# The float64 helpers and shapes of the NumPy reference's tests (tests/lib/reference/test_rnn.py).
from test_rnn import SEQ_SHAPES, STEP_SHAPES, TORCH_TOL, bare, numpy_of, seeded, t, torch_to_ours, weights
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.reference import rnn, rnn_modules


def torch_lstm_params(module: nn.Module, seed: int) -> None:
    """Random values for every parameter of a torch LSTM, from a local generator."""
    with torch.no_grad():
        for p in module.parameters():
            nn.init.uniform_(p, -0.6, 0.6, generator=seeded(seed))
            seed += 1


def test_the_contract_names_in_rnn_are_these_objects() -> None:
    for name in rnn_modules.__all__:
        assert getattr(rnn, name) is getattr(rnn_modules, name), name
        assert name in rnn.__all__, name


# ---- the weight mapping between torch's gate order (i, f, g, o) and ours (i, f, o, g)


@pytest.mark.parametrize("kind", ["cell", "lstm"])
def test_lstm_weights_from_torch_reorders_the_gates(kind: str) -> None:
    D, H = 3, 2
    module = bare(nn.LSTMCell, D, H) if kind == "cell" else bare(nn.LSTM, D, H, batch_first=True)
    w_ih, w_hh, b_ih, b_hh = list(module.parameters())
    with torch.no_grad():  # torch's block k (i, f, g, o) filled with the number k
        for k in range(4):
            w_ih[k * H:(k + 1) * H] = k
            w_hh[k * H:(k + 1) * H] = 10 + k
            b_ih[k * H:(k + 1) * H] = 100 + k
            b_hh[k * H:(k + 1) * H] = 1000 + k
    before = copy.deepcopy(module.state_dict())
    Wx, Wh, b = rnn_modules.lstm_weights_from_torch(module)
    assert Wx.shape == (D, 4 * H) and Wh.shape == (H, 4 * H) and b.shape == (4 * H,)
    assert Wx.dtype == Wh.dtype == b.dtype == np.float64
    ours = [0, 1, 3, 2]  # our blocks i, f, o, g are torch's blocks 0, 1, 3, 2
    for k, k_torch in enumerate(ours):
        cols = slice(k * H, (k + 1) * H)
        np.testing.assert_array_equal(Wx[:, cols], k_torch)
        np.testing.assert_array_equal(Wh[:, cols], 10 + k_torch)
        np.testing.assert_array_equal(b[cols], 1100 + 2 * k_torch)  # b = bias_ih + bias_hh
    for name, p in module.state_dict().items():  # the module is unchanged ...
        assert torch.equal(p, before[name]), name
    Wx[:] = -1.0  # ... and the arrays are copies, not views of its parameters
    assert torch.equal(w_ih, before[next(iter(before))])


def test_lstm_weights_from_torch_without_bias() -> None:
    cell = bare(nn.LSTMCell, 3, 2, bias=False)
    torch_lstm_params(cell, 300)
    _, _, b = rnn_modules.lstm_weights_from_torch(cell)
    np.testing.assert_array_equal(b, np.zeros(8))


def test_lstm_weights_to_torch_round_trip() -> None:
    rng = np.random.default_rng(10)
    D, H = 3, 5
    Wx, Wh, b = weights(rng, D, H, gates=4)
    cell = rnn_modules.lstm_weights_to_torch(Wx, Wh, b)
    assert isinstance(cell, nn.LSTMCell) and cell.weight_ih.dtype == torch.float64
    assert (cell.input_size, cell.hidden_size) == (D, H)
    np.testing.assert_array_equal(cell.bias_hh.detach().numpy(), 0.0)  # all of b goes to bias_ih
    for ours, back in zip((Wx, Wh, b), rnn_modules.lstm_weights_from_torch(cell), strict=True):
        np.testing.assert_array_equal(back, ours)
    # into= overwrites an existing module (here a float32 nn.LSTM) and returns that very object.
    net = bare(nn.LSTM, D, H, batch_first=True)
    net = net.float()
    assert rnn_modules.lstm_weights_to_torch(Wx, Wh, b, into=net) is net
    assert net.weight_ih_l0.dtype == torch.float32
    for ours, back in zip((Wx, Wh, b), rnn_modules.lstm_weights_from_torch(net), strict=True):
        np.testing.assert_allclose(back, ours, rtol=1e-6, atol=1e-7)


# ---- the hand-made torch modules against torch.nn's and against the NumPy reference


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_hand_made_rnn_matches_torch_nn_rnn(N: int, T: int, D: int, H: int) -> None:
    ours = rnn_modules.RNN(D, H, generator=seeded(11), dtype=torch.float64)
    assert ours.Wx.shape == (D, H) and ours.Wh.shape == (H, H) and ours.b.shape == (H,)
    ref = bare(nn.RNN, D, H, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(ours.Wx.T)
        ref.weight_hh_l0.copy_(ours.Wh.T)
        ref.bias_ih_l0.copy_(ours.b)
        ref.bias_hh_l0.zero_()
    rng = np.random.default_rng(12)
    x, h0, dh = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    x1, h01, x2, h02 = t(x, True), t(h0, True), t(x, True), t(h0[None], True)
    out1, last1 = ours(x1, h01)
    out2, last2 = ref(x2, h02)
    assert rel_error(numpy_of(out1), numpy_of(out2)) < TORCH_TOL
    assert rel_error(numpy_of(last1), numpy_of(last2[0])) < TORCH_TOL
    out1.backward(t(dh))
    out2.backward(t(dh))
    assert rel_error(x1.grad.numpy(), x2.grad.numpy()) < TORCH_TOL
    assert rel_error(h01.grad.numpy(), h02.grad.numpy()[0]) < TORCH_TOL
    assert rel_error(ours.Wx.grad.numpy(), ref.weight_ih_l0.grad.numpy().T) < TORCH_TOL
    assert rel_error(ours.Wh.grad.numpy(), ref.weight_hh_l0.grad.numpy().T) < TORCH_TOL
    assert rel_error(ours.b.grad.numpy(), ref.bias_ih_l0.grad.numpy()) < TORCH_TOL
    # Without h0 both start from zeros.
    assert rel_error(numpy_of(ours(x1)[0]), numpy_of(ref(x2)[0])) < TORCH_TOL


@pytest.mark.parametrize(("N", "D", "H"), STEP_SHAPES)
def test_hand_made_lstm_cell_matches_torch_nn_lstm_cell(N: int, D: int, H: int) -> None:
    ours = rnn_modules.LSTMCell(D, H, generator=seeded(13), dtype=torch.float64)
    ref = rnn_modules.lstm_weights_to_torch(numpy_of(ours.Wx), numpy_of(ours.Wh), numpy_of(ours.b))
    rng = np.random.default_rng(14)
    x, h, c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    ins1, ins2 = [t(a, True) for a in (x, h, c)], [t(a, True) for a in (x, h, c)]
    h1, c1 = ours(ins1[0], (ins1[1], ins1[2]))
    h2, c2 = ref(ins2[0], (ins2[1], ins2[2]))
    assert rel_error(numpy_of(h1), numpy_of(h2)) < TORCH_TOL
    assert rel_error(numpy_of(c1), numpy_of(c2)) < TORCH_TOL
    torch.autograd.backward([h1, c1], [t(dh), t(dc)])
    torch.autograd.backward([h2, c2], [t(dh), t(dc)])
    for a1, a2 in zip(ins1, ins2, strict=True):
        assert rel_error(a1.grad.numpy(), a2.grad.numpy()) < TORCH_TOL
    assert rel_error(ours.Wx.grad.numpy(), torch_to_ours(ref.weight_ih.grad).T) < TORCH_TOL
    assert rel_error(ours.Wh.grad.numpy(), torch_to_ours(ref.weight_hh.grad).T) < TORCH_TOL
    assert rel_error(ours.b.grad.numpy(), torch_to_ours(ref.bias_ih.grad)) < TORCH_TOL
    # Without hx both start from zeros.
    assert rel_error(numpy_of(ours(ins1[0])[1]), numpy_of(ref(ins2[0])[1])) < TORCH_TOL


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_hand_made_lstm_matches_torch_nn_lstm(N: int, T: int, D: int, H: int) -> None:
    ours = rnn_modules.LSTM(D, H, generator=seeded(15), dtype=torch.float64)
    ref = bare(nn.LSTM, D, H, batch_first=True)
    rnn_modules.lstm_weights_to_torch(numpy_of(ours.cell.Wx), numpy_of(ours.cell.Wh), numpy_of(ours.cell.b), into=ref)
    rng = np.random.default_rng(16)
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    x1, h01, c01 = t(x, True), t(h0, True), t(c0, True)
    x2, h02, c02 = t(x, True), t(h0[None], True), t(c0[None], True)
    out1, (hl1, cl1) = ours(x1, (h01, c01))
    out2, (hl2, cl2) = ref(x2, (h02, c02))
    assert rel_error(numpy_of(out1), numpy_of(out2)) < TORCH_TOL
    assert rel_error(numpy_of(hl1), numpy_of(hl2[0])) < TORCH_TOL
    assert rel_error(numpy_of(cl1), numpy_of(cl2[0])) < TORCH_TOL
    out1.backward(t(dh))
    out2.backward(t(dh))
    assert rel_error(x1.grad.numpy(), x2.grad.numpy()) < TORCH_TOL
    assert rel_error(h01.grad.numpy(), h02.grad.numpy()[0]) < TORCH_TOL
    assert rel_error(c01.grad.numpy(), c02.grad.numpy()[0]) < TORCH_TOL
    assert rel_error(ours.cell.Wx.grad.numpy(), torch_to_ours(ref.weight_ih_l0.grad).T) < TORCH_TOL
    assert rel_error(ours.cell.Wh.grad.numpy(), torch_to_ours(ref.weight_hh_l0.grad).T) < TORCH_TOL
    assert rel_error(ours.cell.b.grad.numpy(), torch_to_ours(ref.bias_ih_l0.grad)) < TORCH_TOL


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_hand_made_modules_match_the_numpy_reference(kind: str) -> None:
    N, T, D, H = 3, 4, 2, 5
    if kind == "rnn":
        module = rnn_modules.RNN(D, H, generator=seeded(17), dtype=torch.float64)
        params, forward, backward = [module.Wx, module.Wh, module.b], rnn.rnn_forward, rnn.rnn_backward
    else:
        module = rnn_modules.LSTM(D, H, generator=seeded(17), dtype=torch.float64)
        params, forward, backward = [module.cell.Wx, module.cell.Wh, module.cell.b], rnn.lstm_forward, rnn.lstm_backward
    rng = np.random.default_rng(18)
    x, h0, dh = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    h, cache = forward(x, h0, *(numpy_of(p) for p in params))
    dx, dh0, *dparams = backward(dh, cache)
    xt, h0t = t(x, True), t(h0, True)
    out, _ = module(xt, h0t) if kind == "rnn" else module(xt, (h0t, torch.zeros(N, H, dtype=torch.float64)))
    out.backward(t(dh))
    assert rel_error(h, numpy_of(out)) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dh0, h0t.grad.numpy()) < TORCH_TOL
    for g, p in zip(dparams, params, strict=True):
        assert rel_error(g, p.grad.numpy()) < TORCH_TOL


def test_modules_initialise_like_torch_from_their_generator() -> None:
    D, H = 3, 4
    bound = 1 / np.sqrt(H)
    for make in (rnn_modules.RNN, rnn_modules.LSTMCell, rnn_modules.LSTM):
        a, b = make(D, H, generator=seeded(19)), make(D, H, generator=seeded(19))
        for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q), name  # the same generator seed, the same parameters
            assert p.dtype == torch.float32
            if not name.endswith("b"):
                assert p.abs().max() <= bound, name
    assert not torch.equal(rnn_modules.RNN(D, H, generator=seeded(1)).Wx, rnn_modules.RNN(D, H, generator=seeded(2)).Wx)


def test_forget_bias() -> None:
    D, H = 3, 4
    bound = 1 / np.sqrt(H)
    b = rnn_modules.LSTMCell(D, H, generator=seeded(20)).b.detach()  # default forget_bias = 1.0
    assert torch.all(b[H:2 * H] == 1.0)
    others = torch.cat([b[:H], b[2 * H:]])
    assert torch.all(others.abs() <= bound) and others.abs().max() > 0
    b = rnn_modules.LSTMCell(D, H, forget_bias=None, generator=seeded(20)).b.detach()
    assert torch.all(b.abs() <= bound)
    assert torch.all(rnn_modules.LSTM(D, H, forget_bias=2.5, generator=seeded(21)).cell.b[H:2 * H] == 2.5)
    # torch.nn's LSTMs, every layer and direction: bias_ih gets the value, bias_hh 0, so the sum is the value.
    net = bare(nn.LSTM, D, H, num_layers=2, bidirectional=True)
    torch_lstm_params(net, 400)
    assert rnn_modules.set_forget_bias(net, 1.0) is net
    names = [n for n, _ in net.named_parameters() if n.startswith("bias")]
    assert len(names) == 8
    for n in names:
        value = 1.0 if n.startswith("bias_ih") else 0.0
        assert torch.all(getattr(net, n)[H:2 * H] == value), n
    cell = bare(nn.LSTMCell, D, H)
    torch_lstm_params(cell, 500)
    rnn_modules.set_forget_bias(cell, 3.0)
    _, _, b = rnn_modules.lstm_weights_from_torch(cell)
    np.testing.assert_array_equal(b[H:2 * H], 3.0)
    ours = rnn_modules.LSTM(D, H, forget_bias=None, generator=seeded(22))
    assert rnn_modules.set_forget_bias(ours, -1.0) is ours
    assert torch.all(ours.cell.b[H:2 * H] == -1.0)


def test_lstm_weights_to_torch_does_not_change_its_arguments() -> None:
    rng = np.random.default_rng(41)
    args = weights(rng, 3, 4, gates=4)
    before = copy.deepcopy(args)
    cell = rnn_modules.lstm_weights_to_torch(*args)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)
    again = rnn_modules.lstm_weights_to_torch(*args)
    for p, q in zip(cell.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    with torch.no_grad():  # the module's parameters are copies, not views of the arrays
        cell.weight_ih.fill_(7.0)
    np.testing.assert_array_equal(args[0], before[0])


# ---- bad input: a ValueError that names the argument and the expected shape

RNG = np.random.default_rng(42)
WX4, WH4, B4 = weights(RNG, 3, 4, 4)
WH = weights(RNG, 3, 4)[1]

BAD_INPUT = [
    pytest.param(lambda: rnn_modules.RNN(0, 3), r"input_size must be a positive integer", id="RNN-size"),
    pytest.param(lambda: rnn_modules.LSTM(3, 2.5), r"hidden_size must be a positive integer", id="LSTM-size"),
    pytest.param(lambda: rnn_modules.RNN(3, 4, generator=seeded(0))(torch.zeros(2, 5, 2)),
                 r"x must have shape \(N, T, D\) = \(\?, \?, 3\), got \(2, 5, 2\)", id="RNN-x"),
    pytest.param(lambda: rnn_modules.RNN(3, 4, generator=seeded(0))(torch.zeros(2, 5, 3), torch.zeros(1, 2, 4)),
                 r"h0 must have shape \(N, H\) = \(2, 4\)", id="RNN-h0-torch-layout"),
    pytest.param(lambda: rnn_modules.RNN(3, 4, generator=seeded(0))(np.zeros((2, 5, 3))), r"x must be a torch.Tensor",
                 id="RNN-numpy-x"),
    pytest.param(lambda: rnn_modules.LSTMCell(3, 4, generator=seeded(0))(torch.zeros(2, 3), (torch.zeros(2, 3),) * 2),
                 r"hx\[0\] \(h\) must have shape \(N, H\) = \(2, 4\)", id="LSTMCell-hx"),
    pytest.param(lambda: rnn_modules.LSTM(3, 4, generator=seeded(0))(torch.zeros(2, 0, 3)), r"T = 0 time steps",
                 id="LSTM-T0"),
    pytest.param(lambda: rnn_modules.lstm_weights_from_torch(bare(nn.GRU, 3, 4)),
                 r"module must be a torch.nn.LSTMCell or a single-layer torch.nn.LSTM, got GRU", id="from-GRU"),
    pytest.param(lambda: rnn_modules.lstm_weights_from_torch(bare(nn.LSTM, 3, 4, num_layers=2)),
                 r"single-layer, one-direction.*num_layers=2", id="from-2-layers"),
    pytest.param(lambda: rnn_modules.lstm_weights_to_torch(WX4, WH, B4), r"Wh must have shape \(H, 4H\)", id="to-Wh"),
    pytest.param(lambda: rnn_modules.lstm_weights_to_torch(WX4.T, WH4, B4), r"is Wx transposed\?", id="to-Wx-T"),
    pytest.param(lambda: rnn_modules.lstm_weights_to_torch(WX4, WH4, B4, into=bare(nn.LSTMCell, 3, 5)),
                 r"into has input_size=3, hidden_size=5, but Wx, Wh are for D=3, H=4", id="to-into-size"),
    pytest.param(lambda: rnn_modules.lstm_weights_to_torch(WX4, WH4, B4, into=bare(nn.LSTMCell, 3, 4, bias=False)),
                 r"bias=False, but b is not zero", id="to-into-no-bias"),
    pytest.param(lambda: rnn_modules.set_forget_bias(bare(nn.Linear, 3, 4), 1.0), r"module must be an LSTM or LSTMCell",
                 id="forget-Linear"),
    pytest.param(lambda: rnn_modules.set_forget_bias(bare(nn.LSTM, 3, 4, bias=False), 1.0), r"has no bias",
                 id="forget-no-bias"),
    pytest.param(lambda: rnn_modules.set_forget_bias(bare(nn.LSTMCell, 3, 4), "1"), r"value must be a finite number",
                 id="forget-value"),
]


@pytest.mark.parametrize(("call", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
