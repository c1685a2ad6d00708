"""Graded exercises of notebook 03_optimizers (I2DL lectures 5 and 6: SGD, momentum, Adam, schedules).

An update rule is graded over several calls in a row: every case is a start
``w``, a sequence of gradients ``dws`` (k, *w.shape) and a first ``config``
(None, partial or full), and :func:`run_updates` feeds the rule one gradient
after another, carrying the config it returns, and records every weight.
So a rule that forgets its state between calls, or keeps it outside
``config``, gives a wrong sequence even when its first step is right. The
notebook's test cells call the student's rule through the same wrapper.

Edge cases aim at the mistakes that a single step with ordinary numbers
cannot see: tiny gradients and a large ε (where ε inside or outside the
square root matters), a constant gradient for many steps (velocity and bias
correction), an Adam config resumed at step t = 10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.lazy_reference import reference

Update = Callable[..., tuple[np.ndarray, dict[str, Any]]]



def run_updates(update: Update, w: np.ndarray, dws: np.ndarray, config: dict[str, Any] | None = None) -> np.ndarray:
    """Call ``update`` once per gradient in ``dws``, carrying ``config``; every new w, shape (k, *w.shape)."""
    ws = []
    for dw in dws:
        w, config = update(w, dw, config)
        ws.append(np.array(w, dtype=np.float64, copy=True))  # a rule may update w in place
    return np.stack(ws)


def _rule(name: str) -> Callable[[np.ndarray, np.ndarray, Any], np.ndarray]:
    return lambda w, dws, config: run_updates(reference(f"optim.{name}"), w, dws, config)


def _shape(rng: np.random.Generator) -> tuple[int, ...]:
    if rng.random() < 0.5:
        return (int(rng.integers(1, 8)),)
    return (int(rng.integers(2, 5)), int(rng.integers(2, 5)))


def _walk(rng: np.random.Generator, shape: tuple[int, ...], k: int, scale: float = 1.0) -> tuple[np.ndarray, ...]:
    """A start and k gradients that keep a common direction plus noise, as real ones do."""
    w = rng.standard_normal(shape)
    drift = rng.standard_normal(shape)
    return w, scale * (drift + 0.7 * rng.standard_normal((k, *shape)))


def _cases(rng: np.random.Generator, make_config: Callable[[np.random.Generator], dict], *,
           small_gradients: bool = False, large_epsilon: dict | None = None) -> list[Case]:
    """Random cases with their own hyperparameters, defaults, a partial config, and the rule's edge cases."""
    cases = []
    for i in range(3):
        shape, k = _shape(rng), int(rng.integers(3, 12))
        w, dws = _walk(rng, shape, k)
        config = make_config(rng)
        label = f"random case {i + 1}: w of shape {shape}, {k} calls, config {config}"
        cases.append(Case((w, dws, config), label=label))
    w, dws = _walk(rng, (5,), 6)
    cases.append(Case((w, dws, None), label="config=None: all defaults (6 calls)"))
    w, dws = _walk(rng, (2, 3), 5)
    cases.append(Case((w, dws, {"learning_rate": 0.05}), label="only learning_rate given, the rest default (5 calls)"))
    w = rng.standard_normal(4)
    cases.append(Case((w, np.tile(rng.standard_normal(4), (25, 1)), make_config(rng)),
                      label="the same gradient 25 times in a row"))
    if small_gradients:
        w, dws = _walk(rng, (6,), 8, scale=1e-5)
        cases.append(Case((w, dws, None), label="tiny gradients (~1e-5) with the default epsilon: where does ε go?"))
    if large_epsilon is not None:
        w, dws = _walk(rng, (3, 2), 6)
        cases.append(Case((w, dws, large_epsilon), label=f"a large epsilon, config {large_epsilon}"))
    return cases


# -- the mistakes, written as students write them --------------------------------------------

def _sgd_plus(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w + config["learning_rate"] * dw, config


def _sgd_no_lr(w, dw, config=None):
    return w - dw, {} if config is None else config


def _momentum(sign: float = -1.0, carry: bool = True, order: str = "new"):
    def rule(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-2)
        config.setdefault("momentum", 0.9)
        v = config.get("velocity", np.zeros_like(w))
        v_new = config["momentum"] * v + sign * config["learning_rate"] * dw
        if carry:
            config["velocity"] = v_new
        return w + (v_new if order == "new" else v), config

    return rule


def _nesterov_bad_sign(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w + mu * v_prev + (1 + mu) * v, config


def _adaptive(kind: str, *, eps_inside: bool = False, carry: bool = True, no_one_minus: bool = False):
    """Adagrad (kind 'adagrad') or RMSProp ('rmsprop') with one mistake switched on."""
    def rule(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-2)
        config.setdefault("epsilon", 1e-8)
        cache = config.get("cache", np.zeros_like(w))
        if kind == "adagrad":
            cache = cache + dw * dw
        else:
            config.setdefault("decay_rate", 0.99)
            beta = config["decay_rate"]
            cache = beta * cache + (1.0 if no_one_minus else 1 - beta) * dw * dw
        if carry:
            config["cache"] = cache
        eps = config["epsilon"]
        denom = np.sqrt(cache + eps) if eps_inside else np.sqrt(cache) + eps
        return w - config["learning_rate"] * dw / denom, config

    return rule


def _adam(*, correct_m: bool = True, correct_v: bool = True, eps_inside: bool = False, carry: bool = True,
          swap_powers: bool = False):
    """Adam with one mistake switched on."""
    def rule(w, dw, config=None):
        config = {} if config is None else config
        for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8), ("t", 0)):
            config.setdefault(key, value)
        b1, b2 = config["beta1"], config["beta2"]
        t = config["t"] + 1
        m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
        v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
        if carry:
            config.update(m=m, v=v, t=t)
        p1, p2 = (b2, b1) if swap_powers else (b1, b2)
        m_hat = m / (1 - p1**t) if correct_m else m
        v_hat = v / (1 - p2**t) if correct_v else v
        eps = config["epsilon"]
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return w - config["learning_rate"] * m_hat / denom, config

    return rule


def _wrapped(rule: Update) -> Callable[[np.ndarray, np.ndarray, Any], np.ndarray]:
    return lambda w, dws, config: run_updates(rule, w, dws, config)


STATE_HINT = ("your rule forgets its state between calls: store it in config (config['{key}'] = ...) and read it "
              "back on the next call.")


# -- sgd ------------------------------------------------------------------------------------------

# An update rule keeps its state in ``config`` (filling it with setdefault, as the reference does) and may update
# ``w`` in place as CS231n's sgd does: run_updates in the notebook copies every w it gets back.
RULE_MAY_CHANGE = ("w", "config")


register(Exercise(
    name="optimizers.sgd",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("sgd"),
    cases=lambda rng: _cases(rng, lambda r: {"learning_rate": float(r.uniform(0.01, 0.5))}),
    names=("weights after each call",),
    mistakes=(
        Mistake("you step up the gradient: w must move by MINUS learning_rate * dw.", _wrapped(_sgd_plus)),
        Mistake("the learning rate is missing: w - learning_rate * dw.", _wrapped(_sgd_no_lr)),
    ),
))


# -- momentum --------------------------------------------------------------------------------------

def _momentum_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.01, 0.2)), "momentum": float(rng.choice([0.5, 0.8, 0.9, 0.95]))}


register(Exercise(
    name="optimizers.sgd_momentum",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("sgd_momentum"),
    cases=lambda rng: _cases(rng, _momentum_config),
    names=("weights after each call",),
    mistakes=(
        Mistake("the velocity's sign is flipped: v = momentum * v - learning_rate * dw, then w = w + v.",
                _wrapped(_momentum(sign=+1.0))),
        Mistake(STATE_HINT.format(key="velocity"), _wrapped(_momentum(carry=False))),
        Mistake("you moved w with the old velocity: update v first, then w = w + (the new) v.",
                _wrapped(_momentum(order="old"))),
    ),
))


# -- Nesterov ----------------------------------------------------------------------------------------

register(Exercise(
    name="optimizers.nesterov",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("nesterov"),
    cases=lambda rng: _cases(rng, _momentum_config),
    names=("weights after each call",),
    mistakes=(
        Mistake("this is plain momentum (w = w + v): Nesterov steps w = w - momentum * v_prev + (1 + momentum) * v.",
                _wrapped(_momentum())),
        Mistake("a sign in the look-ahead correction is flipped: w = w - momentum * v_prev + (1 + momentum) * v.",
                _wrapped(_nesterov_bad_sign)),
    ),
))


# -- Adagrad ----------------------------------------------------------------------------------------

register(Exercise(
    name="optimizers.adagrad",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("adagrad"),
    cases=lambda rng: _cases(rng, lambda r: {"learning_rate": float(r.uniform(0.05, 0.5))}, small_gradients=True,
                             large_epsilon={"learning_rate": 0.1, "epsilon": 0.5}),
    names=("weights after each call",),
    mistakes=(
        Mistake(STATE_HINT.format(key="cache") + " Adagrad's cache is the sum of ALL squared gradients so far.",
                _wrapped(_adaptive("adagrad", carry=False))),
        Mistake("epsilon goes outside the square root: dw / (sqrt(cache) + epsilon).",
                _wrapped(_adaptive("adagrad", eps_inside=True))),
    ),
))


# -- RMSProp ----------------------------------------------------------------------------------------

def _rmsprop_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.001, 0.05)), "decay_rate": float(rng.choice([0.9, 0.95, 0.99]))}


register(Exercise(
    name="optimizers.rmsprop",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("rmsprop"),
    cases=lambda rng: _cases(rng, _rmsprop_config, small_gradients=True,
                             large_epsilon={"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 0.5}),
    names=("weights after each call",),
    mistakes=(
        Mistake("epsilon goes outside the square root: dw / (sqrt(cache) + epsilon).",
                _wrapped(_adaptive("rmsprop", eps_inside=True))),
        Mistake(STATE_HINT.format(key="cache"), _wrapped(_adaptive("rmsprop", carry=False))),
        Mistake("the new squared gradient is weighted by (1 - decay_rate): cache = β cache + (1 - β) dw².",
                _wrapped(_adaptive("rmsprop", no_one_minus=True))),
    ),
))


# -- Adam ---------------------------------------------------------------------------------------------

def _adam_config(rng: np.random.Generator) -> dict:
    return {"learning_rate": float(rng.uniform(0.001, 0.1)), "beta1": float(rng.choice([0.8, 0.9])),
            "beta2": float(rng.choice([0.99, 0.999]))}


def _adam_cases(rng: np.random.Generator) -> list[Case]:
    cases = _cases(rng, _adam_config, small_gradients=True,
                   large_epsilon={"learning_rate": 0.01, "epsilon": 0.3})
    w, dws = _walk(rng, (4,), 5)
    resumed = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 10,
               "m": 0.1 * rng.standard_normal(4), "v": 0.01 * rng.random(4)}
    cases.append(Case((w, dws, resumed), label="resumed at t = 10 with m and v from earlier steps (5 calls)"))
    return cases


register(Exercise(
    name="optimizers.adam",
    may_change=RULE_MAY_CHANGE,
    reference=_rule("adam"),
    cases=_adam_cases,
    names=("weights after each call",),
    mistakes=(
        Mistake("the bias correction is missing: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t).",
                _wrapped(_adam(correct_m=False, correct_v=False))),
        Mistake("only the first moment is bias-corrected: v_hat = v / (1 - beta2**t) too.",
                _wrapped(_adam(correct_v=False))),
        Mistake("only the second moment is bias-corrected: m_hat = m / (1 - beta1**t) too.",
                _wrapped(_adam(correct_m=False))),
        Mistake("the corrections are swapped: m goes with beta1, v with beta2.", _wrapped(_adam(swap_powers=True))),
        Mistake("epsilon goes outside the square root: m_hat / (sqrt(v_hat) + epsilon).",
                _wrapped(_adam(eps_inside=True))),
        Mistake(STATE_HINT.format(key="m', 'v' and 't"), _wrapped(_adam(carry=False))),
    ),
))


# -- Newton's method ------------------------------------------------------------------------------------

def _newton_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        d = int(rng.integers(2, 7))
        M = rng.standard_normal((d, d))
        H = M @ M.T + 0.5 * np.eye(d)
        cases.append(Case((rng.standard_normal(d), rng.standard_normal(d), H),
                          label=f"random positive definite Hessian {i + 1} (D={d})"))
    cases.append(Case((np.array([1.0, -2.0]), np.array([3.0, 1.0]), np.diag([100.0, 0.01])),
                      label="an ill-conditioned Hessian (curvatures 100 and 0.01)"))
    cases.append(Case((np.array([0.5, 0.5]), np.array([1.0, -1.0]), np.diag([2.0, -2.0])),
                      label="a saddle (one negative curvature)"))
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    cases.append(Case((np.array([1.0, 1.0]), np.array([0.5, -0.25]), H), label="a non-diagonal 2x2 Hessian"))
    cases.append(Case((np.array([3.0]), np.array([6.0]), np.array([[2.0]])), label="one dimension (D=1)"))
    return cases


register(Exercise(
    name="optimizers.newton_step",
    reference=reference("optim.newton_step"),
    cases=_newton_cases,
    names=("next_w",),
    rtol=1e-6,
    atol=1e-8,
    mistakes=(
        Mistake("multiply by the INVERSE Hessian: solve H delta = dw, then w - delta.",
                lambda w, dw, H: w - H @ dw),
        Mistake("the step goes against the gradient: w - H^-1 dw.", lambda w, dw, H: w + np.linalg.solve(H, dw)),
        Mistake("dividing by the diagonal of H ignores how the weights interact: use the whole matrix.",
                lambda w, dw, H: w - dw / np.diag(H)),
    ),
))


# -- schedules -------------------------------------------------------------------------------------------

def _schedule(name: str) -> Callable[..., np.ndarray]:
    return lambda steps, *args: np.array([reference(f"optim.{name}")(int(s), *args) for s in steps], dtype=np.float64)


def _cosine_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        total = int(rng.integers(5, 200))
        lr, lr_min = float(rng.uniform(0.01, 1.0)), float(rng.choice([0.0, 1e-3, 1e-2]))
        steps = np.unique(np.concatenate([[0, total], rng.integers(0, total + 1, 10)]))
        label = f"random case {i + 1}: total_steps={total}, lr_min={lr_min}"
        cases.append(Case((steps, lr, total, lr_min), label=label))
    cases.append(Case((np.arange(0, 11), 0.1, 10, 0.0), label="every step of a 10-step schedule"))
    cases.append(Case((np.array([10, 11, 15, 40]), 0.1, 10, 0.02),
                      label="steps past total_steps (must stay at lr_min)"))
    return cases


def _cosine_no_half(steps, lr, total, lr_min=0.0):
    return np.array([lr_min + (lr - lr_min) * np.cos(np.pi * s / total) for s in steps])


def _cosine_no_min(steps, lr, total, lr_min=0.0):
    return np.array([lr * 0.5 * (1 + np.cos(np.pi * min(s, total) / total)) for s in steps])


def _cosine_unclamped(steps, lr, total, lr_min=0.0):
    return np.array([lr_min + (lr - lr_min) * 0.5 * (1 + np.cos(np.pi * s / total)) for s in steps])


register(Exercise(
    name="optimizers.cosine_annealing",
    reference=_schedule("cosine_annealing"),
    cases=_cosine_cases,
    names=("learning rates",),
    rtol=1e-6,
    atol=1e-10,
    mistakes=(
        Mistake("cos(pi step / T) runs from 1 to -1: shift and halve it, (1 + cos(...)) / 2.", _cosine_no_half),
        Mistake("lr_min is missing: lr_min + (learning_rate - lr_min) * (1 + cos(...)) / 2.", _cosine_no_min),
        Mistake("after total_steps the cosine climbs back up: keep the rate at lr_min there.", _cosine_unclamped),
    ),
))


def _warmup_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(3):
        warmup, d_model = int(rng.integers(2, 100)), int(rng.choice([16, 64, 256, 512]))
        steps = np.unique(np.concatenate([[1, warmup, warmup + 1], rng.integers(1, 5 * warmup, 10)]))
        cases.append(Case((steps, d_model, warmup), label=f"random case {i + 1}: d_model={d_model}, warmup={warmup}"))
    cases.append(Case((np.arange(1, 13), 512, 4), label="steps 1..12 with warmup_steps=4"))
    cases.append(Case((np.array([1, 2, 100]), 1, 1), label="warmup_steps=1 (no warm-up), d_model=1"))
    return cases


register(Exercise(
    name="optimizers.warmup_inverse_sqrt",
    reference=_schedule("warmup_inverse_sqrt"),
    cases=_warmup_cases,
    names=("learning rates",),
    rtol=1e-6,
    atol=1e-12,
    mistakes=(
        Mistake("the warm-up term is step * warmup_steps**-1.5 (not -0.5): the two branches meet at step = warmup.",
                lambda steps, d, ws: np.array([d**-0.5 * min(s**-0.5, s * ws**-0.5) for s in steps])),
        Mistake("take the MIN of the two branches (max would never decay).",
                lambda steps, d, ws: np.array([d**-0.5 * max(s**-0.5, s * ws**-1.5) for s in steps])),
        Mistake("the factor d_model**-0.5 is missing.",
                lambda steps, d, ws: np.array([min(s**-0.5, s * ws**-1.5) for s in steps])),
    ),
))
