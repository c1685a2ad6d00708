"""Weight initialization (I2DL "Training Neural Networks II", Tokyo DL 2, TUM ML "Deep learning 2").

Every initializer returns a weight matrix in the layout of
``layers.affine_forward``: ``w`` of shape ``(fan_in, fan_out)`` = (D, M), so a
layer computes ``x @ w``. (PyTorch's ``nn.Linear`` stores the transpose,
``(fan_out, fan_in)``; the variances below are the same.)

Why the scale matters: a unit computes ``s = sum_i w_i x_i`` over ``n = fan_in``
inputs. With independent, zero-mean weights and inputs,

    Var(s) = n Var(w) Var(x)

so the variance of the signal is multiplied by ``n Var(w)`` at every layer:
it vanishes when ``n Var(w) < 1`` and explodes when ``n Var(w) > 1``.

The lectures use the name "Xavier" for two different variances:

* ``Var(w) = 1 / fan_in`` (I2DL, Tokyo DL 2, NYU: keep the forward signal's
  variance). Here this is :func:`lecun_normal` (LeCun et al. 1998 proposed it
  first; Keras and JAX use that name).
* ``Var(w) = 2 / (fan_in + fan_out)`` (TUM ML, and Glorot & Bengio 2010 itself:
  a compromise between keeping the forward variance, ``fan_in Var(w) = 1``,
  and the backward variance, ``fan_out Var(w) = 1``). This is what
  :func:`xavier_normal` and :func:`xavier_uniform` use, like
  ``torch.nn.init.xavier_normal_`` / ``xavier_uniform_``.

For a square layer (fan_in = fan_out) the two agree.

Kaiming (He et al. 2015, I2DL's "Xavier/2"): a ReLU zeroes half of its inputs,
which halves the second moment that reaches the next layer, so the variance
is doubled: ``Var(w) = 2 / fan_in`` (mode "fan_in", ReLU gain sqrt(2)), like
``torch.nn.init.kaiming_normal_`` with its defaults.

The second half holds what the notebook measures initializations with: the
Swish activation (x σ(βx); β = 1 is PyTorch's SiLU) and a deep stack of
bias-free layers ``h_l = f(h_{l-1} W_l)`` with its forward activations and
its weight gradients, the experiment of the lectures (10 layers, tanh or ReLU,
unit Gaussian input).

No global random state: every random initializer takes a
``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from dlcourse.reference import layers

__all__ = [
    "ACTIVATIONS", "deep_backward", "deep_forward", "forward_activations", "kaiming_normal",
    "kaiming_std", "lecun_normal", "normal", "swish", "swish_backward", "swish_forward",
    "weight_gradients", "xavier_normal", "xavier_std", "xavier_uniform", "xavier_uniform_bound",
    "zeros",
]

Shape = int | tuple[int, ...]


def _shape(shape: Shape) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ValueError(f"shape must be a non-negative integer or a tuple of them, got {shape!r}")
    return tuple(int(d) for d in dims)


def _fans(fan_in: int, fan_out: int) -> tuple[int, int]:
    for name, value in (("fan_in", fan_in), ("fan_out", fan_out)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(fan_in), int(fan_out)


def _rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, numbers.Real) and value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def zeros(shape: Shape) -> np.ndarray:
    """All-zero weights (or biases) of ``shape``.

    Fine for biases. For weights it keeps every hidden unit identical (the
    symmetry problem): they compute the same value and get the same gradient.
    """
    return np.zeros(_shape(shape), dtype=np.float64)


def normal(shape: Shape, std: float, rng: np.random.Generator) -> np.ndarray:
    """Samples of N(0, std²) of ``shape``: the naive "small random numbers" (std = 0.01)."""
    if not (isinstance(std, numbers.Real) and std >= 0 and math.isfinite(std)):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    return float(std) * _rng(rng).standard_normal(_shape(shape))


def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Glorot & Bengio's standard deviation, ``gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(fan_in, fan_out)
    return _positive("gain", gain) * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_bound(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """The ``a`` of U(-a, a) with the Glorot variance: ``gain * sqrt(6 / (fan_in + fan_out))``.

    U(-a, a) has variance a²/3, so a = sqrt(3) * xavier_std.
    """
    return math.sqrt(3.0) * xavier_std(fan_in, fan_out, gain)


def kaiming_std(fan_in: int, fan_out: int, mode: str = "fan_in", negative_slope: float = 0.0) -> float:
    """He et al.'s standard deviation, ``gain / sqrt(fan)`` with gain = sqrt(2 / (1 + negative_slope²)).

    mode "fan_in" (default) keeps the forward signal, "fan_out" the backward
    one; negative_slope = 0 is the ReLU, > 0 a leaky ReLU.
    """
    fan_in, fan_out = _fans(fan_in, fan_out)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if not (isinstance(negative_slope, numbers.Real) and math.isfinite(negative_slope)):
        raise ValueError(f"negative_slope must be a finite number, got {negative_slope!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return math.sqrt(2.0 / (1.0 + float(negative_slope) ** 2)) / math.sqrt(fan)


def lecun_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 1/fan_in): the "Xavier" of I2DL and Tokyo DL 2 (std 1/sqrt(n), n = fan_in).

    Inputs:
    - fan_in: number of inputs of the layer, D
    - fan_out: number of outputs of the layer, M
    - rng: a numpy Generator

    Returns: w of shape (D, M).
    """
    fan_in, fan_out = _fans(fan_in, fan_out)
    return _rng(rng).standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)


def xavier_normal(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Glorot normal: N(0, σ²) with σ² = gain² · 2 / (fan_in + fan_out), like torch's xavier_normal_.

    Inputs:
    - fan_in: number of inputs of the layer, D
    - fan_out: number of outputs of the layer, M
    - rng: a numpy Generator
    - gain: scale factor (1 for tanh or linear layers, as in the paper)

    Returns: w of shape (D, M).
    """
    std = xavier_std(fan_in, fan_out, gain)
    return std * _rng(rng).standard_normal((int(fan_in), int(fan_out)))


def xavier_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Glorot uniform: U(-a, a) with a = gain · sqrt(6 / (fan_in + fan_out)), like torch's xavier_uniform_.

    The same variance as :func:`xavier_normal` (Var U(-a, a) = a²/3); this is
    the form of Glorot & Bengio's paper and of the TUM ML slides.

    Inputs:
    - fan_in: number of inputs of the layer, D
    - fan_out: number of outputs of the layer, M
    - rng: a numpy Generator
    - gain: scale factor

    Returns: w of shape (D, M), every entry in [-a, a).
    """
    bound = xavier_uniform_bound(fan_in, fan_out, gain)
    return _rng(rng).uniform(-bound, bound, size=(int(fan_in), int(fan_out)))


def kaiming_normal(fan_in: int, fan_out: int, rng: np.random.Generator, mode: str = "fan_in",
                   negative_slope: float = 0.0) -> np.ndarray:
    """He normal: N(0, σ²) with σ² = 2 / fan_in for a ReLU, like torch's kaiming_normal_ defaults.

    Inputs:
    - fan_in: number of inputs of the layer, D
    - fan_out: number of outputs of the layer, M
    - rng: a numpy Generator
    - mode: "fan_in" (default: keep the forward variance) or "fan_out" (the backward one)
    - negative_slope: slope of a leaky ReLU for x < 0 (0 = ReLU); gain sqrt(2 / (1 + slope²))

    Returns: w of shape (D, M).
    """
    std = kaiming_std(fan_in, fan_out, mode, negative_slope)
    return std * _rng(rng).standard_normal((int(fan_in), int(fan_out)))


# -- Swish ------------------------------------------------------------------------------

def swish_forward(x: np.ndarray, beta: float = 1.0) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, float]]:
    """Swish ``x * sigmoid(beta * x)`` elementwise (Ramachandran et al. 2017; I2DL's table of activations).

    Smooth, not monotonic, unbounded above and bounded below; beta = 1 is
    PyTorch's SiLU, beta -> infinity tends to the ReLU, beta = 0 gives x / 2.

    Inputs: x of any shape; beta, a finite number.
    Returns out (the shape of x) and cache = (x, sigmoid(beta * x), beta).
    """
    if not (isinstance(beta, numbers.Real) and math.isfinite(beta)):
        raise ValueError(f"beta must be a finite number, got {beta!r}")
    x = layers._array(x, "x")
    s, _ = layers.sigmoid_forward(float(beta) * x)
    return x * s, (x, s, float(beta))


def swish_backward(dout: np.ndarray, cache: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    """Backward pass of Swish: ``d/dx [x s(βx)] = s + β x s (1 - s)`` with s = sigmoid(βx). Returns dx."""
    x, s, beta = cache
    dout = layers._check_dout(dout, x.shape, "swish_backward")
    return dout * (s + beta * x * s * (1.0 - s))


def swish(x: np.ndarray, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Swish and its elementwise derivative: (x σ(βx), σ(βx) + β x σ(βx)(1 - σ(βx))), each the shape of x."""
    out, cache = swish_forward(x, beta)
    return out, swish_backward(np.ones_like(out), cache)


# -- a deep stack of layers h_l = f(h_{l-1} W_l) -----------------------------------------

# activation name -> (forward, backward) in the (out, cache) convention of layers.
ACTIVATIONS = {
    "tanh": (layers.tanh_forward, layers.tanh_backward),
    "relu": (layers.relu_forward, layers.relu_backward),
}


def _deep_inputs(x: np.ndarray, weights: Sequence[np.ndarray], activation: str
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    x = layers._array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {x.shape}")
    ws = [layers._array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    if not ws:
        raise ValueError("weights must hold at least one matrix")
    width = x.shape[1]
    for i, w in enumerate(ws):
        if w.ndim != 2 or w.shape[0] != width:
            raise ValueError(f"weights[{i}] must have shape ({width}, M), got {w.shape}")
        width = w.shape[1]
    return x, ws


def deep_forward(x: np.ndarray, weights: Sequence[np.ndarray], activation: str
                 ) -> tuple[list[np.ndarray], tuple[np.ndarray, list[np.ndarray], list, str]]:
    """Forward pass of L bias-free layers ``h_l = f(h_{l-1} W_l)``, h_0 = x.

    Inputs:
    - x: (N, D) inputs
    - weights: L matrices, W_1 (D, M_1), W_2 (M_1, M_2), ..., W_L (M_{L-1}, M_L)
    - activation: "tanh" or "relu", applied after every layer

    Returns a tuple of:
    - activations: list of L arrays, h_l of shape (N, M_l)
    - cache: what deep_backward needs
    """
    x, ws = _deep_inputs(x, weights, activation)
    forward, _ = ACTIVATIONS[activation]
    hs, caches, h = [], [], x
    for w in ws:
        h, c = forward(h @ w)
        hs.append(h)
        caches.append(c)
    return hs, (x, ws, caches, activation)


def deep_backward(dout: np.ndarray, cache: tuple[np.ndarray, list[np.ndarray], list, str]) -> list[np.ndarray]:
    """Backward pass of :func:`deep_forward`: the gradient of every weight matrix.

    Inputs:
    - dout: (N, M_L), the upstream gradient dL/dh_L of the last activations
    - cache: from deep_forward

    Returns: list of L arrays, dW_l of the shape of W_l. (dL/dx is not needed.)
    """
    x, ws, caches, activation = cache
    _, backward = ACTIVATIONS[activation]
    inputs = [x] + [_output_of(c, activation) for c in caches[:-1]]  # h_0, ..., h_{L-1}
    dh = layers._check_dout(dout, _output_of(caches[-1], activation).shape, "deep_backward")
    dws: list[np.ndarray] = [np.empty(0)] * len(ws)
    for layer in range(len(ws) - 1, -1, -1):
        ds = backward(dh, caches[layer])  # through the activation: dL/ds_l, (N, M_l)
        dws[layer] = inputs[layer].T @ ds  # s_l = h_{l-1} W_l
        dh = ds @ ws[layer].T  # to the layer below
    return dws


def _output_of(cache: np.ndarray, activation: str) -> np.ndarray:
    """The activation's output from its cache (tanh caches its output, ReLU its input)."""
    return cache if activation == "tanh" else np.maximum(cache, 0.0)


def forward_activations(x: np.ndarray, weights: Sequence[np.ndarray], activation: str) -> list[np.ndarray]:
    """The activations h_1, ..., h_L of :func:`deep_forward` (the notebook's exercise)."""
    return deep_forward(x, weights, activation)[0]


def weight_gradients(x: np.ndarray, weights: Sequence[np.ndarray], activation: str,
                     dout: np.ndarray) -> list[np.ndarray]:
    """dL/dW_l for every layer, L = sum(h_L * dout) (the notebook's exercise)."""
    _, cache = deep_forward(x, weights, activation)
    return deep_backward(dout, cache)
