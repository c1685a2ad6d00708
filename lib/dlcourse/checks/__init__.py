"""What test cells call: comparisons that explain themselves, gradient checks,
and the graded ``hidden_test`` that leads a double life (see ``exercise``).

    from dlcourse import checks
    checks.assert_close(out, expected, name="affine_forward output")
    checks.gradcheck(forward, backward, {"x": x, "w": w, "b": b})
    checks.hidden_test("regression.mse", mse)
"""

from dlcourse.checks.compare import (
    Comparison,
    assert_close,
    assert_shape,
    compare,
    compare_outputs,
    flatten_outputs,
    rel_error,
)
from dlcourse.checks.exercise import check_against_reference, hidden_test
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
    "check_against_reference",
    "compare",
    "compare_outputs",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "flatten_outputs",
    "gradcheck",
    "grading",
    "hidden_test",
    "rel_error",
]
