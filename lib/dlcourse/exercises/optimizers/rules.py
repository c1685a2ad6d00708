"""Notebook 03's first-order update rules: SGD, momentum, Nesterov, Adagrad, RMSProp, Adam (I2DL lecture 5).

An update rule is graded over several calls in a row: every case is a start
``w``, a sequence of gradients ``dws`` (k, *w.shape) and a first ``config``
(None, partial, full, or resumed with state), and :func:`run_updates` feeds the
rule one gradient after another, carrying the config it returns. It records
every weight **and** the entries of the last config that the docstring
promises: the hyperparameters (defaults filled in) and the state (``velocity``,
``cache``, ``m``, ``v``, ``t``) in the lecture's conventions. So a rule that
forgets its state between calls, keeps it outside ``config`` or under another
name or convention (PyTorch's momentum buffer), or returns something other
than the dict, fails, even when its first step is right.

Edge cases aim at what one step with ordinary numbers cannot see: ``config=None``
at four shapes in a row, (5,), (2, 3), (1,), (4,) (a mutable default or a
module-level state carries over from one to the next); hyperparameters at the
ends of their range (momentum 0, decay_rate 0, beta1 0, beta2 0, a learning
rate of 0, which is not "missing"); a weight whose gradient is exactly 0 (ε
keeps 0/0 away); tiny gradients and a large ε (where ε goes); a constant
gradient for many steps (velocity and bias correction); configs resumed with
state from earlier calls; a 3-D weight and a single call.

Every docstring requires float64; outputs of float32 precision fail with that
reason, and the rest is judged to rtol 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks.compare import Comparison
from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.optimizers._common import (
    Check,
    Update,
    float32_verdict,
    float64_check,
    run_updates,
)
from dlcourse.lazy_reference import reference

# An update rule keeps its state in ``config`` (filling it with setdefault, as the reference does) and may update
# ``w`` in place as CS231n's sgd does: run_updates copies every w it gets back. Writing into a gradient is not allowed.
RULE_MAY_CHANGE = ("w", "config")
RTOL, ATOL = 1e-9, 1e-12

# What each rule's config must hold after the last call: its hyperparameters, then its state (docstring order).
KEEP: dict[str, tuple[str, ...]] = {
    "sgd": ("learning_rate",),
    "sgd_momentum": ("learning_rate", "momentum", "velocity"),
    "nesterov": ("learning_rate", "momentum", "velocity"),
    "adagrad": ("learning_rate", "epsilon", "cache"),
    "rmsprop": ("learning_rate", "decay_rate", "epsilon", "cache"),
    "adam": ("learning_rate", "beta1", "beta2", "epsilon", "m", "v", "t"),
}


def _names(rule: str) -> tuple[str, ...]:
    return ("weights after each call", *(f'config["{key}"] after the last call' for key in KEEP[rule]))


def _graded(rule: str, update: Update) -> Callable[[np.ndarray, np.ndarray, Any], tuple[Any, ...]]:
    """What the notebook's test cell records for ``update``: the weights and the promised config entries."""
    return lambda w, dws, config: run_updates(update, w, dws, config, keep=KEEP[rule])


OR_HINT = ("`config.get(key) or default` turns a hyperparameter of 0 into the default, as if it were missing: use "
           "config.setdefault(key, default), which fills in only what is missing.")
STATE = ("velocity", "cache", "m", "v", "t")


def _check(rule: str, compare: Check) -> Check:
    """The hyperparameters the config brings back are judged first, then everything (float64 first of all).

    A hyperparameter given as 0 that comes back as something else is the `config.get(...) or default` mistake:
    said so here, in the grader's process as in the student's, not only as a hint.
    """
    hyper = [i + 1 for i, key in enumerate(KEEP[rule]) if key not in STATE]

    def check(case: dict[str, Any], outputs: list[np.ndarray]) -> Comparison:
        given = case["args"][2] if isinstance(case["args"][2], dict) else {}
        if len(outputs) == len(KEEP[rule]) + 1 and float32_verdict(outputs, _names(rule)) is None:
            for i in hyper:
                key = KEEP[rule][i - 1]
                if given.get(key) == 0 and outputs[i].shape == () and float(outputs[i]) != 0:
                    return Comparison(False, (
                        f'config["{key}"] was given as 0 and came back as {float(outputs[i]):g}: a hyperparameter '
                        "of 0 is a value, not a missing one (fill in only what is missing, with config.setdefault)."))
        return compare(case, outputs)
    return check


def _register(rule: str, cases: Callable[[np.random.Generator], list[Case]], mistakes: tuple[Mistake, ...]) -> None:
    expected = _graded(rule, reference(f"optim.{rule}"))
    register(Exercise(
        name=f"optimizers.{rule}",
        may_change=RULE_MAY_CHANGE,
        reference=expected,
        cases=cases,
        names=_names(rule),
        rtol=RTOL,
        atol=ATOL,
        check=_check(rule, float64_check(expected, _names(rule), rtol=RTOL, atol=ATOL)),
        handout="outputs",
        mistakes=mistakes,
    ))


# -- cases ------------------------------------------------------------------------------------------


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    kind = rng.random()
    if kind < 0.4:
        return (int(rng.integers(1, 8)),)
    if kind < 0.8:
        return (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    return (2, int(rng.integers(1, 3)), 3)


def _walk(rng: np.random.Generator, shape: tuple[int, ...], k: int, scale: float = 1.0) -> tuple[np.ndarray, ...]:
    """A start and k gradients that keep a common direction plus noise, as real ones do."""
    w = rng.standard_normal(shape)
    drift = rng.standard_normal(shape)
    return w, scale * (drift + 0.7 * rng.standard_normal((k, *shape)))


def _cases(rng: np.random.Generator, make_config: Callable[[np.random.Generator], dict], *,
           edges: tuple[tuple[dict, str], ...] = (), adaptive: bool = False,
           large_epsilon: dict | None = None, resumed: Callable[[np.random.Generator], dict] | None = None,
           ) -> list[Case]:
    """Random cases with their own hyperparameters, then defaults at four shapes in a row, and the rule's edges."""
    cases = []
    for i in range(3):
        shape, k = _shape(rng), int(rng.integers(3, 12))
        w, dws = _walk(rng, shape, k)
        config = make_config(rng)
        label = f"random case {i + 1}: w of shape {shape}, {k} calls, config {config}"
        cases.append(Case((w, dws, config), label=label))
    # config=None at four shapes in a row: state kept outside the returned config (a mutable default argument, a
    # module-level variable) carries over from one case to the next, and breaks on the next shape.
    for shape, k in (((5,), 6), ((2, 3), 4), ((1,), 3), ((4,), 5)):
        w, dws = _walk(rng, shape, k)
        cases.append(Case((w, dws, None), label=f"config=None: all defaults, w of shape {shape} ({k} calls)"))
    w, dws = _walk(rng, (2, 3), 5)
    cases.append(Case((w, dws, {"learning_rate": 0.05}), label="only learning_rate given, the rest default (5 calls)"))
    w = rng.standard_normal(4)
    cases.append(Case((w, np.tile(rng.standard_normal(4), (25, 1)), make_config(rng)),
                      label="the same gradient 25 times in a row"))
    w, dws = _walk(rng, (2, 2, 3), 1)
    cases.append(Case((w, dws, make_config(rng)), label="a single call on a 3-D w of shape (2, 2, 3)"))
    for extra, why in edges:
        w, dws = _walk(rng, (3, 2), 6)
        config = {**make_config(rng), **extra}
        cases.append(Case((w, dws, config), label=f"{why}: config {config}"))
    if adaptive:
        w, dws = _walk(rng, (6,), 8, scale=1e-5)
        cases.append(Case((w, dws, None), label="tiny gradients (~1e-5) with the default epsilon: where does ε go?"))
        w, dws = _walk(rng, (5,), 5)
        dws[:, 2] = 0.0
        cases.append(Case((w, dws, make_config(rng)),
                          label="the weight at index 2 always gets a gradient of exactly 0 (0 / (0 + ε) = 0)"))
    if large_epsilon is not None:
        w, dws = _walk(rng, (3, 2), 6)
        cases.append(Case((w, dws, large_epsilon), label=f"a large epsilon, config {large_epsilon}"))
    if resumed is not None:
        w, dws = _walk(rng, (4,), 5)
        config = resumed(rng)
        state = ", ".join(k for k, v in config.items() if isinstance(v, np.ndarray) or k == "t")
        cases.append(Case((w, dws, config), label=f"resumed: config holds {state} from earlier calls (5 calls)"))
    return cases


# -- the mistakes, written as students write them -----------------------------------------------------


def _sgd_plus(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w + config["learning_rate"] * dw, config


def _sgd_or_default(w, dw, config=None):
    config = {} if config is None else config
    config["learning_rate"] = config.get("learning_rate") or 1e-2  # a learning rate of 0 becomes the default
    return w - config["learning_rate"] * dw, config


def _momentum(sign: float = -1.0, order: str = "new", or_default: bool = False):
    def sgd_momentum(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-2)
        if or_default:
            config["momentum"] = config.get("momentum") or 0.9  # momentum 0 becomes 0.9
        config.setdefault("momentum", 0.9)
        v = config.get("velocity", np.zeros_like(w))
        v_new = config["momentum"] * v + sign * config["learning_rate"] * dw
        config["velocity"] = v_new
        return w + (v_new if order == "new" else v), config

    return sgd_momentum


def _nesterov_bad_sign(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w + mu * v_prev + (1 + mu) * v, config


def _adaptive(kind: str, *, eps_inside: bool = False, no_one_minus: bool = False, or_default: bool = False):
    """Adagrad (kind 'adagrad') or RMSProp ('rmsprop') with one mistake switched on."""
    def rule(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-2)
        config.setdefault("epsilon", 1e-8)
        cache = config.get("cache", np.zeros_like(w))
        if kind == "adagrad":
            cache = cache + dw * dw
        else:
            if or_default:
                config["decay_rate"] = config.get("decay_rate") or 0.99  # decay_rate 0 becomes 0.99
            config.setdefault("decay_rate", 0.99)
            beta = config["decay_rate"]
            cache = beta * cache + (1.0 if no_one_minus else 1 - beta) * dw * dw
        config["cache"] = cache
        eps = config["epsilon"]
        denom = np.sqrt(cache + eps) if eps_inside else np.sqrt(cache) + eps
        return w - config["learning_rate"] * dw / denom, config

    return rule


def _adam(*, correct_m: bool = True, correct_v: bool = True, eps_inside: bool = False, swap_powers: bool = False,
          or_default: bool = False):
    """Adam with one mistake switched on."""
    def adam(w, dw, config=None):
        config = {} if config is None else config
        if or_default:  # beta1 = 0 or beta2 = 0 become the defaults
            config["beta1"] = config.get("beta1") or 0.9
            config["beta2"] = config.get("beta2") or 0.999
        for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8), ("t", 0)):
            config.setdefault(key, value)
        b1, b2 = config["beta1"], config["beta2"]
        t = config["t"] + 1
        m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
        v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
        config.update(m=m, v=v, t=t)
        p1, p2 = (b2, b1) if swap_powers else (b1, b2)
        m_hat = m / (1 - p1**t) if correct_m else m
        v_hat = v / (1 - p2**t) if correct_v else v
        eps = config["epsilon"]
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return w - config["learning_rate"] * m_hat / denom, config

    return adam



# -- sgd ------------------------------------------------------------------------------------------------

def _lr(lo: float, hi: float) -> Callable[[np.random.Generator], dict]:
    return lambda rng: {"learning_rate": float(rng.uniform(lo, hi))}


_register("sgd", lambda rng: _cases(rng, _lr(0.01, 0.5), edges=(({"learning_rate": 0.0}, "learning rate 0: w stays"),)),
          (
              Mistake("you step up the gradient: w must move by MINUS learning_rate * dw.",
                      _graded("sgd", _sgd_plus)),
              Mistake(OR_HINT, _graded("sgd", _sgd_or_default)),
          ))


# -- momentum and Nesterov ------------------------------------------------------------------------------------


def _momentum_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.01, 0.2)), "momentum": float(rng.choice([0.5, 0.8, 0.9, 0.95]))}


def _velocity_resumed(rng: np.random.Generator) -> dict:
    return {"learning_rate": 0.05, "momentum": 0.9, "velocity": 0.3 * rng.standard_normal(4)}


_MOMENTUM_EDGES = (({"momentum": 0.0}, "momentum 0 (plain SGD)"),)

_register("sgd_momentum", lambda rng: _cases(rng, _momentum_config, edges=_MOMENTUM_EDGES, resumed=_velocity_resumed), (
    Mistake("the velocity's sign is flipped: v = momentum * v - learning_rate * dw, then w = w + v.",
            _graded("sgd_momentum", _momentum(sign=+1.0))),
    Mistake("you moved w with the old velocity: update v first, then w = w + (the new) v.",
            _graded("sgd_momentum", _momentum(order="old"))),
    Mistake(OR_HINT, _graded("sgd_momentum", _momentum(or_default=True))),
))

_register("nesterov", lambda rng: _cases(rng, _momentum_config, edges=_MOMENTUM_EDGES, resumed=_velocity_resumed), (
    Mistake("this is plain momentum (w = w + v): Nesterov's gradient is taken at the look-ahead point, and w is that "
            "point here; substitute theta = w - momentum * v into the lecture's update.",
            _graded("nesterov", _momentum())),
    Mistake("a sign in the look-ahead correction is flipped: the old look-ahead momentum * v must come OFF w "
            "before the new one goes on.", _graded("nesterov", _nesterov_bad_sign)),
    Mistake(OR_HINT, _graded("nesterov", _momentum(or_default=True))),
))


# -- Adagrad and RMSProp ---------------------------------------------------------------------------------------


def _cache_resumed(extra: dict) -> Callable[[np.random.Generator], dict]:
    return lambda rng: {"learning_rate": 0.05, **extra, "cache": 0.5 * rng.random(4)}


_register("adagrad", lambda rng: _cases(
    rng, _lr(0.05, 0.5), adaptive=True, large_epsilon={"learning_rate": 0.1, "epsilon": 0.5},
    resumed=_cache_resumed({})), (
    Mistake("epsilon goes outside the square root: dw / (sqrt(cache) + epsilon).",
            _graded("adagrad", _adaptive("adagrad", eps_inside=True))),
))


def _rmsprop_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.001, 0.05)), "decay_rate": float(rng.choice([0.9, 0.95, 0.99]))}


_register("rmsprop", lambda rng: _cases(
    rng, _rmsprop_config, adaptive=True, edges=(({"decay_rate": 0.0}, "decay_rate 0: only the last gradient"),),
    large_epsilon={"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 0.5},
    resumed=_cache_resumed({"decay_rate": 0.9})), (
    Mistake("epsilon goes outside the square root: dw / (sqrt(cache) + epsilon).",
            _graded("rmsprop", _adaptive("rmsprop", eps_inside=True))),
    Mistake("the new squared gradient is weighted by (1 - decay_rate): a moving AVERAGE, not a leaky sum.",
            _graded("rmsprop", _adaptive("rmsprop", no_one_minus=True))),
    Mistake(OR_HINT, _graded("rmsprop", _adaptive("rmsprop", or_default=True))),
))


# -- Adam -----------------------------------------------------------------------------------------------------


def _adam_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.001, 0.1)), "beta1": float(rng.choice([0.8, 0.9])),
            "beta2": float(rng.choice([0.99, 0.999]))}


def _adam_resumed(rng: np.random.Generator) -> dict:
    return {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 10,
            "m": 0.1 * rng.standard_normal(4), "v": 0.01 * rng.random(4)}


_register("adam", lambda rng: _cases(
    rng, _adam_config, adaptive=True,
    edges=(({"beta1": 0.0}, "beta1 0: no average of the gradient"),
           ({"beta2": 0.0}, "beta2 0: only the last squared gradient")),
    large_epsilon={"learning_rate": 0.01, "epsilon": 0.3}, resumed=_adam_resumed), (
    Mistake("the bias correction is missing: both moments start at 0, and after t steps hold only a fraction "
            "(1 - beta**t) of what they estimate; divide that fraction out.",
            _graded("adam", _adam(correct_m=False, correct_v=False))),
    Mistake("only the first moment is bias-corrected: the second moment v needs its own correction too.",
            _graded("adam", _adam(correct_v=False))),
    Mistake("only the second moment is bias-corrected: the first moment m needs its own correction too.",
            _graded("adam", _adam(correct_m=False))),
    Mistake("the corrections are swapped: each moment is corrected with its OWN decay rate.",
            _graded("adam", _adam(swap_powers=True))),
    Mistake("epsilon goes outside the square root: m_hat / (sqrt(v_hat) + epsilon).",
            _graded("adam", _adam(eps_inside=True))),
    Mistake(OR_HINT, _graded("adam", _adam(or_default=True))),
))
