"""Notebook 05's normalization exercises: batch norm forward and backward (two ways), the hand-made
``BatchNorm1d`` module, and layer norm (I2DL lecture 8, Tokyo DL2 "Normalization").

Functions returning ``(out, cache)`` are wrapped in the test cell, and so are
the reference's here, so that only numbers are compared:

- ``batchnorm_forward`` is graded on its output *and* the running statistics
  it leaves in ``bn_param`` (which it may change in place, by contract): a
  running variance that is unbiased, or updated in test mode, is caught;
- the backward passes are graded through their own forward pass, on the same
  cases, so the student designs the cache;
- the module is graded through a NumPy program of plain numbers
  (:func:`run_batchnorm_module`): training steps, then one eval call.

Edge cases: batch size 2 (the smallest legal one in train mode), batch size 1
in test mode, values around 1e6 (where ``mean(x**2) - mean(x)**2`` loses every
digit), a feature with a tiny spread and a large eps (where eps inside or
outside the square root differs), missing running statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import module

# -- batch norm forward ------------------------------------------------------------------------------


def running_stats_after(forward: Any, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                        bn_param: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What batchnorm_forward is graded on: out, and the running mean and variance left in bn_param."""
    out, _ = forward(x, gamma, beta, bn_param)
    return out, bn_param["running_mean"], bn_param["running_var"]


def _features(rng: np.random.Generator, N: int, D: int, offset: float = 0.0) -> np.ndarray:
    """(N, D) with its own mean and spread per feature, so normalizing changes something."""
    return rng.uniform(0.5, 3.0, D) * rng.standard_normal((N, D)) + rng.uniform(-2.0, 2.0, D) + offset


def _affine(rng: np.random.Generator, D: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.5, 2.0, D), rng.standard_normal(D)


def _running(rng: np.random.Generator, D: int) -> dict[str, np.ndarray]:
    return {"running_mean": rng.standard_normal(D), "running_var": rng.uniform(0.5, 2.0, D)}


def _bn_cases(rng: np.random.Generator, with_dout: bool) -> list[Case]:
    def case(x: np.ndarray, param: dict, label: str, gamma_beta: tuple | None = None) -> Case:
        D = x.shape[1]
        gamma, beta = gamma_beta if gamma_beta is not None else _affine(rng, D)
        args = [x, gamma, beta, param]
        if with_dout:
            args.append(rng.standard_normal(x.shape))
        return Case(tuple(args), label=label)

    cases = []
    for k in range(2):
        N, D = int(rng.integers(4, 9)), int(rng.integers(2, 7))
        momentum = float(rng.choice([0.5, 0.8, 0.9]))
        cases.append(case(_features(rng, N, D), {"mode": "train", "momentum": momentum, **_running(rng, D)},
                          f"train mode {k + 1}: x of shape ({N}, {D}), momentum {momentum}, running stats given"))
    N, D = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    cases.append(case(_features(rng, N, D), {"mode": "train"},
                      f"train mode, x ({N}, {D}), no running statistics yet (they start at zeros), defaults"))
    cases.append(case(_features(rng, 2, 3), {"mode": "train", **_running(rng, 3)},
                      "train mode with a batch of 2 (the smallest legal batch)"))
    N, D = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    cases.append(case(_features(rng, N, D), {"mode": "test", **_running(rng, D)},
                      f"test mode, x ({N}, {D}): normalize with the running statistics, leave them alone"))
    cases.append(case(_features(rng, 1, 4), {"mode": "test", **_running(rng, 4)},
                      "test mode with a single sample (legal in test mode)"))
    cases.append(case(_features(rng, 6, 3, offset=1e6), {"mode": "train", "momentum": 0.9, **_running(rng, 3)},
                      "train mode, values around 1e6 (mean(x**2) - mean(x)**2 loses every digit there)"))
    x = _features(rng, 5, 3)
    x[:, 1] = 0.3 + 1e-3 * rng.standard_normal(5)  # a feature that barely varies
    cases.append(case(x, {"mode": "train", "eps": 1e-2, **_running(rng, 3)},
                      "train mode, eps = 0.01 and a feature with spread 1e-3: where does eps go?"))
    return cases


def _bn_ref(x, gamma, beta, bn_param):
    return running_stats_after(module("norm").batchnorm_forward, x, gamma, beta, bn_param)


def _bn_variant(*, ddof: int = 0, eps_outside: bool = False, update_in_test: bool = False,
                flip_momentum: bool = False, running_unbiased: bool = False, naive_var: bool = False,
                test_uses_batch: bool = False):
    """The reference's batchnorm_forward graded outputs with one mistake switched on."""
    def forward(x, gamma, beta, bn_param):
        mode, eps = bn_param["mode"], bn_param.get("eps", 1e-5)
        m = bn_param.get("momentum", 0.9)
        if flip_momentum:
            m = 1.0 - m
        D = x.shape[1]
        rm, rv = bn_param.get("running_mean", np.zeros(D)), bn_param.get("running_var", np.zeros(D))
        if mode == "test" and not (update_in_test or test_uses_batch):
            return gamma * (x - rm) / np.sqrt(rv + eps) + beta, None
        mu = x.mean(axis=0)
        var = (x**2).mean(axis=0) - mu**2 if naive_var else x.var(axis=0, ddof=ddof)
        if mode == "train" or update_in_test:
            stored = x.var(axis=0, ddof=1) if running_unbiased else var
            bn_param["running_mean"] = m * rm + (1 - m) * mu
            bn_param["running_var"] = m * rv + (1 - m) * stored
        if mode == "test" and not test_uses_batch:
            mu, var = rm, rv
        std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        return gamma * (x - mu) / std + beta, None

    return lambda x, gamma, beta, bn_param: running_stats_after(forward, x, gamma, beta, bn_param)


register(Exercise(
    name="batchnorm.batchnorm_forward",
    reference=_bn_ref,
    cases=lambda rng: _bn_cases(rng, with_dout=False),
    names=("out", "bn_param['running_mean'] after the call", "bn_param['running_var'] after the call"),
    may_change=("bn_param",),  # the running statistics are updated in place, by contract
    mistakes=(
        Mistake("the batch variance is the biased one, (1/N) sum (x - mu)^2 (np.var's default, ddof=0); "
                "ddof=1 divides by N - 1.", _bn_variant(ddof=1)),
        Mistake("eps goes INSIDE the square root: (x - mu) / sqrt(var + eps).", _bn_variant(eps_outside=True)),
        Mistake("in test mode the running statistics are used, never updated: only train mode changes them.",
                _bn_variant(update_in_test=True)),
        Mistake("momentum is the weight of the OLD value: running = momentum * running + (1 - momentum) * batch.",
                _bn_variant(flip_momentum=True)),
        Mistake("the running variance is updated with the same biased batch variance that normalized the batch "
                "(PyTorch stores the unbiased one; this notebook follows the lecture).",
                _bn_variant(running_unbiased=True)),
        Mistake("mean(x**2) - mean(x)**2 cancels catastrophically for large values: use mean((x - mu)**2).",
                _bn_variant(naive_var=True)),
        Mistake("test mode normalizes with the running statistics, not with the batch's.",
                _bn_variant(test_uses_batch=True)),
    ),
))


# -- batch norm backward (through the graph, and the simplified form) ------------------------------------


def _backward_ref(name: str):
    def ref(x, gamma, beta, bn_param, dout):
        norm = module("norm")
        return getattr(norm, name)(dout, norm.batchnorm_forward(x, gamma, beta, bn_param)[1])

    return ref


def _bn_backward_variant(kind: str):
    def backward(x, gamma, beta, bn_param, dout):
        norm = module("norm")
        _, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
        dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
        if bn_param["mode"] == "test":
            return dx, dgamma, dbeta
        N = x.shape[0]
        x_hat, std = cache["x_hat"], cache["std"]
        g = dout * gamma
        if kind == "constant_stats":  # mu and var treated as constants
            dx = g / std
        elif kind == "no_var_path":  # only the path through mu is kept
            dx = (g - g.mean(axis=0)) / std
        elif kind == "no_mean_path":  # only the path through var is kept
            dx = (g - x_hat * np.mean(g * x_hat, axis=0)) / std
        elif kind == "n_minus_1":
            dx = (N * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0)) / ((N - 1) * std)
        elif kind == "dgamma_sum":
            dgamma = dout.sum(axis=0)
        elif kind == "dgamma_x":
            dgamma = np.sum(dout * x, axis=0)
        return dx, dgamma, dbeta

    return backward


BACKWARD_MISTAKES = (
    Mistake("mu and var depend on every x_i: dx_i gets gradient through x_hat_i directly, through var and "
            "through mu (treating them as constants is the test-mode gradient).",
            _bn_backward_variant("constant_stats")),
    Mistake("the path through the variance is missing: "
            "dJ/dvar = sum_i dJ/dx_hat_i (x_i - mu) (-1/2)(var + eps)^(-3/2).", _bn_backward_variant("no_var_path")),
    Mistake("the path through the mean is missing: dJ/dmu collects -dJ/dx_hat_i / sqrt(var + eps) from every "
            "sample.", _bn_backward_variant("no_mean_path")),
    Mistake("the batch statistics divide by N, so their derivatives carry 1/N, not 1/(N - 1).",
            _bn_backward_variant("n_minus_1")),
    Mistake("dgamma = sum_i dout_i * x_hat_i (gamma multiplies x_hat); sum_i dout_i is dbeta.",
            _bn_backward_variant("dgamma_sum")),
    Mistake("dgamma multiplies dout with the NORMALIZED x_hat, not with x.", _bn_backward_variant("dgamma_x")),
)

for _name, _label in (("batchnorm_backward", "through the graph"), ("batchnorm_backward_alt", "simplified")):
    register(Exercise(
        name=f"batchnorm.{_name}",
        reference=_backward_ref(_name),
        cases=lambda rng: _bn_cases(rng, with_dout=True),
        names=("dx", "dgamma", "dbeta"),
        may_change=("bn_param",),  # the forward pass run first updates the running statistics
        rtol=1e-6,
        atol=1e-8,
        mistakes=BACKWARD_MISTAKES,
    ))


# -- the hand-made BatchNorm1d module, through a program of plain numbers -----------------------------------


def run_batchnorm_module(module_class: Any, x_batches: np.ndarray, dout_batches: np.ndarray, x_eval: np.ndarray,
                         weight: np.ndarray, bias: np.ndarray, momentum: float) -> tuple[np.ndarray, ...]:
    """Train a ``module_class(D, momentum=momentum)`` in float64 on S batches, then call it once in eval mode.

    Inputs: x_batches and dout_batches (S, N, D); x_eval (M, D); weight, bias (D,).
    Returns: outputs (S, N, D), dx (S, N, D), dweight (S, D), dbias (S, D) of every training
    step, the eval output (M, D), and the running mean and variance (D,) after it all.
    """
    import torch

    D = np.shape(x_batches)[2]
    bn = module_class(D, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.as_tensor(weight, dtype=torch.float64))
        bn.bias.copy_(torch.as_tensor(bias, dtype=torch.float64))
    bn.train()
    outs, dxs, dws, dbs = [], [], [], []
    for x, dout in zip(x_batches, dout_batches, strict=True):
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        bn.zero_grad()
        out = bn(xt)
        out.backward(torch.as_tensor(dout, dtype=torch.float64))
        outs.append(out.detach().numpy())
        dxs.append(xt.grad.numpy())
        dws.append(bn.weight.grad.numpy().copy())
        dbs.append(bn.bias.grad.numpy().copy())
    bn.eval()
    with torch.no_grad():
        out_eval = bn(torch.as_tensor(x_eval, dtype=torch.float64)).numpy()
    return (np.stack(outs), np.stack(dxs), np.stack(dws), np.stack(dbs), out_eval,
            bn.running_mean.detach().numpy().copy(), bn.running_var.detach().numpy().copy())


def _module_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for k, (S, N, D, M) in enumerate([(3, int(rng.integers(4, 9)), int(rng.integers(2, 7)), 3),
                                      (4, 2, int(rng.integers(3, 6)), 1),
                                      (2, int(rng.integers(5, 12)), 1, 2)]):
        x = np.stack([_features(rng, N, D) for _ in range(S)])
        momentum = float(rng.choice([0.5, 0.8, 0.9]))
        weight, bias = _affine(rng, D)
        what = ["random batches", "batches of 2 and a single sample in eval mode", "one feature (D = 1)"][k]
        cases.append(Case((x, rng.standard_normal((S, N, D)), _features(rng, M, D), weight, bias, momentum),
                          label=f"{what}: {S} training batches of shape ({N}, {D}), momentum {momentum}, "
                                f"then an eval batch of {M}"))
    x = np.stack([_features(rng, 6, 3, offset=1e6) for _ in range(2)])
    cases.append(Case((x, rng.standard_normal((2, 6, 3)), _features(rng, 2, 3, offset=1e6), *_affine(rng, 3), 0.9),
                      label="values around 1e6: 2 training batches of (6, 3), an eval batch of 2"))
    return cases


def _module_ref(*args):
    return run_batchnorm_module(module("norm_modules").BatchNorm1d, *args)


def _module_variant(**mistake: bool):
    """A BatchNorm1d of the reference's shape with one mistake switched on."""
    import torch
    from torch import nn

    class Wrong(nn.Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.9, device=None, dtype=None):
            super().__init__()
            self.eps, self.momentum = eps, momentum
            self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
            self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))

        def forward(self, x):
            if self.training or mistake.get("eval_batch_stats") or mistake.get("update_in_eval"):
                batch_mean = x.mean(dim=0)
                batch_var = x.var(dim=0) if mistake.get("unbiased") else x.var(dim=0, correction=0)
            if self.training or mistake.get("eval_batch_stats"):
                mean, var = batch_mean, batch_var
            else:
                mean, var = self.running_mean.clone(), self.running_var.clone()
            if self.training or mistake.get("update_in_eval"):
                m = 1 - self.momentum if mistake.get("flip_momentum") else self.momentum
                stored = x.var(dim=0) if mistake.get("running_unbiased") else batch_var
                with torch.no_grad():
                    self.running_mean.mul_(m).add_((1 - m) * batch_mean)
                    self.running_var.mul_(m).add_((1 - m) * stored)
            std = torch.sqrt(var) + self.eps if mistake.get("eps_outside") else torch.sqrt(var + self.eps)
            return self.weight * (x - mean) / std + self.bias

    return lambda *args: run_batchnorm_module(Wrong, *args)


register(Exercise(
    name="batchnorm.BatchNorm1d",
    reference=_module_ref,
    cases=_module_cases,
    names=("training outputs", "dx", "dweight (dgamma)", "dbias (dbeta)", "eval output",
           "running_mean at the end", "running_var at the end"),
    mistakes=(
        Mistake("torch's x.var(dim=0) is UNBIASED by default (divides by N - 1); batch norm normalizes with the "
                "biased variance: x.var(dim=0, correction=0).", _module_variant(unbiased=True)),
        Mistake("in eval mode the running statistics are used and left alone (check self.training).",
                _module_variant(update_in_eval=True)),
        Mistake("in eval mode normalize with the running statistics, not with the batch's.",
                _module_variant(eval_batch_stats=True)),
        Mistake("momentum is the weight of the OLD value here (torch's is the weight of the new one).",
                _module_variant(flip_momentum=True)),
        Mistake("the running variance takes the same biased variance that normalized the batch "
                "(torch.nn.BatchNorm1d stores the unbiased one; this notebook follows the lecture).",
                _module_variant(running_unbiased=True)),
        Mistake("eps goes INSIDE the square root: sqrt(var + eps).", _module_variant(eps_outside=True)),
    ),
))


# -- layer norm --------------------------------------------------------------------------------------------


def _ln_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(2):
        N, D = int(rng.integers(3, 9)), int(rng.integers(2, 8))
        x = rng.uniform(0.5, 3.0, (N, 1)) * rng.standard_normal((N, D)) + rng.uniform(-2, 2, (N, 1))
        cases.append(Case((x, *_affine(rng, D), {"eps": 1e-5}), label=f"random x of shape ({N}, {D})"))
    D = int(rng.integers(3, 8))
    cases.append(Case((rng.standard_normal((1, D)) * 3, *_affine(rng, D), None),
                      label=f"a single sample (N = 1, D = {D}; fine for layer norm), ln_param None"))
    cases.append(Case((1e6 + rng.standard_normal((3, 4)), *_affine(rng, 4), {}), label="values around 1e6"))
    x = rng.standard_normal((3, 5))
    x[1] = 0.2 + 1e-3 * rng.standard_normal(5)
    cases.append(Case((x, *_affine(rng, 5), {"eps": 1e-2}), label="eps = 0.01 and a sample with spread 1e-3"))
    cases.append(Case((rng.standard_normal((4, 2)), *_affine(rng, 2), {"eps": 1e-5}),
                      label="D = 2 features (each row normalizes to about -1 and +1)"))
    return cases


def _ln_variant(*, axis: int = 1, ddof: int = 0, eps_outside: bool = False):
    def forward(x, gamma, beta, ln_param):
        eps = (ln_param or {}).get("eps", 1e-5)
        mu = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, ddof=ddof, keepdims=True)
        std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        return gamma * (x - mu) / std + beta

    return forward


register(Exercise(
    name="batchnorm.layernorm_forward",
    reference=lambda x, gamma, beta, ln_param: module("norm").layernorm_forward(x, gamma, beta, ln_param)[0],
    cases=_ln_cases,
    names=("out",),
    mistakes=(
        Mistake("layer norm takes the statistics of each SAMPLE over its D features (axis=1, keepdims=True); "
                "over the batch (axis=0) is batch norm.", _ln_variant(axis=0)),
        Mistake("the variance is the biased one (divide by D).", _ln_variant(ddof=1)),
        Mistake("eps goes INSIDE the square root: sqrt(var + eps).", _ln_variant(eps_outside=True)),
    ),
))
