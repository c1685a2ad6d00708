"""What test cells call to check by hand: comparisons that explain themselves,
numerical gradients and gradient checks; and the data protocol that carries
cases and results across the grading boundary (``protocol``, ``programs``).

    from dlcourse import checks
    checks.assert_close(out, expected, name="affine_forward output")
    checks.gradcheck(forward, backward, {"x": x, "w": w, "b": b})

The graded line of a test cell, ``graded.hidden_test``, lives one layer up in
``dlcourse.graded``: it uses these checks and the exercise descriptions of
``dlcourse.exercises``, which use these checks too; nothing here imports either.
"""

from dlcourse.checks.compare import (
    Comparison,
    assert_close,
    assert_shape,
    compare,
    compare_outputs,
    flatten_outputs,
    passed,
    rel_error,
)
from dlcourse.checks.figures import figure
from dlcourse.checks.gradients import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    gradcheck,
)
from dlcourse.checks.protocol import grading

__all__ = [
    "Comparison",
    "assert_close",
    "assert_shape",
    "compare",
    "compare_outputs",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "figure",
    "flatten_outputs",
    "gradcheck",
    "grading",
    "passed",
    "rel_error",
]
