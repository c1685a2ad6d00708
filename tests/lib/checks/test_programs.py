"""dlcourse.checks.programs: the one encoding of expression graphs that grades a Value class."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.checks.programs import OPS, build_graph, run_program
from dlcourse.reference.autograd import Value


def test_each_op_code_does_what_its_text_says():
    a, b, c = Value(1.5), Value(-2.0), 3.0
    expected = {0: a.data + b.data, 1: a.data * b.data, 2: np.tanh(a.data), 3: max(a.data, 0.0),
                4: a.data + c, 5: a.data * c, 6: c * a.data, 7: c + a.data}
    assert set(OPS) == set(expected)
    for code, op in OPS.items():
        assert op.apply(a, b, c).data == pytest.approx(expected[code]), op.text


def test_the_lectures_graph_gives_its_gradients():
    # f = (x + y) z at x = 1, y = -3, z = 4: df/dx = df/dy = z = 4, df/dz = x + y = -2.
    values, grads = run_program(Value, np.array([1.0, -3.0, 4.0]), np.array([[0, 0, 1], [1, 3, 2]]), np.zeros(2),
                                order="backward")
    np.testing.assert_allclose(values, [1, -3, 4, -2, -8])
    np.testing.assert_allclose(grads, [4, 4, -2, 4, 1])


@pytest.mark.parametrize(("program", "constants", "message"), [
    ([[9, 0, 0]], [0.0], "unknown op code 9"),
    ([[0, 0, 5]], [0.0], "before it exists"),
    ([[0, 0, 0]], [0.0, 1.0], "constants has 2 values"),
])
def test_a_malformed_program_is_refused_clearly(program, constants, message):
    with pytest.raises(ValueError, match=message):
        build_graph(Value, np.array([1.0]), np.array(program), np.array(constants))
