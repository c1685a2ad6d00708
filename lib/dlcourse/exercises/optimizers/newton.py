"""Notebook 03's second-order step: ``newton_step`` (I2DL lecture 5, "Newton's Method").

Edge cases: an ill-conditioned Hessian (curvatures 100 and 0.01, where dividing by the diagonal or multiplying by H
is far off), a saddle (an indefinite H: Newton's step goes to the critical point all the same), a non-diagonal 2x2,
one dimension, and a zero gradient (w stays). Float64 is required and judged to rtol 1e-9.
"""

from __future__ import annotations

import numpy as np

from dlcourse.exercises import Case, Exercise, Mistake, register
from dlcourse.exercises.optimizers._common import float64_check
from dlcourse.lazy_reference import reference


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
    cases.append(Case((rng.standard_normal(3), np.zeros(3), H[:1, :1] * np.eye(3) + 0.1),
                      label="a zero gradient: w is already where the quadratic is flat (w stays)"))
    return cases


_NAMES = ("next_w",)

register(Exercise(
    name="optimizers.newton_step",
    reference=reference("optim.newton_step"),
    cases=_newton_cases,
    names=_NAMES,
    rtol=1e-9,
    atol=1e-10,
    check=float64_check(reference("optim.newton_step"), _NAMES, rtol=1e-9, atol=1e-10),
    handout="outputs",
    mistakes=(
        Mistake("multiply by the INVERSE Hessian: solve H delta = dw, then w - delta.",
                lambda w, dw, H: w - H @ dw),
        Mistake("the step goes against the gradient: w - H^-1 dw.", lambda w, dw, H: w + np.linalg.solve(H, dw)),
        Mistake("dividing by the diagonal of H ignores how the weights interact: use the whole matrix.",
                lambda w, dw, H: w - dw / np.diag(H)),
    ),
))
