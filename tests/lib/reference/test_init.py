"""Tests of dlcourse.reference.init.

Initializers are random, so they are proven by the statistics of large seeded
samples (mean, standard deviation, range, kurtosis; margins of 10 standard
errors or more) and by agreement with torch.nn.init: the same formulas, read
from torch's own fan and gain helpers, and torch's samples on its transposed
(fan_out, fan_in) weight layout. The Swish and the deep stack's backward passes
are proven by central differences and by PyTorch autograd in float64.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import init

NUM_TOL = 1e-7
TORCH_TOL = 1e-10
# (fan_in, fan_out): tall, wide and square, so a fan mix-up shows in at least one.
FANS = [(300, 700), (700, 300), (400, 400), (64, 10)]


def standard_error_of_std(std: float, n: int, excess_kurtosis: float = 0.0) -> float:
    """Standard error of a sample standard deviation: std * sqrt((kurtosis_excess + 2) / (4n))."""
    return std * math.sqrt((excess_kurtosis + 2.0) / (4.0 * n))


def excess_kurtosis(a: np.ndarray) -> float:
    z = (a - a.mean()) / a.std()
    return float(np.mean(z**4) - 3.0)


def torch_fans(fan_in: int, fan_out: int) -> tuple[int, int]:
    """torch's own reading of the fans of an nn.Linear(fan_in, fan_out) weight, (fan_out, fan_in)."""
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(fan_out, fan_in))


def torch_sample(fn, fan_in: int, fan_out: int, seed: int, **kwargs) -> np.ndarray:
    """torch's initializer on its (fan_out, fan_in) layout, transposed to ours (fan_in, fan_out)."""
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    fn(w, generator=torch.Generator().manual_seed(seed), **kwargs)
    return w.numpy().T


def assert_normal_sample(w: np.ndarray, std: float) -> None:
    n = w.size
    se = standard_error_of_std(std, n)
    assert abs(w.mean()) < 10 * std / math.sqrt(n)
    assert abs(w.std() - std) < 10 * se, (w.std(), std)
    assert abs(excess_kurtosis(w)) < 10 * math.sqrt(24.0 / n)  # a normal, not a uniform (-1.2)


# ---- the formulas, against torch's definitions


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
def test_xavier_formulas_match_torch(fan_in: int, fan_out: int) -> None:
    t_in, t_out = torch_fans(fan_in, fan_out)
    assert (t_in, t_out) == (fan_in, fan_out)  # torch's weight is (out, in): its fans are ours
    for gain in (1.0, torch.nn.init.calculate_gain("tanh")):
        torch_std = gain * math.sqrt(2.0 / float(t_in + t_out))  # torch.nn.init.xavier_normal_
        torch_bound = math.sqrt(3.0) * torch_std  # torch.nn.init.xavier_uniform_
        assert init.xavier_std(fan_in, fan_out, gain) == pytest.approx(torch_std, rel=1e-14)
        assert init.xavier_uniform_bound(fan_in, fan_out, gain) == pytest.approx(torch_bound, rel=1e-14)
    # The lectures' U(-sqrt(6/(in+out)), +sqrt(6/(in+out))) (TUM ML, Glorot & Bengio):
    assert init.xavier_uniform_bound(fan_in, fan_out) == pytest.approx(math.sqrt(6 / (fan_in + fan_out)))


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2])
def test_kaiming_formula_matches_torch(fan_in: int, fan_out: int, mode: str, slope: float) -> None:
    t_in, t_out = torch_fans(fan_in, fan_out)
    fan = t_in if mode == "fan_in" else t_out
    torch_std = torch.nn.init.calculate_gain("leaky_relu", slope) / math.sqrt(fan)  # kaiming_normal_
    assert init.kaiming_std(fan_in, fan_out, mode, slope) == pytest.approx(torch_std, rel=1e-14)
    if slope == 0.0:
        assert torch.nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2.0))
        if mode == "fan_in":
            assert init.kaiming_std(fan_in, fan_out) == pytest.approx(math.sqrt(2.0 / fan_in))


def test_the_two_xaviers_agree_on_square_layers_only() -> None:
    assert init.xavier_std(400, 400) == pytest.approx(1 / math.sqrt(400))
    assert init.xavier_std(100, 900) != pytest.approx(1 / math.sqrt(100))


# ---- the samples


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS[:3])
def test_xavier_normal_sample_and_torch_sample(fan_in: int, fan_out: int) -> None:
    std = math.sqrt(2.0 / (fan_in + fan_out))
    w = init.xavier_normal(fan_in, fan_out, np.random.default_rng(0))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    assert_normal_sample(w, std)
    t = torch_sample(torch.nn.init.xavier_normal_, fan_in, fan_out, seed=0)
    assert t.shape == w.shape
    assert_normal_sample(t, std)
    assert abs(w.std() - t.std()) < 10 * math.sqrt(2) * standard_error_of_std(std, w.size)


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS[:3])
def test_xavier_uniform_sample_and_torch_sample(fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    for w in (init.xavier_uniform(fan_in, fan_out, np.random.default_rng(1)),
              torch_sample(torch.nn.init.xavier_uniform_, fan_in, fan_out, seed=1)):
        n = w.size
        assert w.shape == (fan_in, fan_out)
        assert w.min() >= -bound and w.max() <= bound
        # P(no sample in the top 1% of the range) = 0.995^n: never, for n >= 100,000.
        assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
        std = bound / math.sqrt(3.0)
        assert abs(w.std() - std) < 10 * standard_error_of_std(std, n, -1.2)
        assert abs(excess_kurtosis(w) + 1.2) < 0.05


@pytest.mark.parametrize(("fan_in", "fan_out"), FANS[:3])
def test_kaiming_normal_sample_and_torch_sample(fan_in: int, fan_out: int) -> None:
    std = math.sqrt(2.0 / fan_in)
    w = init.kaiming_normal(fan_in, fan_out, np.random.default_rng(2))
    assert w.shape == (fan_in, fan_out)
    assert_normal_sample(w, std)
    t = torch_sample(torch.nn.init.kaiming_normal_, fan_in, fan_out, seed=2, nonlinearity="relu")
    assert_normal_sample(t, std)
    w_out = init.kaiming_normal(fan_in, fan_out, np.random.default_rng(3), mode="fan_out")
    t_out = torch_sample(torch.nn.init.kaiming_normal_, fan_in, fan_out, seed=3, mode="fan_out")
    assert_normal_sample(w_out, math.sqrt(2.0 / fan_out))
    assert_normal_sample(t_out, math.sqrt(2.0 / fan_out))


def test_lecun_normal_and_normal_and_zeros() -> None:
    assert_normal_sample(init.lecun_normal(200, 600, np.random.default_rng(4)), 1 / math.sqrt(200))
    w = init.normal((300, 400), 0.01, np.random.default_rng(5))
    assert w.shape == (300, 400)
    assert_normal_sample(w, 0.01)
    torch_w = torch.nn.init.normal_(torch.empty(300, 400, dtype=torch.float64), std=0.01,
                                    generator=torch.Generator().manual_seed(5)).numpy()
    assert_normal_sample(torch_w, 0.01)
    assert init.normal(7, 0.0, np.random.default_rng(0)).shape == (7,)
    z = init.zeros((3, 4))
    assert z.shape == (3, 4) and not z.any() and z.dtype == np.float64
    np.testing.assert_array_equal(z, torch.nn.init.zeros_(torch.empty(3, 4)).numpy())
    assert init.zeros(5).shape == (5,)


def test_seeded_generators_reproduce_and_no_global_state() -> None:
    for fn in (init.xavier_normal, init.xavier_uniform, init.kaiming_normal, init.lecun_normal):
        before = np.random.get_state()[1].copy()  # noqa: NPY002 - the legacy global state must stay untouched
        a = fn(20, 30, np.random.default_rng(7))
        b = fn(20, 30, np.random.default_rng(7))
        np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, fn(20, 30, np.random.default_rng(8)))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: init.xavier_normal(0, 3, np.random.default_rng(0)), "fan_in"),
    (lambda: init.xavier_uniform(3, -1, np.random.default_rng(0)), "fan_out"),
    (lambda: init.kaiming_normal(3.5, 3, np.random.default_rng(0)), "fan_in"),
    (lambda: init.kaiming_normal(3, 3, 0), "Generator"),
    (lambda: init.kaiming_normal(3, 3, np.random.default_rng(0), mode="fan_avg"), "mode"),
    (lambda: init.xavier_normal(3, 3, np.random.default_rng(0), gain=-1.0), "gain"),
    (lambda: init.normal((2, 2), -0.1, np.random.default_rng(0)), "std"),
    (lambda: init.zeros((2, -1)), "shape"),
])
def test_bad_input_raises_value_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ---- Swish


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_swish_forward_and_backward_match_torch(beta: float) -> None:
    rng = np.random.default_rng(10)
    x = 3 * rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    out, cache = init.swish_forward(x, beta)
    dx = init.swish_backward(dout, cache)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ot = xt * torch.sigmoid(beta * xt)
    ot.backward(torch.tensor(dout))
    assert rel_error(out, ot.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    if beta == 1.0:
        assert rel_error(out, F.silu(torch.tensor(x)).numpy()) < TORCH_TOL
    dx_num = eval_numerical_gradient_array(lambda v: init.swish_forward(v, beta)[0], x, dout)
    assert rel_error(dx, dx_num) < NUM_TOL
    value, derivative = init.swish(x, beta)
    assert rel_error(value, out) == 0 and rel_error(derivative, init.swish_backward(np.ones_like(x), cache)) == 0


def test_swish_is_finite_for_huge_inputs() -> None:
    out, grad = init.swish(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 1000.0], atol=1e-12)
    np.testing.assert_allclose(grad, [0.0, 0.5, 1.0], atol=1e-12)


# ---- the deep stack


def _stack(rng: np.random.Generator, widths: list[int], n: int = 5) -> tuple[np.ndarray, list[np.ndarray]]:
    x = rng.standard_normal((n, widths[0]))
    ws = [rng.standard_normal((a, b)) / math.sqrt(a) for a, b in itertools.pairwise(widths)]
    return x, ws


def _torch_stack(x: np.ndarray, ws: list[np.ndarray], activation: str):
    f = torch.tanh if activation == "tanh" else torch.relu
    wt = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in ws]
    h, hs = torch.tensor(x, dtype=torch.float64), []
    for w in wt:
        h = f(h @ w)
        hs.append(h)
    return hs, wt


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_deep_forward_and_backward_match_torch(activation: str) -> None:
    rng = np.random.default_rng(11)
    x, ws = _stack(rng, [6, 5, 7, 4])
    dout = rng.standard_normal((5, 4))
    hs, cache = init.deep_forward(x, ws, activation)
    dws = init.deep_backward(dout, cache)
    ths, wt = _torch_stack(x, ws, activation)
    ths[-1].backward(torch.tensor(dout))
    assert [h.shape for h in hs] == [(5, 5), (5, 7), (5, 4)]
    for h, th in zip(hs, ths, strict=True):
        assert rel_error(h, th.detach().numpy()) < TORCH_TOL
    for dw, w, tw in zip(dws, ws, wt, strict=True):
        assert dw.shape == w.shape
        assert rel_error(dw, tw.grad.numpy()) < TORCH_TOL
    grads = init.weight_gradients(x, ws, activation, dout)
    assert all(rel_error(a, b) == 0 for a, b in zip(grads, dws, strict=True))
    assert all(rel_error(a, b) == 0 for a, b in zip(init.forward_activations(x, ws, activation), hs, strict=True))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_deep_backward_numerical(activation: str) -> None:
    rng = np.random.default_rng(12)
    x, ws = _stack(rng, [4, 5, 3])
    # Seeded: no pre-activation lies within h = 1e-5 of ReLU's kink.
    dout = rng.standard_normal((5, 3))
    dws = init.weight_gradients(x, ws, activation, dout)
    for i in range(len(ws)):
        def f(v, i=i):
            trial = [*ws[:i], v, *ws[i + 1:]]
            return init.forward_activations(x, trial, activation)[-1]

        num = eval_numerical_gradient_array(f, ws[i].copy(), dout)
        assert rel_error(dws[i], num) < NUM_TOL


def test_deep_stack_rejects_bad_input() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="activation"):
        init.deep_forward(x, [np.ones((3, 3))], "sigmoid")
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        init.deep_forward(x, [np.ones((3, 4)), np.ones((3, 2))], "tanh")
    with pytest.raises(ValueError, match="at least one"):
        init.deep_forward(x, [], "relu")
    _, cache = init.deep_forward(x, [np.ones((3, 4))], "relu")
    with pytest.raises(ValueError, match="dout"):
        init.deep_backward(np.ones((2, 5)), cache)
