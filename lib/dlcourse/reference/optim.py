"""First-order update rules and learning-rate schedules (I2DL lectures 5 and 6).

Lecture 5 ("Scaling Optimization and Stochastic Gradient Descent") gives the
rules, lecture 6 ("Training Neural Networks I") the learning-rate decay. Every
rule has one signature, the one of the CS231n ``optim.py``::

    next_w, config = update(w, dw, config=None)

- ``w``: the current weights, any shape; ``dw``: the gradient of the loss at
  ``w`` (of the current mini-batch), the same shape.
- ``config``: a dict with the hyperparameters and the optimizer's state. Missing
  hyperparameters are filled in with ``config.setdefault``; the state
  (``velocity``, ``cache``, ``m``, ``v`` and the step count ``t``) is created on
  the first call and carried from one call to the next in the same dict, which
  is returned. Call the rule again with the returned dict.

The rules return a new array and never write into ``w`` or ``dw``.

How the conventions map onto ``torch.optim`` (each proven step by step in
float64 in tests/lib/reference/test_optim.py):

- ``sgd``: ``torch.optim.SGD(lr=learning_rate)``.
- ``sgd_momentum``: the lecture keeps a velocity ``v = β v - α dw`` and steps
  ``w = w + v``. PyTorch keeps ``b = β b + dw`` and steps ``w = w - α b``
  (``momentum=β``, ``dampening=0``). With a constant learning rate ``v = -α b``
  at every step, so the weights are the same; they differ only when α changes
  during training (PyTorch's velocity does not carry the old α).
- ``nesterov``: the lecture evaluates the gradient at the look-ahead point
  ``θ̃ = θ + β v``. An update that is handed ``dw`` at ``w`` can only do that if
  ``w`` *is* the look-ahead point: this rule stores ``w = θ + β v`` (the CS231n
  form ``w += -β v_prev + (1 + β) v``), and ``torch.optim.SGD(momentum=β,
  nesterov=True)`` makes exactly the same steps (``b = β b + dw``,
  ``w = w - α (dw + β b)``). The lecture's θ is recovered as ``w - β v``.
- ``adagrad``: ``torch.optim.Adagrad(lr=α, eps=ε, lr_decay=0)``; PyTorch's
  ``initial_accumulator_value=c`` is ``config["cache"] = c`` everywhere. ε is
  added after the square root in both (PyTorch's default ε is 1e-10, ours 1e-8).
- ``rmsprop``: ``torch.optim.RMSprop(lr=α, alpha=decay_rate, eps=ε)``, ε added
  after the square root in both, no momentum, not centered.
- ``adam``: ``torch.optim.Adam(lr=α, betas=(β1, β2), eps=ε)``: PyTorch computes
  ``α / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + ε)``, which is the lecture's
  ``α m̂ / (sqrt(v̂) + ε)`` rearranged.

Schedules are plain functions of the step (``step`` counts from 0 unless said
otherwise) returning the learning rate to use at that step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "adagrad",
    "adam",
    "cosine_annealing",
    "exponential_decay",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "nesterov",
    "newton_step",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "step_decay",
    "warmup_inverse_sqrt",
]

Config = dict[str, Any]


def _start(w: np.ndarray, dw: np.ndarray, config: Config | None) -> tuple[np.ndarray, np.ndarray, Config]:
    """Check the shapes, read both as float64, and give back a config dict to fill."""
    w = np.asarray(w, dtype=np.float64)  # never written into: every rule returns a new array
    dw = np.asarray(dw, dtype=np.float64)
    if w.shape != dw.shape:
        raise ValueError(f"w {w.shape} and dw {dw.shape} must have the same shape")
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
    return w, dw, config


def _check(config: Config, **limits: tuple[float, float]) -> None:
    """Each named hyperparameter must lie in [lo, hi) (hi = inf: no upper bound)."""
    for name, (lo, hi) in limits.items():
        value = config[name]
        if not lo <= value < hi:
            raise ValueError(f"config[{name!r}] = {value!r} must lie in [{lo}, {hi})")


def _state(config: Config, key: str, w: np.ndarray) -> np.ndarray:
    """The state array ``config[key]``, zeros like ``w`` on the first call."""
    if key not in config:
        config[key] = np.zeros_like(w)
        return config[key]
    value = np.asarray(config[key], dtype=np.float64)
    if value.shape != w.shape:
        raise ValueError(f"config[{key!r}] has shape {value.shape} but w has shape {w.shape}")
    return value


# -- update rules ----------------------------------------------------------------------

def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Vanilla stochastic gradient descent: ``w = w - α dw``.

    Inputs:
    - w: weights, any shape (D...)
    - dw: gradient of the loss at w, same shape
    - config: dict with
      - learning_rate: α (default 1e-2)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    _check(config, learning_rate=(0.0, math.inf))
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Gradient descent with momentum, the lecture's form.

    ``v = β v - α dw``, then ``w = w + v``: the velocity v is an exponentially
    weighted sum of past gradients, so steps grow where gradients agree and
    cancel where they alternate.

    Inputs:
    - w, dw: weights and gradient, same shape (D...)
    - config: dict with
      - learning_rate: α (default 1e-2)
      - momentum: β in [0, 1) (default 0.9); 0 gives plain SGD
      - velocity: v, same shape as w (state; zeros on the first call)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    _check(config, learning_rate=(0.0, math.inf), momentum=(0.0, 1.0))
    v = config["momentum"] * _state(config, "velocity", w) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def nesterov(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Nesterov momentum, written for a gradient taken at the current weights.

    The lecture: ``θ̃ = θ + β v``, ``v' = β v - α ∇L(θ̃)``, ``θ' = θ + v'``. Here
    ``w`` is the look-ahead point θ̃ itself and ``dw = ∇L(w)``; substituting
    ``θ = w - β v`` gives ``w' = w - β v + (1 + β) v'`` (CS231n's form,
    identical to ``torch.optim.SGD(nesterov=True)``).

    Inputs:
    - w, dw: weights (the look-ahead point) and the gradient there, same shape (D...)
    - config: dict with
      - learning_rate: α (default 1e-2)
      - momentum: β in [0, 1) (default 0.9)
      - velocity: v, same shape as w (state; zeros on the first call)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    _check(config, learning_rate=(0.0, math.inf), momentum=(0.0, 1.0))
    beta = config["momentum"]
    v_prev = _state(config, "velocity", w)
    v = beta * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w - beta * v_prev + (1.0 + beta) * v, config


def adagrad(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adagrad (Duchi et al. 2011): a per-weight learning rate from the sum of all squared gradients.

    ``cache = cache + dw²``, ``w = w - α dw / (sqrt(cache) + ε)``. The cache only
    grows, so every weight's step size shrinks for good.

    Inputs:
    - w, dw: weights and gradient, same shape (D...)
    - config: dict with
      - learning_rate: α (default 1e-2)
      - epsilon: ε, added after the square root (default 1e-8)
      - cache: sum of squared gradients, same shape as w (state; zeros on the first call)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    _check(config, learning_rate=(0.0, math.inf), epsilon=(0.0, math.inf))
    cache = _state(config, "cache", w) + dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """RMSProp (Hinton, Coursera lecture 6.5): Adagrad with a leaky average of squared gradients.

    ``cache = β cache + (1 - β) dw²`` (the lecture's s), ``w = w - α dw / (sqrt(cache) + ε)``.

    Inputs:
    - w, dw: weights and gradient, same shape (D...)
    - config: dict with
      - learning_rate: α (default 1e-2)
      - decay_rate: β in [0, 1) (default 0.99)
      - epsilon: ε, added after the square root (default 1e-8)
      - cache: the moving average of dw², same shape as w (state; zeros on the first call)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    _check(config, learning_rate=(0.0, math.inf), decay_rate=(0.0, 1.0), epsilon=(0.0, math.inf))
    beta = config["decay_rate"]
    cache = beta * _state(config, "cache", w) + (1.0 - beta) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam (Kingma and Ba 2015): momentum on the gradient, RMSProp on its square, bias-corrected.

    With t counting the steps from 1::

        m = β1 m + (1 - β1) dw            v = β2 v + (1 - β2) dw²
        m̂ = m / (1 - β1^t)               v̂ = v / (1 - β2^t)
        w = w - α m̂ / (sqrt(v̂) + ε)

    m and v start at 0, so early on they are shrunk towards 0 by the factors
    (1 - β^t); the corrections undo exactly that.

    Inputs:
    - w, dw: weights and gradient, same shape (D...)
    - config: dict with
      - learning_rate: α (default 1e-3)
      - beta1: β1 in [0, 1) (default 0.9); beta2: β2 in [0, 1) (default 0.999)
      - epsilon: ε, added after the square root (default 1e-8)
      - m, v: first and second moment, same shape as w (state; zeros on the first call)
      - t: the number of steps taken so far (state; 0 on the first call)

    Returns: (next_w, config).
    """
    w, dw, config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    _check(config, learning_rate=(0.0, math.inf), beta1=(0.0, 1.0), beta2=(0.0, 1.0), epsilon=(0.0, math.inf),
           t=(0, math.inf))
    b1, b2 = config["beta1"], config["beta2"]
    t = int(config["t"]) + 1
    m = b1 * _state(config, "m", w) + (1.0 - b1) * dw
    v = b2 * _state(config, "v", w) + (1.0 - b2) * dw * dw
    config.update(m=m, v=v, t=t)
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


# -- second order ----------------------------------------------------------------------

def newton_step(w: np.ndarray, dw: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """One step of Newton's method: ``w - H^{-1} dw`` (lecture 5, "Newton's Method").

    Minimises the second-order Taylor expansion of the loss at w; on a quadratic
    with positive definite H that is the minimum itself. Solves ``H δ = dw``
    rather than inverting H.

    Inputs:
    - w: weights, shape (D,)
    - dw: gradient at w, shape (D,)
    - hessian: H, shape (D, D), invertible

    Returns: next_w, shape (D,).
    """
    w = np.asarray(w, dtype=np.float64)
    dw = np.asarray(dw, dtype=np.float64)
    hessian = np.asarray(hessian, dtype=np.float64)
    if w.ndim != 1 or dw.shape != w.shape or hessian.shape != (w.size, w.size):
        raise ValueError(f"need w (D,), dw (D,) and hessian (D, D); got {w.shape}, {dw.shape}, {hessian.shape}")
    return w - np.linalg.solve(hessian, dw)


# -- learning-rate schedules (lecture 6, "Learning Rate Decay") ---------------------------

def _check_step(step: float, first: int = 0) -> None:
    if step < first:
        raise ValueError(f"step must be >= {first}, got {step!r}")


def step_decay(step: int, learning_rate: float, step_size: int, gamma: float = 0.5) -> float:
    """``α0 · γ^floor(step / step_size)``: multiply by γ every ``step_size`` steps.

    The lecture's "α = α - t·α every n steps" is γ = 1 - t (t often 0.5).
    ``torch.optim.lr_scheduler.StepLR(step_size, gamma)``.
    """
    _check_step(step)
    if step_size < 1:
        raise ValueError(f"step_size must be >= 1, got {step_size!r}")
    return learning_rate * gamma ** (int(step) // int(step_size))


def exponential_decay(step: int, learning_rate: float, gamma: float) -> float:
    """``α0 · γ^step`` (the lecture's "t^epoch · α0", t < 1). ``ExponentialLR(gamma)``."""
    _check_step(step)
    return learning_rate * gamma**step


def inverse_time_decay(step: int, learning_rate: float, decay_rate: float) -> float:
    """``α0 / (1 + decay_rate · step)``, the lecture's first decay (Robbins-Monro's α/n shape)."""
    _check_step(step)
    return learning_rate / (1.0 + decay_rate * step)


def inverse_sqrt_decay(step: int, learning_rate: float, decay_rate: float) -> float:
    """``α0 / sqrt(1 + decay_rate · step)``: the lecture's third decay, ``t / sqrt(epoch) · α0``, made to start at α0.

    The lecture's form is infinite at epoch 0; shifting the step by one, as the
    1/t decay does, keeps its tail: for large steps this is ``α0 / sqrt(decay_rate · step)``,
    the lecture's form with its constant ``t = 1 / sqrt(decay_rate)``. It decays
    more slowly than 1/t: the steps still add up to infinity, but so do their
    squares (Robbins-Monro asks for a finite sum). ``decay_rate = 0`` keeps α0.
    ``LambdaLR(lambda e: (1 + decay_rate * e) ** -0.5)``.
    """
    _check_step(step)
    if decay_rate < 0:
        raise ValueError(f"decay_rate must be >= 0, got {decay_rate!r}")
    return learning_rate / math.sqrt(1.0 + decay_rate * step)


def cosine_annealing(step: int, learning_rate: float, total_steps: int, lr_min: float = 0.0) -> float:
    """Half a cosine from α0 down to ``lr_min`` over ``total_steps`` (Loshchilov and Hutter 2017):

    ``lr_min + (α0 - lr_min) (1 + cos(π step / total_steps)) / 2``, and ``lr_min``
    after ``total_steps``. ``CosineAnnealingLR(T_max=total_steps, eta_min=lr_min)``
    for ``step <= total_steps`` (PyTorch goes back up after that; this stays down).
    """
    _check_step(step)
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
    progress = min(step, total_steps) / total_steps
    return lr_min + (learning_rate - lr_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_inverse_sqrt(step: int, d_model: int, warmup_steps: int) -> float:
    """The transformer's schedule ("Attention is all you need", eq. 3), ``step`` counted from 1:

    ``d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)``: grows linearly for
    ``warmup_steps`` steps, peaks at ``(d_model · warmup_steps)^-0.5``, then decays
    as 1/sqrt(step).
    """
    _check_step(step, first=1)
    if warmup_steps < 1 or d_model < 1:
        raise ValueError(f"d_model and warmup_steps must be >= 1, got {d_model!r}, {warmup_steps!r}")
    return d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)
