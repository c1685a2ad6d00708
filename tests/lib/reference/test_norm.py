"""Tests of dlcourse.reference.norm.

Every backward pass is proven twice: against central-difference numerical
gradients (relative error < 1e-7) and against PyTorch autograd in float64.
The running statistics are checked against their formula and against
torch.nn.BatchNorm1d, with torch's momentum (1 - ours) and its unbiased
running variance (a factor N / (N - 1)) mapped explicitly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.checks.compare import rel_error
from dlcourse.checks.gradients import eval_numerical_gradient_array
from dlcourse.reference import norm

NUM_TOL = 1e-7  # numerical gradient vs analytic (CS231n convention)
TORCH_TOL = 1e-10  # same formula in float64 on both sides: agreement to rounding
EPS = 1e-5

# Non-square. Not N = 2 for gradient checks: with two samples every output is about +-1 whatever x
# is (see test_tokyo_train_eval_example), so dx is ~1e-7 and central differences cannot resolve it.
SHAPES = [(5, 3), (4, 7), (3, 6)]


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def make(seed: int, N: int, D: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x with a different mean and scale per feature (so normalizing changes something),
    gamma, beta and dout, all float64."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 3.0, size=D) * rng.standard_normal((N, D)) + rng.uniform(-2.0, 2.0, size=D)
    return x, rng.uniform(0.5, 1.5, size=D), rng.standard_normal(D), rng.standard_normal((N, D))


def running(seed: int, D: int) -> tuple[np.ndarray, np.ndarray]:
    """Running statistics as after some training: any mean, a positive variance."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(D), rng.uniform(0.5, 2.0, size=D)


def bn_out(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, param: dict) -> np.ndarray:
    """Forward output with a copy of param, so that repeated calls see the same statistics."""
    param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in param.items()}
    return norm.batchnorm_forward(x, gamma, beta, param)[0]


BACKWARDS = {"full": norm.batchnorm_backward, "alt": norm.batchnorm_backward_alt}


# ---- numerical gradient checks


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_backward_numerical(backward: str, shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(0, *shape)
    param = {"mode": "train"}
    _, cache = norm.batchnorm_forward(x, gamma, beta, dict(param))
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    assert dx.shape == x.shape and dgamma.shape == gamma.shape and dbeta.shape == beta.shape
    dx_num = eval_numerical_gradient_array(lambda v: bn_out(v, gamma, beta, param), x, dout)
    dgamma_num = eval_numerical_gradient_array(lambda v: bn_out(x, v, beta, param), gamma, dout)
    dbeta_num = eval_numerical_gradient_array(lambda v: bn_out(x, gamma, v, param), beta, dout)
    assert rel_error(dx, dx_num) < NUM_TOL
    assert rel_error(dgamma, dgamma_num) < NUM_TOL
    assert rel_error(dbeta, dbeta_num) < NUM_TOL


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("shape", [(5, 3), (4, 7), (1, 4)])
def test_batchnorm_test_mode_backward_numerical(backward: str, shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(1, *shape)
    mean, var = running(2, shape[1])
    param = {"mode": "test", "running_mean": mean, "running_var": var}
    _, cache = norm.batchnorm_forward(x, gamma, beta, dict(param))
    assert cache["mode"] == "test"
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: bn_out(v, gamma, beta, param), x, dout)
    dgamma_num = eval_numerical_gradient_array(lambda v: bn_out(x, v, beta, param), gamma, dout)
    dbeta_num = eval_numerical_gradient_array(lambda v: bn_out(x, gamma, v, param), beta, dout)
    assert rel_error(dx, dx_num) < NUM_TOL
    assert rel_error(dgamma, dgamma_num) < NUM_TOL
    assert rel_error(dbeta, dbeta_num) < NUM_TOL
    # In test mode the layer is affine in x, so dx is dout scaled per feature.
    np.testing.assert_allclose(dx, dout * gamma / np.sqrt(var + EPS), rtol=1e-13)


@pytest.mark.parametrize("shape", [(5, 3), (4, 7), (64, 10), (2, 1)])
def test_batchnorm_backward_alt_equals_full(shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(3, *shape)
    _, cache = norm.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for full, alt, name in zip(norm.batchnorm_backward(dout, cache), norm.batchnorm_backward_alt(dout, cache),
                               ("dx", "dgamma", "dbeta"), strict=True):
        assert rel_error(full, alt) < 1e-10, name


@pytest.mark.parametrize("shape", [(5, 3), (4, 7), (1, 6)])
def test_layernorm_backward_numerical(shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(4, *shape)
    _, cache = norm.layernorm_forward(x, gamma, beta, {})
    dx, dgamma, dbeta = norm.layernorm_backward(dout, cache)
    assert dx.shape == x.shape and dgamma.shape == gamma.shape and dbeta.shape == beta.shape

    def out(a: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        return norm.layernorm_forward(a, g, b, {"eps": EPS})[0]

    assert rel_error(dx, eval_numerical_gradient_array(lambda v: out(v, gamma, beta), x, dout)) < NUM_TOL
    assert rel_error(dgamma, eval_numerical_gradient_array(lambda v: out(x, v, beta), gamma, dout)) < NUM_TOL
    assert rel_error(dbeta, eval_numerical_gradient_array(lambda v: out(x, gamma, v), beta, dout)) < NUM_TOL


# ---- against PyTorch


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_train_matches_torch(shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(5, *shape)
    out, cache = norm.batchnorm_forward(x, gamma, beta, {"mode": "train", "momentum": 0.9})
    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    xt, gt, bt = t(x, True), t(gamma, True), t(beta, True)
    out_t = F.batch_norm(xt, None, None, gt, bt, training=True, momentum=0.1, eps=EPS)
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dgamma, gt.grad.numpy()) < TORCH_TOL
    assert rel_error(dbeta, bt.grad.numpy()) < TORCH_TOL


@pytest.mark.parametrize("shape", [(5, 3), (1, 4)])
def test_batchnorm_test_mode_matches_torch_eval(shape: tuple[int, int]) -> None:
    x, gamma, beta, dout = make(6, *shape)
    mean, var = running(7, shape[1])
    out, cache = norm.batchnorm_forward(x, gamma, beta, {"mode": "test", "running_mean": mean, "running_var": var})
    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    xt, gt, bt = t(x, True), t(gamma, True), t(beta, True)
    out_t = F.batch_norm(xt, t(mean), t(var), gt, bt, training=False, eps=EPS)
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dgamma, gt.grad.numpy()) < TORCH_TOL
    assert rel_error(dbeta, bt.grad.numpy()) < TORCH_TOL


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_running_statistics_match_torch_batchnorm1d(momentum: float) -> None:
    """Our momentum is the weight of the old value, torch's that of the new one; torch
    adds the unbiased variance. So the running means agree, and each update of torch's
    running variance adds N / (N - 1) times what ours adds."""
    N, D = 4, 3
    tbn = nn.BatchNorm1d(D, eps=EPS, momentum=1 - momentum).double()  # the mapping: torch's = 1 - ours
    ours = {"mode": "train", "momentum": momentum, "running_mean": np.zeros(D), "running_var": np.ones(D)}
    for step in range(5):
        x, gamma, beta, _ = make(10 + step, N, D)
        with torch.no_grad():
            tbn.weight.copy_(t(gamma))
            tbn.bias.copy_(t(beta))
        old_ours, old_torch = ours["running_var"].copy(), tbn.running_var.numpy().copy()
        out, _ = norm.batchnorm_forward(x, gamma, beta, ours)
        out_t = tbn(t(x))
        assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
        np.testing.assert_allclose(ours["running_mean"], tbn.running_mean.numpy(), rtol=1e-12, atol=1e-15)
        added_ours = ours["running_var"] - momentum * old_ours
        added_torch = tbn.running_var.numpy() - momentum * old_torch
        np.testing.assert_allclose(added_torch, added_ours * N / (N - 1), rtol=1e-12)
    # Both started at ones, so torch's running variance is now strictly larger (every update larger).
    assert np.all(tbn.running_var.numpy() > ours["running_var"])


def test_layernorm_matches_torch() -> None:
    x, gamma, beta, dout = make(8, 4, 7)
    out, cache = norm.layernorm_forward(x, gamma, beta, {"eps": EPS})
    dx, dgamma, dbeta = norm.layernorm_backward(dout, cache)
    ln = nn.LayerNorm(7, eps=EPS).double()
    with torch.no_grad():
        ln.weight.copy_(t(gamma))
        ln.bias.copy_(t(beta))
    xt = t(x, True)
    out_t = ln(xt)
    out_t.backward(t(dout))
    assert rel_error(out, out_t.detach().numpy()) < TORCH_TOL
    assert rel_error(dx, xt.grad.numpy()) < TORCH_TOL
    assert rel_error(dgamma, ln.weight.grad.numpy()) < TORCH_TOL
    assert rel_error(dbeta, ln.bias.grad.numpy()) < TORCH_TOL


# ---- running statistics and mutation


@pytest.mark.parametrize("momentum", [0.9, 0.5, 0.0, 1.0])
def test_running_averages_follow_the_formula(momentum: float) -> None:
    D = 3
    param = {"mode": "train", "momentum": momentum}  # no running statistics yet: zeros
    mean_expected, var_expected = np.zeros(D), np.zeros(D)
    for step in range(4):
        x = make(70 + step, 5, D)[0]
        norm.batchnorm_forward(x, np.ones(D), np.zeros(D), param)
        mean_expected = momentum * mean_expected + (1 - momentum) * x.mean(axis=0)
        var_expected = momentum * var_expected + (1 - momentum) * x.var(axis=0)  # biased: ddof=0
        np.testing.assert_allclose(param["running_mean"], mean_expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(param["running_var"], var_expected, rtol=1e-13, atol=1e-15)
    if momentum == 0.0:
        np.testing.assert_allclose(param["running_var"], x.var(axis=0), rtol=1e-13)  # the last batch only
    if momentum == 1.0:
        np.testing.assert_array_equal(param["running_var"], np.zeros(D))  # never moves


def test_default_momentum_and_eps() -> None:
    x, gamma, beta, _ = make(80, 4, 3)
    param = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.zeros(3)}
    out, _ = norm.batchnorm_forward(x, gamma, beta, param)
    np.testing.assert_allclose(param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(out, gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta, rtol=1e-12)


def test_test_mode_uses_and_keeps_the_running_statistics() -> None:
    x, gamma, beta, _ = make(81, 5, 4)
    mean, var = running(82, 4)
    mean_copy, var_copy = mean.copy(), var.copy()
    param = {"mode": "test", "running_mean": mean, "running_var": var}
    out, _ = norm.batchnorm_forward(x, gamma, beta, param)
    np.testing.assert_allclose(out, gamma * (x - mean) / np.sqrt(var + EPS) + beta, rtol=1e-13)
    assert param["running_mean"] is mean and param["running_var"] is var
    np.testing.assert_array_equal(mean, mean_copy)
    np.testing.assert_array_equal(var, var_copy)
    # Each sample is normalized on its own: its output does not depend on the batch.
    np.testing.assert_array_equal(norm.batchnorm_forward(x[2:3], gamma, beta, param)[0], out[2:3])


def test_test_mode_without_running_statistics_stores_zeros() -> None:
    """CS231n's convention: missing statistics are zeros, so an untrained layer divides by sqrt(eps)."""
    x = np.array([[1.0, -2.0]])
    param = {"mode": "test"}
    out, _ = norm.batchnorm_forward(x, np.ones(2), np.zeros(2), param)
    np.testing.assert_allclose(out, x / np.sqrt(EPS), rtol=1e-13)
    np.testing.assert_array_equal(param["running_mean"], np.zeros(2))
    np.testing.assert_array_equal(param["running_var"], np.zeros(2))


def test_callers_running_arrays_are_updated_in_place() -> None:
    D = 3
    mean, var = np.zeros(D), np.ones(D)
    param = {"mode": "train", "running_mean": mean, "running_var": var}
    for step in range(2):
        x = make(90 + step, 4, D)[0]
        norm.batchnorm_forward(x, np.ones(D), np.zeros(D), param)
        assert param["running_mean"] is mean and param["running_var"] is var
    assert np.all(mean != 0) and np.all(var != 1)
    # A float32 array is updated in place too (rounded to float32).
    mean32 = np.zeros(D, dtype=np.float32)
    param = {"mode": "train", "running_mean": mean32}
    norm.batchnorm_forward(x, np.ones(D), np.zeros(D), param)
    assert param["running_mean"] is mean32
    np.testing.assert_allclose(mean32, 0.1 * x.mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("value", [[0.0, 0.0, 0.0], np.zeros(3, dtype=int), None])
def test_other_running_values_are_replaced_by_float64_arrays(value: object) -> None:
    x = make(95, 4, 3)[0]
    param = {"mode": "train", "running_mean": value}
    norm.batchnorm_forward(x, np.ones(3), np.zeros(3), param)
    new = param["running_mean"]
    assert isinstance(new, np.ndarray) and new.dtype == np.float64 and new.shape == (3,)
    np.testing.assert_allclose(new, 0.1 * x.mean(axis=0), rtol=1e-13)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(value, 0)  # an int array cannot hold the average: left alone


NO_MUTATION: dict[str, tuple[Callable, Callable, dict | None]] = {
    "bn-train-full": (norm.batchnorm_forward, norm.batchnorm_backward, {"mode": "train"}),
    "bn-train-alt": (norm.batchnorm_forward, norm.batchnorm_backward_alt, {"mode": "train"}),
    "bn-test": (norm.batchnorm_forward, norm.batchnorm_backward, {"mode": "test"}),
    "ln": (norm.layernorm_forward, norm.layernorm_backward, {"eps": EPS}),
}


@pytest.mark.parametrize("name", NO_MUTATION)
def test_inputs_are_never_modified(name: str) -> None:
    forward, backward, param = NO_MUTATION[name]
    x, gamma, beta, dout = make(100, 5, 4)
    mean, var = running(101, 4)
    if name == "bn-test":
        param = dict(param, running_mean=mean, running_var=var)
    copies = [a.copy() for a in (x, gamma, beta, dout, mean, var)]
    _, cache = forward(x, gamma, beta, param)
    backward(dout, cache)
    for a, c in zip((x, gamma, beta, dout, mean, var), copies, strict=True):
        np.testing.assert_array_equal(a, c)


# ---- what normalization does


def test_batchnorm_train_output_has_zero_mean_and_unit_variance() -> None:
    x = make(110, 50, 4)[0] * np.array([1e-2, 1.0, 10.0, 1e3])  # very different scales per feature
    out, _ = norm.batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    # Exactly var / (var + eps): 1 up to the eps under the square root.
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + EPS), rtol=1e-12)
    np.testing.assert_allclose(out.var(axis=0)[1:], 1, rtol=1e-4)


def test_gamma_and_beta_can_undo_the_normalization() -> None:
    """I2DL lecture 8: the network can learn gamma = sqrt(Var[x]) and beta = E[x]."""
    x = make(111, 8, 5)[0]
    gamma, beta = np.sqrt(x.var(axis=0) + EPS), x.mean(axis=0)
    out, _ = norm.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out, x, rtol=1e-12, atol=1e-12)


def test_layernorm_normalizes_each_sample_and_ignores_the_mode() -> None:
    x, _, _, _ = make(112, 6, 8)
    x[0] *= 100  # one sample on another scale: layer norm does not care
    out, _ = norm.layernorm_forward(x, np.ones(8), np.zeros(8), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), x.var(axis=1) / (x.var(axis=1) + EPS), rtol=1e-12)
    out_test, _ = norm.layernorm_forward(x, np.ones(8), np.zeros(8), {"mode": "test"})
    np.testing.assert_array_equal(out, out_test)
    # A sample alone gives the same answer as in its batch (no batch statistics).
    np.testing.assert_allclose(norm.layernorm_forward(x[3:4], np.ones(8), np.zeros(8), None)[0], out[3:4],
                               rtol=1e-14)


def test_tokyo_train_eval_example() -> None:
    """Tokyo DL2, "train/eval mode in PyTorch": in train mode sample 0's output depends on
    the sample next to it (the slide's -0.6516 vs -0.2094), in eval mode it does not (-0.1022
    three times), and one sample alone is refused in train mode. The slide's numbers come from
    an unseeded torch.randn and a randomly initialized network, so they cannot be reproduced;
    the behaviour can."""
    D = 10
    rng = np.random.default_rng(120)
    x = rng.standard_normal((3, D))  # three samples of pre-activations
    gamma, beta = np.ones(D), np.zeros(D)  # as initialized
    out01, _ = norm.batchnorm_forward(x[[0, 1]], gamma, beta, {"mode": "train"})
    out02, _ = norm.batchnorm_forward(x[[0, 2]], gamma, beta, {"mode": "train"})
    assert not np.allclose(out01[0], out02[0])
    # With two samples each feature normalizes to +-1/sqrt(1 + 4 eps / d^2), d = x_0 - x_other:
    # all that is left of sample 0 is which of the two is larger in each feature.
    d = x[0] - x[1]
    np.testing.assert_allclose(out01[0], np.sign(d) / np.sqrt(1 + 4 * EPS / d**2), rtol=1e-13)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        norm.batchnorm_forward(x[[0]], gamma, beta, {"mode": "train"})
    # Eval: the same answer for sample 0 alone and with either companion.
    mean, var = running(121, D)
    param = {"mode": "test", "running_mean": mean, "running_var": var}
    alone = norm.batchnorm_forward(x[[0]], gamma, beta, param)[0][0]
    np.testing.assert_array_equal(norm.batchnorm_forward(x[[0, 1]], gamma, beta, param)[0][0], alone)
    np.testing.assert_array_equal(norm.batchnorm_forward(x[[0, 2]], gamma, beta, param)[0][0], alone)


# ---- bad input: a ValueError that names the argument

RNG = np.random.default_rng(130)
X, G, B = RNG.standard_normal((4, 3)), np.ones(3), np.zeros(3)
TRAIN = {"mode": "train"}
_, BN_CACHE = norm.batchnorm_forward(X, G, B, dict(TRAIN))
_, LN_CACHE = norm.layernorm_forward(X, G, B, {})

BAD_INPUT = [
    pytest.param(norm.batchnorm_forward, (X[0], G, B, TRAIN), r"x must be a non-empty 2-D \(N, D\).*x\[None\]",
                 id="bn-1d-x"),
    pytest.param(norm.batchnorm_forward, (X[None], G, B, TRAIN), r"x must be .*2-D", id="bn-3d-x"),
    pytest.param(norm.batchnorm_forward, (X[:0], G, B, TRAIN), r"non-empty", id="bn-empty-x"),
    pytest.param(norm.batchnorm_forward, (X, G[:2], B, TRAIN), r"gamma must have shape \(D,\) = \(3,\)",
                 id="bn-gamma"),
    pytest.param(norm.batchnorm_forward, (X, G, B[:, None], TRAIN), r"beta must have shape \(D,\)", id="bn-beta"),
    pytest.param(norm.batchnorm_forward, (X, G, B, None), r"bn_param must be a dict", id="bn-param-none"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {}), r"bn_param\['mode'\] is required", id="bn-no-mode"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "eval"}), r"'train' or 'test'.*eval\(\) is 'test'",
                 id="bn-mode-eval"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "Train"}), r"'train' or 'test', got 'Train'",
                 id="bn-mode-case"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "train", "eps": 0.0}), r"bn_param\['eps'\] must be > 0",
                 id="bn-eps-0"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "train", "eps": "1e-5"}),
                 r"bn_param\['eps'\] must be a finite number", id="bn-eps-str"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "train", "momentum": 1.5}),
                 r"bn_param\['momentum'\] must lie in \[0, 1\]", id="bn-momentum-big"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "train", "momentum": -0.1}),
                 r"bn_param\['momentum'\] must lie in \[0, 1\]", id="bn-momentum-neg"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "train", "running_mean": np.zeros(2)}),
                 r"bn_param\['running_mean'\] must have shape \(D,\) = \(3,\)", id="bn-running-mean"),
    pytest.param(norm.batchnorm_forward, (X, G, B, {"mode": "test", "running_var": -np.ones(3)}),
                 r"bn_param\['running_var'\] is a variance and must be >= 0", id="bn-running-var-neg"),
    pytest.param(norm.batchnorm_forward, (X[:1], G, B, TRAIN),
                 r"N >= 2.*variance is 0.*Expected more than 1 value per channel.*test", id="bn-one-sample"),
    pytest.param(norm.batchnorm_backward, (np.ones((3, 4)), BN_CACHE), r"dout has shape \(3, 4\)",
                 id="bn-backward-dout"),
    pytest.param(norm.batchnorm_backward_alt, (np.ones((4, 2)), BN_CACHE), r"dout has shape", id="bn-alt-dout"),
    pytest.param(norm.batchnorm_backward, (np.ones((4, 3)), (X, G)), r"cache must be", id="bn-backward-cache"),
    pytest.param(norm.layernorm_forward, (X[0], G, B, {}), r"x must be a non-empty 2-D", id="ln-1d-x"),
    pytest.param(norm.layernorm_forward, (X, np.ones(4), B, {}), r"gamma must have shape \(D,\) = \(3,\)",
                 id="ln-gamma"),
    pytest.param(norm.layernorm_forward, (X, G, B, {"eps": -1.0}), r"ln_param\['eps'\] must be > 0", id="ln-eps"),
    pytest.param(norm.layernorm_forward, (X, G, B, 1e-5), r"ln_param must be a dict", id="ln-param-float"),
    pytest.param(norm.layernorm_backward, (np.ones((3, 4)), LN_CACHE), r"dout has shape", id="ln-backward-dout"),
]


@pytest.mark.parametrize(("fn", "args", "match"), BAD_INPUT)
def test_bad_input_raises_value_error(fn: Callable, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fn(*args)
