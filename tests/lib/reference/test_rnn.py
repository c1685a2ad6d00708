"""Tests of dlcourse.reference.rnn: the NumPy forward/backward pairs and gradient clipping.

Every backward pass (one step and whole sequences, RNN and LSTM) is proven twice: against
central-difference numerical gradients (relative error < 1e-7) and against PyTorch autograd in float64
(torch.nn.RNNCell, torch.nn.RNN, torch.nn.LSTMCell and torch.nn.LSTM with copied weights). Shapes always
have H != D, so a transposed weight cannot pass, and cover T = 1 and several steps, N = 1 and several.
The hand-made torch modules and the weight mapping are tested in test_rnn_modules.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import rnn

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding

# (N, T, D, H) and (N, D, H): H != D everywhere.
SEQ_SHAPES = [(1, 1, 3, 4), (4, 1, 3, 2), (1, 5, 2, 3), (3, 6, 4, 5)]
STEP_SHAPES = [(1, 3, 4), (4, 5, 2)]


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def numpy_of(p: torch.Tensor) -> np.ndarray:
    return p.detach().numpy().copy()


def weights(rng: np.random.Generator, D: int, H: int, gates: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wx (D, G), Wh (H, G), b (G,) with G = gates * H, small enough that tanh and the sigmoids do
    not saturate (saturated units have gradients too small to check to a relative 1e-7)."""
    G = gates * H
    return 0.5 * rng.standard_normal((D, G)), 0.5 * rng.standard_normal((H, G)), 0.5 * rng.standard_normal(G)


def numerical_grads(f: Callable[..., np.ndarray], args: list[np.ndarray], dout: np.ndarray) -> list[np.ndarray]:
    """The numerical gradient of sum(f(*args) * dout) with respect to every argument."""
    grads = []
    for k in range(len(args)):

        def f_k(v: np.ndarray, k: int = k) -> np.ndarray:
            return f(*args[:k], v, *args[k + 1:])

        grads.append(eval_numerical_gradient_array(f_k, args[k], dout))
    return grads


def torch_to_ours(a: torch.Tensor | None) -> np.ndarray:
    """torch's gate blocks [i, f, g, o] along axis 0 -> ours [i, f, o, g] (written here independently
    of the module's own mapping)."""
    i, f, g, o = np.split(a.detach().numpy(), 4, axis=0)
    return np.concatenate([i, f, o, g], axis=0)


def bare(cls: type[nn.Module], *args: object, **kwargs: object) -> nn.Module:
    """A float64 torch.nn module with uninitialised parameters: nothing drawn from torch's global
    generator (every test sets the values it uses)."""
    # Built on the meta device, then given (uninitialised) memory: what nn.utils.skip_init does, which
    # refuses torch.nn.RNN and LSTM because their constructors take **kwargs.
    return cls(*args, device="meta", dtype=torch.float64, **kwargs).to_empty(device="cpu")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- vanilla RNN: forward formula, numerical gradients


def test_rnn_step_forward_is_the_formula() -> None:
    rng = np.random.default_rng(0)
    x, prev_h = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    Wx, Wh, b = weights(rng, 4, 2)
    next_h, _ = rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)
    np.testing.assert_allclose(next_h, np.tanh(x @ Wx + prev_h @ Wh + b), rtol=1e-15, atol=0)
    # A case to check by hand: with no weights the state is tanh(b).
    next_h, _ = rnn.rnn_step_forward(x, prev_h, 0 * Wx, 0 * Wh, np.array([0.0, np.arctanh(0.5)]))
    np.testing.assert_allclose(next_h, [[0.0, 0.5]] * 3, rtol=1e-15, atol=0)


@pytest.mark.parametrize(("N", "D", "H"), STEP_SHAPES)
def test_rnn_step_backward_numerical(N: int, D: int, H: int) -> None:
    rng = np.random.default_rng(1)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), *weights(rng, D, H)]
    dnext_h = rng.standard_normal((N, H))
    _, cache = rnn.rnn_step_forward(*args)
    grads = rnn.rnn_step_backward(dnext_h, cache)
    nums = numerical_grads(lambda *a: rnn.rnn_step_forward(*a)[0], args, dnext_h)
    for name, g, num, a in zip(["dx", "dprev_h", "dWx", "dWh", "db"], grads, nums, args, strict=True):
        assert g.shape == a.shape, name
        assert rel_error(g, num) < NUM_TOL, name


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_rnn_backward_numerical(N: int, T: int, D: int, H: int) -> None:
    rng = np.random.default_rng(2)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), *weights(rng, D, H)]
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.rnn_forward(*args)
    assert h.shape == (N, T, H)
    grads = rnn.rnn_backward(dh, cache)
    nums = numerical_grads(lambda *a: rnn.rnn_forward(*a)[0], args, dh)
    for name, g, num, a in zip(["dx", "dh0", "dWx", "dWh", "db"], grads, nums, args, strict=True):
        assert g.shape == a.shape, name
        assert rel_error(g, num) < NUM_TOL, name


# ---- LSTM: forward formula and gate order, numerical gradients


def test_lstm_step_forward_gate_order_is_i_f_o_g() -> None:
    # No weights: each gate is a function of its own bias block only, so the blocks can be told apart.
    N, D, H = 2, 3, 2
    rng = np.random.default_rng(3)
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    a_i, a_f, a_o, a_g = np.array([0.3, -1.0]), np.array([2.0, 0.1]), np.array([-0.5, 1.5]), np.array([0.7, -2.0])
    b = np.concatenate([a_i, a_f, a_o, a_g])
    next_h, next_c, _ = rnn.lstm_step_forward(x, prev_h, prev_c, np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), b)

    def sig(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    c = sig(a_f) * prev_c + sig(a_i) * np.tanh(a_g)
    np.testing.assert_allclose(next_c, c, rtol=1e-14)
    np.testing.assert_allclose(next_h, sig(a_o) * np.tanh(c), rtol=1e-14)


@pytest.mark.parametrize(("N", "D", "H"), STEP_SHAPES)
def test_lstm_step_backward_numerical(N: int, D: int, H: int) -> None:
    # A central difference is off by ~1e-12 in absolute terms (rounding), so a gradient entry below
    # ~1e-5 cannot be resolved to a relative 1e-7; with N = 1 an entry of dWh = prev_h^T da is such a
    # product for some seeds (seed 4 gives one of 4e-6). This seed has none; torch checks the rest.
    rng = np.random.default_rng(10)
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)),
            *weights(rng, D, H, gates=4)]
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    _, _, cache = rnn.lstm_step_forward(*args)
    grads = rnn.lstm_step_backward(dnext_h, dnext_c, cache)

    def both(*a: np.ndarray) -> np.ndarray:  # [next_h | next_c], so one dout covers both outputs
        next_h, next_c, _ = rnn.lstm_step_forward(*a)
        return np.concatenate([next_h, next_c], axis=1)

    nums = numerical_grads(both, args, np.concatenate([dnext_h, dnext_c], axis=1))
    names = ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"]
    for name, g, num, a in zip(names, grads, nums, args, strict=True):
        assert g.shape == a.shape, name
        assert rel_error(g, num) < NUM_TOL, name


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_lstm_backward_numerical(N: int, T: int, D: int, H: int) -> None:
    rng = np.random.default_rng(5)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), *weights(rng, D, H, gates=4)]
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.lstm_forward(*args)
    assert h.shape == (N, T, H)
    grads = rnn.lstm_backward(dh, cache)
    nums = numerical_grads(lambda *a: rnn.lstm_forward(*a)[0], args, dh)
    for name, g, num, a in zip(["dx", "dh0", "dWx", "dWh", "db"], grads, nums, args, strict=True):
        assert g.shape == a.shape, name
        assert rel_error(g, num) < NUM_TOL, name


def test_lstm_sigmoid_is_stable_for_huge_preactivations() -> None:
    N, D, H = 2, 3, 2
    b = np.array([1000.0, -1000.0] * 4)  # every gate saturates, one unit at 1, the other at 0
    x, h0 = np.zeros((N, D)), np.zeros((N, H))
    Wx, Wh = np.zeros((D, 4 * H)), np.zeros((H, 4 * H))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow to 0 is fine)
        next_h, next_c, cache = rnn.lstm_step_forward(x, h0, np.ones((N, H)), Wx, Wh, b)
        grads = rnn.lstm_step_backward(np.ones((N, H)), np.ones((N, H)), cache)
        h, seq_cache = rnn.lstm_forward(np.zeros((N, 4, D)), h0, Wx, Wh, b)
        seq_grads = rnn.lstm_backward(np.ones_like(h), seq_cache)
    i, f, o, g = cache[5:9]
    np.testing.assert_array_equal(i, [[1.0, 0.0]] * N)
    np.testing.assert_array_equal(f, [[1.0, 0.0]] * N)
    np.testing.assert_array_equal(o, [[1.0, 0.0]] * N)
    np.testing.assert_array_equal(g, [[1.0, -1.0]] * N)
    np.testing.assert_allclose(next_c, [[2.0, 0.0]] * N)  # f c + i g
    np.testing.assert_allclose(next_h, [[np.tanh(2.0), 0.0]] * N)
    for g_ in (*grads, *seq_grads, h):
        assert np.all(np.isfinite(g_))


# ---- against torch.nn in float64


@pytest.mark.parametrize(("N", "D", "H"), STEP_SHAPES)
def test_rnn_step_matches_torch_rnn_cell(N: int, D: int, H: int) -> None:
    rng = np.random.default_rng(6)
    x, prev_h, (Wx, Wh, b) = rng.standard_normal((N, D)), rng.standard_normal((N, H)), weights(rng, D, H)
    dnext_h = rng.standard_normal((N, H))
    next_h, cache = rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)
    dx, dprev_h, dWx, dWh, db = rnn.rnn_step_backward(dnext_h, cache)
    cell = bare(nn.RNNCell, D, H, nonlinearity="tanh")
    with torch.no_grad():  # torch keeps weights as (H, D) = Wx.T and two biases that are added
        cell.weight_ih.copy_(t(Wx.T))
        cell.weight_hh.copy_(t(Wh.T))
        cell.bias_ih.copy_(t(0.3 * b))
        cell.bias_hh.copy_(t(0.7 * b))
    xt, ht = t(x, True), t(prev_h, True)
    out = cell(xt, ht)
    out.backward(t(dnext_h))
    assert rel_error(next_h, numpy_of(out)) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dprev_h, ht.grad.numpy()) < TORCH_TOL
    assert rel_error(dWx, cell.weight_ih.grad.numpy().T) < TORCH_TOL
    assert rel_error(dWh, cell.weight_hh.grad.numpy().T) < TORCH_TOL
    assert rel_error(db, cell.bias_ih.grad.numpy()) < TORCH_TOL
    assert rel_error(db, cell.bias_hh.grad.numpy()) < TORCH_TOL


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_rnn_matches_torch_nn_rnn(N: int, T: int, D: int, H: int) -> None:
    rng = np.random.default_rng(7)
    x, h0, (Wx, Wh, b) = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), weights(rng, D, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn.rnn_backward(dh, cache)
    net = bare(nn.RNN, D, H, nonlinearity="tanh", batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(t(Wx.T))
        net.weight_hh_l0.copy_(t(Wh.T))
        net.bias_ih_l0.copy_(t(b))
        net.bias_hh_l0.zero_()
    xt, h0t = t(x, True), t(h0[None], True)  # torch's h0 is (num_layers, N, H)
    out, h_n = net(xt, h0t)
    out.backward(t(dh))
    assert rel_error(h, numpy_of(out)) < TORCH_TOL
    assert rel_error(h[:, -1], numpy_of(h_n[0])) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dh0, h0t.grad.numpy()[0]) < TORCH_TOL
    assert rel_error(dWx, net.weight_ih_l0.grad.numpy().T) < TORCH_TOL
    assert rel_error(dWh, net.weight_hh_l0.grad.numpy().T) < TORCH_TOL
    assert rel_error(db, net.bias_ih_l0.grad.numpy()) < TORCH_TOL
    assert rel_error(db, net.bias_hh_l0.grad.numpy()) < TORCH_TOL


def torch_lstm_params(module: nn.Module, seed: int) -> None:
    """Random values for every parameter of a torch LSTM, from a local generator."""
    with torch.no_grad():
        for p in module.parameters():
            nn.init.uniform_(p, -0.6, 0.6, generator=seeded(seed))
            seed += 1


@pytest.mark.parametrize(("N", "D", "H"), STEP_SHAPES)
def test_lstm_step_matches_torch_lstm_cell(N: int, D: int, H: int) -> None:
    rng = np.random.default_rng(8)
    cell = bare(nn.LSTMCell, D, H)
    torch_lstm_params(cell, 100)
    Wx, Wh, b = rnn.lstm_weights_from_torch(cell)
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    next_h, next_c, cache = rnn.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    dx, dprev_h, dprev_c, dWx, dWh, db = rnn.lstm_step_backward(dnext_h, dnext_c, cache)
    xt, ht, ct = t(x, True), t(prev_h, True), t(prev_c, True)
    h_t, c_t = cell(xt, (ht, ct))
    torch.autograd.backward([h_t, c_t], [t(dnext_h), t(dnext_c)])
    assert rel_error(next_h, numpy_of(h_t)) < TORCH_TOL
    assert rel_error(next_c, numpy_of(c_t)) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dprev_h, ht.grad.numpy()) < TORCH_TOL
    assert rel_error(dprev_c, ct.grad.numpy()) < TORCH_TOL
    assert rel_error(dWx, torch_to_ours(cell.weight_ih.grad).T) < TORCH_TOL
    assert rel_error(dWh, torch_to_ours(cell.weight_hh.grad).T) < TORCH_TOL
    assert rel_error(db, torch_to_ours(cell.bias_ih.grad)) < TORCH_TOL
    assert rel_error(db, torch_to_ours(cell.bias_hh.grad)) < TORCH_TOL


@pytest.mark.parametrize(("N", "T", "D", "H"), SEQ_SHAPES)
def test_lstm_matches_torch_nn_lstm(N: int, T: int, D: int, H: int) -> None:
    rng = np.random.default_rng(9)
    net = bare(nn.LSTM, D, H, batch_first=True)
    torch_lstm_params(net, 200)
    Wx, Wh, b = rnn.lstm_weights_from_torch(net)
    x, h0, dh = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    h, cache = rnn.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn.lstm_backward(dh, cache)
    xt, h0t = t(x, True), t(h0[None], True)
    out, _ = net(xt, (h0t, torch.zeros(1, N, H, dtype=torch.float64)))  # our c0 is 0
    out.backward(t(dh))
    assert rel_error(h, numpy_of(out)) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dh0, h0t.grad.numpy()[0]) < TORCH_TOL
    assert rel_error(dWx, torch_to_ours(net.weight_ih_l0.grad).T) < TORCH_TOL
    assert rel_error(dWh, torch_to_ours(net.weight_hh_l0.grad).T) < TORCH_TOL
    assert rel_error(db, torch_to_ours(net.bias_ih_l0.grad)) < TORCH_TOL


# ---- backpropagation through time: accumulation and the carried hidden gradient


def test_rnn_sequence_backward_is_the_sum_of_step_backwards() -> None:
    rng = np.random.default_rng(23)
    N, T, D, H = 2, 5, 3, 4
    x, h0, (Wx, Wh, b) = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), weights(rng, D, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn.rnn_backward(dh, cache)
    prev_h, caches = h0, []
    for step in range(T):
        prev_h, c = rnn.rnn_step_forward(x[:, step], prev_h, Wx, Wh, b)
        caches.append(c)
        np.testing.assert_allclose(h[:, step], prev_h, rtol=1e-14)
    carried, sums = np.zeros((N, H)), [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for step in reversed(range(T)):
        dx_t, carried, *dparams = rnn.rnn_step_backward(dh[:, step] + carried, caches[step])
        np.testing.assert_allclose(dx[:, step], dx_t, rtol=1e-12)
        sums = [s + d for s, d in zip(sums, dparams, strict=True)]
    np.testing.assert_allclose(dh0, carried, rtol=1e-12)
    for g, s in zip((dWx, dWh, db), sums, strict=True):
        np.testing.assert_allclose(g, s, rtol=1e-12)
    # The last step alone is not the answer: every step contributes.
    assert rel_error(dWh, rnn.rnn_step_backward(dh[:, -1], caches[-1])[3]) > 1e-2


def test_lstm_sequence_backward_is_the_sum_of_step_backwards() -> None:
    rng = np.random.default_rng(24)
    N, T, D, H = 2, 5, 3, 4
    x, h0, (Wx, Wh, b) = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), weights(rng, D, H, 4)
    dh = rng.standard_normal((N, T, H))
    h, cache = rnn.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = rnn.lstm_backward(dh, cache)
    prev_h, prev_c, caches = h0, np.zeros((N, H)), []
    for step in range(T):
        prev_h, prev_c, c = rnn.lstm_step_forward(x[:, step], prev_h, prev_c, Wx, Wh, b)
        caches.append(c)
        np.testing.assert_allclose(h[:, step], prev_h, rtol=1e-14)
    carried_h, carried_c = np.zeros((N, H)), np.zeros((N, H))
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for step in reversed(range(T)):
        dx_t, carried_h, carried_c, *dparams = rnn.lstm_step_backward(dh[:, step] + carried_h, carried_c,
                                                                        caches[step])
        np.testing.assert_allclose(dx[:, step], dx_t, rtol=1e-12)
        sums = [s + d for s, d in zip(sums, dparams, strict=True)]
    np.testing.assert_allclose(dh0, carried_h, rtol=1e-12)
    for g, s in zip((dWx, dWh, db), sums, strict=True):
        np.testing.assert_allclose(g, s, rtol=1e-12)


def torch_net(kind: str, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> nn.Module:
    """torch.nn.RNN or torch.nn.LSTM (batch_first, float64) holding our weights."""
    D, H = Wx.shape[0], Wh.shape[0]
    if kind == "lstm":
        return rnn.lstm_weights_to_torch(Wx, Wh, b, into=bare(nn.LSTM, D, H, batch_first=True))
    net = bare(nn.RNN, D, H, batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(t(Wx.T))
        net.weight_hh_l0.copy_(t(Wh.T))
        net.bias_ih_l0.copy_(t(b))
        net.bias_hh_l0.zero_()
    return net


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_a_loss_on_the_last_state_reaches_every_input(kind: str) -> None:
    rng = np.random.default_rng(25)
    N, T, D, H = 2, 6, 3, 4
    forward, backward = (rnn.rnn_forward, rnn.rnn_backward) if kind == "rnn" else (rnn.lstm_forward, rnn.lstm_backward)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = weights(rng, D, H, gates=1 if kind == "rnn" else 4)
    h, cache = forward(x, h0, Wx, Wh, b)
    dh = np.zeros_like(h)
    dh[:, -1] = rng.standard_normal((N, H))  # only h_T feeds the loss
    dx, dh0, *_ = backward(dh, cache)
    # A backward pass that forgot to carry the hidden gradient back would give zeros before step T.
    for step in range(T):
        assert np.linalg.norm(dx[:, step]) > 1e-4, f"no gradient reaches x[:, {step}]"
    assert np.linalg.norm(dh0) > 1e-4
    # The early gradients are small (they shrink step by step), too small for a central difference to
    # check to 1e-7, so autograd is the judge here.
    xt, h0t = t(x, True), t(h0[None], True)
    hx = h0t if kind == "rnn" else (h0t, torch.zeros(1, N, H, dtype=torch.float64))
    out, _ = torch_net(kind, Wx, Wh, b)(xt, hx)
    (out[:, -1] * t(dh[:, -1])).sum().backward()
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dh0, h0t.grad.numpy()[0]) < TORCH_TOL


@pytest.mark.parametrize("lam", [0.5, 1.5])
def test_the_eigenvalues_of_wh_decide_vanishing_or_exploding(lam: float) -> None:
    # I2DL lecture 11: with Wh = Q Λ Q^T the gradient T steps back is multiplied by Q Λ^T Q^T. Here
    # Wh = lam Q with Q orthogonal (every eigenvalue has modulus lam), no input and a tiny state, so
    # tanh' ~ 1 and ||dh0|| = lam^T ||dh_T||: geometric decay for lam < 1, growth for lam > 1.
    rng = np.random.default_rng(26)
    N, T, D, H = 1, 20, 2, 6
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    x, h0 = np.zeros((N, T, D)), 1e-8 * rng.standard_normal((N, H))
    h, cache = rnn.rnn_forward(x, h0, rng.standard_normal((D, H)), lam * Q, np.zeros(H))
    dh = np.zeros_like(h)
    dh[:, -1] = rng.standard_normal((N, H))
    _, dh0, *_ = rnn.rnn_backward(dh, cache)
    ratio = np.linalg.norm(dh0) / np.linalg.norm(dh[:, -1])
    assert ratio == pytest.approx(lam**T, rel=1e-3)


# ---- gradient clipping


def some_grads(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 2, 2))]


def test_clip_grad_norm_uses_the_global_norm() -> None:
    grads = some_grads(np.random.default_rng(27))
    everything = np.concatenate([g.ravel() for g in grads])
    _, total = rnn.clip_grad_norm(grads, 1e9)
    assert isinstance(total, float)
    assert total == pytest.approx(np.sqrt(np.sum(everything**2)), rel=1e-14)


def test_clip_grad_norm_below_the_threshold_changes_nothing() -> None:
    grads = some_grads(np.random.default_rng(28))
    _, total = rnn.clip_grad_norm(grads, 1e9)
    clipped, total2 = rnn.clip_grad_norm(grads, 2 * total)
    assert total2 == total and isinstance(clipped, list)
    for c, g in zip(clipped, grads, strict=True):
        np.testing.assert_array_equal(c, g)
        assert not np.shares_memory(c, g)  # new arrays all the same


@pytest.mark.parametrize("fraction", [0.9, 0.1, 1e-3])
def test_clip_grad_norm_above_the_threshold_rescales_the_whole_gradient(fraction: float) -> None:
    grads = some_grads(np.random.default_rng(29))
    _, total = rnn.clip_grad_norm(grads, 1e9)
    max_norm = fraction * total
    clipped, _ = rnn.clip_grad_norm(grads, max_norm)
    new_norm = np.sqrt(sum(np.sum(c**2) for c in clipped))
    assert new_norm <= max_norm
    assert new_norm == pytest.approx(max_norm, rel=1e-6)
    # Direction kept: one factor for every entry of every array (not each array clipped on its own).
    factors = np.concatenate([(c / g).ravel() for c, g in zip(clipped, grads, strict=True)])
    np.testing.assert_allclose(factors, factors[0], rtol=1e-13)
    assert factors[0] == pytest.approx(fraction, rel=1e-5)


@pytest.mark.parametrize("fraction", [2.0, 0.5, 0.01])
def test_clip_grad_norm_matches_torch(fraction: float) -> None:
    grads = some_grads(np.random.default_rng(30))
    _, total = rnn.clip_grad_norm(grads, 1e9)
    params = [t(g, True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = t(g)
    total_t = nn.utils.clip_grad_norm_(params, fraction * total)
    clipped, total_ours = rnn.clip_grad_norm(grads, fraction * total)
    assert rel_error(total_ours, total_t.item()) < 1e-13
    for c, p in zip(clipped, params, strict=True):
        assert rel_error(c, p.grad.numpy()) < 1e-13


def test_clip_grad_norm_keeps_the_container() -> None:
    rng = np.random.default_rng(31)
    grads = {"Wx": rng.standard_normal((3, 4)), "Wh": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)}
    clipped, total = rnn.clip_grad_norm(grads, 0.5)
    assert isinstance(clipped, dict) and list(clipped) == ["Wx", "Wh", "b"]
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] * 0.5 / (total + rnn.CLIP_EPS), rtol=1e-14)
    clipped, _ = rnn.clip_grad_norm(tuple(grads.values()), 0.5)
    assert isinstance(clipped, tuple) and len(clipped) == 3


def test_clip_grad_norm_edge_cases() -> None:
    # Huge gradients (an explosion) do not overflow the norm to inf; zero gradients stay zero.
    grads = [np.full(4, 1e200), np.array([-3e200])]
    clipped, total = rnn.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(np.sqrt(4 + 9) * 1e200, rel=1e-14)
    assert np.sqrt(sum(np.sum(c**2) for c in clipped)) == pytest.approx(1.0, rel=1e-12)
    clipped, total = rnn.clip_grad_norm([np.zeros(3), np.zeros((0, 2))], 1.0)
    assert total == 0.0
    np.testing.assert_array_equal(clipped[0], 0.0)
    assert rnn.clip_grad_norm([], 1.0) == ([], 0.0)


# ---- no function changes its arguments


def _sequence(kind: str, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    N, T, D, H = 2, 3, 3, 4
    return [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), *weights(rng, D, H, 1 if kind == "rnn" else 4)]


def _step(kind: str, seed: int) -> list[np.ndarray]:
    x, h0, Wx, Wh, b = _sequence(kind, seed)
    return [x[:, 0].copy(), h0] + ([] if kind == "rnn" else [2 * h0]) + [Wx, Wh, b]


def _rnn_step_backward_args() -> tuple:
    next_h, cache = rnn.rnn_step_forward(*_step("rnn", 32))
    return (np.ones_like(next_h), cache)


def _rnn_backward_args() -> tuple:
    h, cache = rnn.rnn_forward(*_sequence("rnn", 33))
    return (np.ones_like(h), cache)


def _lstm_step_backward_args() -> tuple:
    next_h, next_c, cache = rnn.lstm_step_forward(*_step("lstm", 34))
    return (np.ones_like(next_h), np.full_like(next_c, 0.5), cache)


def _lstm_backward_args() -> tuple:
    h, cache = rnn.lstm_forward(*_sequence("lstm", 35))
    return (np.ones_like(h), cache)


def _clip_args() -> tuple:
    rng = np.random.default_rng(36)
    return ({"W": rng.standard_normal((3, 3)), "b": rng.standard_normal(3)}, 0.1)


NO_MUTATION = [
    pytest.param(rnn.rnn_step_forward, lambda: tuple(_step("rnn", 37)), id="rnn_step_forward"),
    pytest.param(rnn.rnn_step_backward, _rnn_step_backward_args, id="rnn_step_backward"),
    pytest.param(rnn.rnn_forward, lambda: tuple(_sequence("rnn", 38)), id="rnn_forward"),
    pytest.param(rnn.rnn_backward, _rnn_backward_args, id="rnn_backward"),
    pytest.param(rnn.lstm_step_forward, lambda: tuple(_step("lstm", 39)), id="lstm_step_forward"),
    pytest.param(rnn.lstm_step_backward, _lstm_step_backward_args, id="lstm_step_backward"),
    pytest.param(rnn.lstm_forward, lambda: tuple(_sequence("lstm", 40)), id="lstm_forward"),
    pytest.param(rnn.lstm_backward, _lstm_backward_args, id="lstm_backward"),
    pytest.param(rnn.clip_grad_norm, _clip_args, id="clip_grad_norm-dict"),
    pytest.param(rnn.clip_grad_norm, lambda: (list(_clip_args()[0].values()), 0.1), id="clip_grad_norm-list"),
]


def assert_unchanged(now: object, before: object, where: str) -> None:
    assert type(now) is type(before), where
    if isinstance(before, np.ndarray):
        assert now.dtype == before.dtype and np.array_equal(now, before), f"{where} was changed"
    elif isinstance(before, (tuple, list)):
        assert len(now) == len(before), where
        for k, (a, b) in enumerate(zip(now, before, strict=True)):
            assert_unchanged(a, b, f"{where}[{k}]")
    elif isinstance(before, dict):
        assert list(now) == list(before), where
        for k in before:
            assert_unchanged(now[k], before[k], f"{where}[{k!r}]")
    else:
        assert now == before, where


def arrays_in(obj: object) -> list[np.ndarray]:
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays_in(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in arrays_in(o)]
    return []


@pytest.mark.parametrize(("fn", "make_args"), NO_MUTATION)
def test_no_argument_is_mutated(fn: Callable, make_args: Callable[[], tuple]) -> None:
    args = make_args()
    before = copy.deepcopy(args)
    first = fn(*args)
    assert_unchanged(args, before, "args")
    # Calling again on the same arguments gives the same result: nothing was consumed in place
    # (the lecture's LSTM backward adds into dnext_c; a second call would then differ).
    second = fn(*args)
    assert_unchanged(second, first, "result")
    if fn.__name__.endswith("backward") or fn is rnn.clip_grad_norm:
        # Gradients are new arrays, never views of an argument (or of the cache).
        for out in arrays_in(first):
            assert not any(np.shares_memory(out, a) for a in arrays_in(args))


# ---- bad input: a ValueError that names the argument and the expected shape

RNG = np.random.default_rng(42)
N_, T_, D_, H_ = 2, 3, 3, 4
X = RNG.standard_normal((N_, T_, D_))
H0 = RNG.standard_normal((N_, H_))
WX, WH, B = weights(RNG, D_, H_)
WX4, WH4, B4 = weights(RNG, D_, H_, 4)
_, RNN_STEP_CACHE = rnn.rnn_step_forward(X[:, 0], H0, WX, WH, B)
_, RNN_CACHE = rnn.rnn_forward(X, H0, WX, WH, B)
_, _, LSTM_STEP_CACHE = rnn.lstm_step_forward(X[:, 0], H0, H0, WX4, WH4, B4)
_, LSTM_CACHE = rnn.lstm_forward(X, H0, WX4, WH4, B4)
BAD_N = np.ones((N_ + 1, H_))

BAD_INPUT = [
    # vanilla RNN
    pytest.param(lambda: rnn.rnn_step_forward(X[0, 0], H0, WX, WH, B), r"x must have shape \(N, D\)", id="step-x-1d"),
    pytest.param(lambda: rnn.rnn_step_forward(X[:, 0], BAD_N, WX, WH, B),
                 r"prev_h must have shape \(N, H\) with N = 2", id="step-prev_h-N"),
    pytest.param(lambda: rnn.rnn_step_forward(X[:, 0], H0, WX.T, WH, B),
                 r"Wx must have shape \(D, H\) = \(3, 4\).*is Wx transposed\?", id="step-Wx-T"),
    pytest.param(lambda: rnn.rnn_step_forward(X[:, 0], H0, WX, WH[:, :3], B),
                 r"Wh must have shape \(H, H\) = \(4, 4\)", id="step-Wh"),
    pytest.param(lambda: rnn.rnn_step_forward(X[:, 0], H0, WX, WH, B[None]),
                 r"b must have shape \(H,\) = \(4,\).*not a row", id="step-b-row"),
    pytest.param(lambda: rnn.rnn_step_forward([["a"]], H0, WX, WH, B), r"x must be an array of numbers",
                 id="step-x-strings"),
    pytest.param(lambda: rnn.rnn_step_backward(np.ones((N_, D_)), RNN_STEP_CACHE),
                 r"dnext_h has shape \(2, 3\), but next_h had shape \(2, 4\)", id="step-dnext_h"),
    pytest.param(lambda: rnn.rnn_step_backward(np.ones((N_, H_)), RNN_STEP_CACHE[:4]),
                 r"cache must be the tuple of 5 items that rnn_step_forward returned", id="step-cache"),
    pytest.param(lambda: rnn.rnn_forward(X[:, 0], H0, WX, WH, B), r"x must have shape \(N, T, D\)", id="seq-x-2d"),
    pytest.param(lambda: rnn.rnn_forward(X[:, :0], H0, WX, WH, B), r"T = 0 time steps", id="seq-T0"),
    pytest.param(lambda: rnn.rnn_forward(X, BAD_N, WX, WH, B), r"h0 must have shape \(N, H\) with N = 2",
                 id="seq-h0-N"),
    pytest.param(lambda: rnn.rnn_forward(X, H0[:, :0], WX[:, :0], WH[:0, :0], B[:0]), r"H = 0", id="seq-H0"),
    pytest.param(lambda: rnn.rnn_forward(X, H0, WX[:2], WH, B), r"Wx must have shape \(D, H\) = \(3, 4\)",
                 id="seq-Wx-D"),
    pytest.param(lambda: rnn.rnn_backward(np.ones((N_, H_)), RNN_CACHE),
                 r"dh has shape \(2, 4\), but the hidden states", id="seq-dh"),
    pytest.param(lambda: rnn.rnn_backward(np.ones((N_, T_, H_)), LSTM_CACHE),
                 r"cache must be the tuple of 5 items that rnn_forward returned", id="seq-lstm-cache"),
    # LSTM
    pytest.param(lambda: rnn.lstm_step_forward(X[:, 0], H0, H0, WX, WH4, B4),
                 r"Wx must have shape \(D, 4H\) = \(3, 16\).*four gates", id="lstm-Wx-H"),
    pytest.param(lambda: rnn.lstm_step_forward(X[:, 0], H0, H0, WX4.T, WH4, B4),
                 r"is Wx transposed\? torch's weight_ih is \(4H, D\)", id="lstm-Wx-torch-layout"),
    pytest.param(lambda: rnn.lstm_step_forward(X[:, 0], H0, H0, WX4, WH, B4),
                 r"Wh must have shape \(H, 4H\) = \(4, 16\).*four gates", id="lstm-Wh-H"),
    pytest.param(lambda: rnn.lstm_step_forward(X[:, 0], H0, H0, WX4, WH4, B),
                 r"b must have shape \(4H,\) = \(16,\)", id="lstm-b"),
    pytest.param(lambda: rnn.lstm_step_forward(X[:, 0], H0, H0[:, :3], WX4, WH4, B4),
                 r"prev_c must have the shape of prev_h", id="lstm-prev_c"),
    pytest.param(lambda: rnn.lstm_step_backward(np.ones((N_, H_)), np.ones((N_, 1)), LSTM_STEP_CACHE),
                 r"dnext_c has shape \(2, 1\), but next_c had shape \(2, 4\)", id="lstm-dnext_c"),
    pytest.param(lambda: rnn.lstm_step_backward(np.ones((N_, H_)), np.ones((N_, H_)), RNN_STEP_CACHE),
                 r"cache must be the tuple of 10 items that lstm_step_forward", id="lstm-step-cache"),
    pytest.param(lambda: rnn.lstm_forward(X[0], H0, WX4, WH4, B4), r"x must have shape \(N, T, D\)",
                 id="lstm-x-2d"),
    pytest.param(lambda: rnn.lstm_forward(X, H0, WX, WH, B), r"Wx must have shape \(D, 4H\)", id="lstm-rnn-weights"),
    pytest.param(lambda: rnn.lstm_backward(np.ones((N_, T_, D_)), LSTM_CACHE), r"dh has shape \(2, 3, 3\)",
                 id="lstm-dh"),
    pytest.param(lambda: rnn.lstm_backward(np.ones((N_, T_, H_)), RNN_CACHE),
                 r"cache must be the tuple of 3 items that lstm_forward", id="lstm-rnn-cache"),
    # clipping
    pytest.param(lambda: rnn.clip_grad_norm([WX], 0.0), r"max_norm must be a positive finite number",
                 id="clip-zero"),
    pytest.param(lambda: rnn.clip_grad_norm([WX], -1.0), r"max_norm must be a positive", id="clip-negative"),
    pytest.param(lambda: rnn.clip_grad_norm([WX], float("nan")), r"max_norm must be a positive", id="clip-nan"),
    pytest.param(lambda: rnn.clip_grad_norm([WX], "1"), r"max_norm must be a positive", id="clip-string"),
    pytest.param(lambda: rnn.clip_grad_norm(WX, 1.0), r"grads must be a list, tuple or dict.*pass \[dW\]",
                 id="clip-one-array"),
    pytest.param(lambda: rnn.clip_grad_norm({"W": np.array([1.0, np.nan])}, 1.0), r"grads\['W'\] holds NaN or inf",
                 id="clip-nan-grad"),
    pytest.param(lambda: rnn.clip_grad_norm([WX, np.array([np.inf])], 1.0), r"grads\[1\] holds NaN or inf",
                 id="clip-inf-grad"),
]


@pytest.mark.parametrize(("call", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
