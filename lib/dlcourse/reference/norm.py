"""Batch normalization and layer normalization (I2DL lecture 8, Tokyo DL2 "Normalization").

NumPy forward/backward pairs in the style of :mod:`dlcourse.reference.layers`.
The same two ideas as ``torch.nn.Module`` classes written by hand are in
:mod:`dlcourse.reference.norm_modules` (and reuse the checks and defaults here).

Batch norm (Ioffe and Szegedy 2015) normalizes every feature over the batch;
for a mini-batch x of shape (N, D) and each feature column::

    mu     = (1/N) sum_i x_i                   batch mean
    var    = (1/N) sum_i (x_i - mu)^2          biased batch variance (divide by N, not N - 1)
    x_hat  = (x_i - mu) / sqrt(var + eps)      eps inside the root, as in the paper and PyTorch
    out    = gamma * x_hat + beta              learned scale and shift, so the network can undo it

(The TUM ML "Deep Learning 2" slide writes ``sqrt(Var) + eps``; Tokyo DL2, the
paper and PyTorch put eps under the square root, and so do we.)

At test time one sample must not depend on the others in its batch, so the
statistics are exponential running averages gathered during training
(I2DL lecture 8, "BN: Train vs Test")::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var

with momentum the weight of the OLD value (0.9 by default, as in CS231n).
In test mode batch norm is a fixed affine map of each sample.

Layer norm (Ba et al. 2016) normalizes each sample over its D features instead,
so it needs no batch and behaves the same in training and at test time.

How the NumPy reference relates to ``torch.nn.functional.batch_norm`` /
``torch.nn.BatchNorm1d`` (proven in tests/lib/reference/test_norm.py):

- Outputs and gradients in train mode are identical (PyTorch also normalizes
  with the biased batch variance).
- PyTorch's ``momentum`` is the weight of the NEW batch statistic: torch's
  ``momentum=0.1`` is our ``momentum=0.9``; in general ours = 1 - torch's.
- PyTorch updates ``running_var`` with the UNBIASED batch variance
  ``var * N / (N - 1)``; we use the biased ``var``, the same one that
  normalized the batch (the lecture's ``Var_minibatch``).
- PyTorch starts ``running_var`` at ones; the NumPy reference, like CS231n,
  starts missing running statistics at zeros (mean) and zeros (variance).

Bad input raises a ``ValueError`` that names the argument and the expected shape.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "layernorm_backward",
    "layernorm_forward",
]

Param = dict[str, Any]
Cache = dict[str, Any]

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9

_ONE_SAMPLE = (
    "the batch statistics of a single sample are meaningless (its mean is the sample itself and its "
    "variance is 0, so every output would just be beta); PyTorch refuses too: \"Expected more than 1 value "
    "per channel when training\". A single sample needs test/eval mode, which normalizes with the running "
    "statistics"
)


# -- checking inputs -------------------------------------------------------------------


def _array(a: object, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers ({exc})") from None


def _inputs(x: object, gamma: object, beta: object, layer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, D) with N, D >= 1, gamma and beta (D,), all as float64 (never written into)."""
    x = _array(x, "x")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"{layer}: x must be a non-empty 2-D (N, D) array, one row per sample, got shape {x.shape}"
            + ("; for a single sample use x[None]" if x.ndim == 1 else "")
        )
    D = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        arr = _array(value, name)
        if arr.shape != (D,):
            raise ValueError(f"{layer}: {name} must have shape (D,) = ({D},), one value per feature, got {arr.shape}")
    return x, _array(gamma, "gamma"), _array(beta, "beta")


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _eps(value: object, name: str) -> float:
    eps = _real(value, name)
    if eps <= 0:
        raise ValueError(f"{name} must be > 0 (it keeps the division by sqrt(var + eps) finite), got {eps!r}")
    return eps


def _momentum(value: object, name: str) -> float:
    momentum = _real(value, name)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (the weight of the OLD running value), got {momentum!r}")
    return momentum


def _running(param: Param, key: str, D: int) -> np.ndarray:
    """``bn_param[key]`` as float64 of shape (D,); zeros when missing (CS231n's convention)."""
    value = param.get(key)
    if value is None:
        return np.zeros(D)
    arr = _array(value, f"bn_param[{key!r}]")
    if arr.shape != (D,):
        raise ValueError(f"bn_param[{key!r}] must have shape (D,) = ({D},), got {arr.shape}")
    if key == "running_var" and (np.any(arr < 0) or np.any(np.isnan(arr))):
        raise ValueError(f"bn_param['running_var'] is a variance and must be >= 0, got minimum {np.min(arr)!r}")
    return arr


def _store(param: Param, key: str, new: np.ndarray) -> None:
    """Put the new running statistic into bn_param, in place when the caller's array can hold it.

    A float array of the right shape is overwritten element by element, so every
    reference to it (bn_param's and the caller's own) sees the new values; any
    other value (missing, a list, an int or read-only array) is replaced.
    """
    old = param.get(key)
    if (
        isinstance(old, np.ndarray)
        and old.shape == new.shape
        and np.issubdtype(old.dtype, np.floating)
        and old.flags.writeable
    ):
        old[...] = new
    else:
        param[key] = new


def _check_dout(dout: object, shape: tuple[int, ...], layer: str) -> np.ndarray:
    dout = _array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"{layer}: dout has shape {dout.shape}, but the forward output had shape {shape}")
    return dout


def _check_cache(cache: object, layer: str) -> Cache:
    if not isinstance(cache, dict) or "mode" not in cache:
        raise ValueError(f"{layer}: cache must be the cache returned by the matching forward pass")
    return cache


# -- batch normalization ---------------------------------------------------------------


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: Param
) -> tuple[np.ndarray, Cache]:
    """Batch normalization of each feature over the batch (I2DL lecture 8, Tokyo DL2).

    Inputs:
    - x: (N, D) data, one row per sample
    - gamma: (D,) scale, beta: (D,) shift
    - bn_param: dict with
      - mode: 'train' or 'test' (required)
      - eps: > 0, added to the variance under the square root (default 1e-5)
      - momentum: in [0, 1], weight of the old running value (default 0.9; PyTorch's 0.1)
      - running_mean, running_var: (D,) running statistics; missing ones start as zeros

    'train' normalizes with the batch mean and biased batch variance (N >= 2)
    and updates the running statistics; 'test' normalizes with the running
    statistics and leaves them alone. The new running arrays are stored in
    bn_param; when the caller passed float arrays of shape (D,), those very
    arrays are overwritten in place. x, gamma and beta are never modified.

    Returns a tuple of:
    - out: (N, D)
    - cache: a dict for batchnorm_backward, recording the mode
    """
    x, gamma, beta = _inputs(x, gamma, beta, "batchnorm_forward")
    if not isinstance(bn_param, dict):
        raise ValueError(f"bn_param must be a dict holding at least 'mode', got {type(bn_param).__name__}")
    if "mode" not in bn_param:
        raise ValueError("bn_param['mode'] is required: 'train' or 'test'")
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        hint = " (PyTorch's eval() is 'test' here)" if mode == "eval" else ""
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}{hint}")
    eps = _eps(bn_param.get("eps", DEFAULT_EPS), "bn_param['eps']")
    momentum = _momentum(bn_param.get("momentum", DEFAULT_MOMENTUM), "bn_param['momentum']")
    N, D = x.shape  # batch, features
    running_mean = _running(bn_param, "running_mean", D)
    running_var = _running(bn_param, "running_var", D)

    if mode == "train":
        if N == 1:
            raise ValueError(f"batchnorm_forward in 'train' mode needs N >= 2 samples, got x of shape {x.shape}: "
                             + _ONE_SAMPLE + " (bn_param['mode'] = 'test').")
        mu = x.mean(axis=0)  # (D,)
        xmu = x - mu  # (N, D)
        var = np.mean(xmu**2, axis=0)  # (D,), biased: the lecture's 1/m
        new_mean = momentum * running_mean + (1.0 - momentum) * mu
        new_var = momentum * running_var + (1.0 - momentum) * var
        # Computed from the old values first, then written: the old arrays may be the caller's.
        _store(bn_param, "running_mean", new_mean)
        _store(bn_param, "running_var", new_var)
    else:
        mu, var = running_mean, running_var
        xmu = x - mu
        # Store them even when they were missing (CS231n): nothing existing is changed.
        bn_param.setdefault("running_mean", running_mean)
        bn_param.setdefault("running_var", running_var)

    std = np.sqrt(var + eps)  # (D,)
    x_hat = xmu / std  # (N, D)
    out = gamma * x_hat + beta
    cache = {"mode": mode, "xmu": xmu, "var": var, "std": std, "x_hat": x_hat, "gamma": gamma, "eps": eps}
    return out, cache


def _test_mode_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With constant statistics, out = gamma * (x - mu) / std + beta is affine in x:
    dx = dout * gamma / std (I2DL lecture 8: "a linear function" at inference)."""
    dgamma = np.sum(dout * cache["x_hat"], axis=0)
    dbeta = dout.sum(axis=0)
    return dout * (cache["gamma"] / cache["std"]), dgamma, dbeta


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batch normalization, node by node through the graph.

    Train mode follows the Tokyo DL2 homework's route: first dJ/dx_hat, then
    dJ/dvar, then dJ/dmu, then dJ/dx_i, which receives gradient along three
    paths (directly, through var, through mu). Test mode is the affine map's
    gradient.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from batchnorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,) = sum_i dout_i * x_hat_i
    - dbeta: (D,) = sum_i dout_i
    """
    cache = _check_cache(cache, "batchnorm_backward")
    dout = _check_dout(dout, cache["x_hat"].shape, "batchnorm_backward")
    if cache["mode"] == "test":
        return _test_mode_backward(dout, cache)
    xmu, var, std, x_hat, gamma, eps = (cache[k] for k in ("xmu", "var", "std", "x_hat", "gamma", "eps"))
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma  # (N, D)
    # x_hat = xmu * (var + eps)^(-1/2): d/dvar = -1/2 xmu (var + eps)^(-3/2)
    dvar = np.sum(dx_hat * xmu, axis=0) * -0.5 * (var + eps) ** -1.5  # (D,)
    # mu reaches x_hat directly and through var; the second term is dvar * mean(-2 xmu) = 0,
    # kept so that every edge of the graph appears.
    dmu = -np.sum(dx_hat, axis=0) / std + dvar * np.mean(-2.0 * xmu, axis=0)  # (D,)
    # x_i reaches the output through x_hat_i, through var (d var / d x_i = 2 xmu_i / N)
    # and through mu (d mu / d x_i = 1 / N).
    dx = dx_hat / std + dvar * 2.0 * xmu / N + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batch normalization in closed form; the same results as batchnorm_backward.

    Simplifying the homework's three paths (the terms through mu collapse because
    the centred values sum to 0) leaves, per feature::

        dx_i = (1 / (N std)) * (N g_i - sum_j g_j - x_hat_i * sum_j g_j x_hat_j),   g = dout * gamma

    Inputs and returns as batchnorm_backward.
    """
    cache = _check_cache(cache, "batchnorm_backward_alt")
    dout = _check_dout(dout, cache["x_hat"].shape, "batchnorm_backward_alt")
    if cache["mode"] == "test":
        return _test_mode_backward(dout, cache)
    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = dout.sum(axis=0)
    g = dout * gamma
    dx = (N * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0)) / (N * std)
    return dx, dgamma, dbeta


# -- layer normalization ---------------------------------------------------------------


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: Param | None
) -> tuple[np.ndarray, Cache]:
    """Layer normalization: each sample over its own D features (Ba et al. 2016, Tokyo DL2).

    The same computation in training and at test time, and fine for N = 1.

    Inputs:
    - x: (N, D) data, one row per sample
    - gamma: (D,) scale, beta: (D,) shift (per feature, as in nn.LayerNorm)
    - ln_param: dict with eps > 0 (default 1e-5), or None for the defaults;
      other keys (a 'mode' shared with batch norm, say) are ignored

    Returns a tuple of:
    - out: (N, D)
    - cache: a dict for layernorm_backward
    """
    x, gamma, beta = _inputs(x, gamma, beta, "layernorm_forward")
    if ln_param is None:
        ln_param = {}
    elif not isinstance(ln_param, dict):
        raise ValueError(f"ln_param must be a dict (or None), got {type(ln_param).__name__}")
    eps = _eps(ln_param.get("eps", DEFAULT_EPS), "ln_param['eps']")
    mu = x.mean(axis=1, keepdims=True)  # (N, 1): one mean per sample
    xmu = x - mu
    var = np.mean(xmu**2, axis=1, keepdims=True)  # (N, 1), biased as in the lecture
    std = np.sqrt(var + eps)
    x_hat = xmu / std  # (N, D)
    out = gamma * x_hat + beta
    return out, {"mode": "layer", "x_hat": x_hat, "std": std, "gamma": gamma}


def layernorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of layer normalization.

    Batch norm's closed form with the roles of the axes swapped: the statistics
    are taken over the D features of each row, so the sums run over axis 1;
    gamma and beta are per feature, so their gradients sum over the N rows.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from layernorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,), dbeta: (D,)
    """
    cache = _check_cache(cache, "layernorm_backward")
    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]
    dout = _check_dout(dout, x_hat.shape, "layernorm_backward")
    D = dout.shape[1]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = dout.sum(axis=0)
    g = dout * gamma  # (N, D)
    dx = (D * g - g.sum(axis=1, keepdims=True) - x_hat * np.sum(g * x_hat, axis=1, keepdims=True)) / (D * std)
    return dx, dgamma, dbeta
