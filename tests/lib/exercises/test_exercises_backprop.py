"""dlcourse.exercises.backprop: the graded exercises of notebook 02 accept the reference, reject every listed
mistake on some case and name it there (and only where it is a mistake), reach the edges their docstrings allow,
and judge the whole contract of the autograd exercises (each operation records its inputs; an order lists every
node once, after its inputs) from the plain numbers the test cell records."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.checks import programs
from dlcourse.checks.programs import run_program
from dlcourse.checks.protocol import decode, encode
from dlcourse.exercises.backprop import value as value_exercises
from dlcourse.graded import run_case
from dlcourse.reference.autograd import Value, topological_order

pytestmark = pytest.mark.notebook("02_backprop")

NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("backprop."))


def cases(name: str, seed: int = 0) -> list[dict]:
    ex = exercises.get(name)
    return [decode(encode(c.to_data())) for c in ex.cases(np.random.default_rng(seed))]


def labelled(name: str, text: str) -> dict:
    (case,) = [c for c in cases(name) if text in c["label"]]
    return case


def test_the_notebook_has_its_twelve_exercises():
    assert NAMES == sorted(f"backprop.{n}" for n in (
        "value_ops", "topological_order", "affine_forward", "affine_backward", "sigmoid_backward",
        "leaky_relu_backward", "softmax_cross_entropy", "svm_loss", "two_layer_loss", "network_loss",
        "count_parameters", "overfit_tiny_batch"))


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert ex.mistakes or ex.check, f"{name} lists no known mistakes and judges no contract"
    all_cases = cases(name)
    for mistake in ex.mistakes:
        failing = [c for c in all_cases if not ex.judge(c, run_case(mistake.fn, c)).ok]
        assert failing, f"{name}: no case catches the mistake {mistake.hint!r}"
        hints = {ex.diagnose(c, run_case(mistake.fn, c)) for c in failing}
        assert any("Likely mistake" in h for h in hints), f"{name}: {mistake.hint!r} is never named"


@pytest.mark.parametrize("name", NAMES)
def test_no_mistake_is_named_for_a_right_answer(name):
    # A mistake that coincides with the reference on a case (alpha = 0, a network without hidden layers) must not
    # be named there: the hint would blame a right answer, e.g. beside "changed argument `dout` in place".
    ex = exercises.get(name)
    for case in cases(name):
        assert ex.diagnose(case, run_case(ex.reference, case)) == "", (name, case["label"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cases_are_seeded(seed):
    for name in NAMES:
        a, b = cases(name, seed), cases(name, seed)
        assert [c["label"] for c in a] == [c["label"] for c in b]


def test_the_deep_chain_is_deeper_than_the_recursion_limit():
    deep = [c for c in cases("backprop.topological_order") if "deep" in c["label"]]
    assert deep and len(deep[0]["args"][1]) > 3 * sys.getrecursionlimit()


def test_creation_order_and_backward_agree_on_every_value_case():
    for case in cases("backprop.value_ops") + cases("backprop.topological_order"):
        by_creation = run_program(Value, *case["args"])
        by_backward = run_program(Value, *case["args"], order="backward")
        np.testing.assert_allclose(by_creation[1], by_backward[1], rtol=1e-12, atol=1e-15)


def test_the_topological_order_cases_need_only_the_given_addition():
    for case in cases("backprop.topological_order"):
        assert set(case["args"][1][:, 0].tolist()) <= {0, 4, 7}, case["label"]


# -- the edges the docstrings allow ---------------------------------------------------------------

def test_the_edge_cases_are_there():
    tanh = labelled("backprop.value_ops", "tanh(400)")["args"][0]
    assert np.max(np.abs(tanh)) >= 400
    assert labelled("backprop.value_ops", "relu(0)")["args"][0][0] == 0.0
    assert np.max(np.abs(labelled("backprop.sigmoid_backward", "1000")["args"][0])) >= 400
    rows = labelled("backprop.softmax_cross_entropy", "1000 apart")["args"][0]
    assert np.ptp(rows.max(axis=1)) > 745  # exp of the smaller row's shift underflows to 0
    scores, y = labelled("backprop.softmax_cross_entropy", "e^-1000")["args"]
    log_p = scores[0, y[0]] - scores[0].max()
    assert log_p <= -745 and np.exp(log_p) == 0.0
    kink_scores, kink_y = labelled("backprop.svm_loss", "the kink")["args"]
    margins = kink_scores - kink_scores[np.arange(len(kink_y)), kink_y][:, None] + 1
    margins[np.arange(len(kink_y)), kink_y] = 1
    assert np.any(margins == 0)
    assert 0.0 in np.ravel(labelled("backprop.leaky_relu_backward", "exactly 0")["args"][0])
    depths = {len(c["args"][0]) // 2 for c in cases("backprop.network_loss")}
    regs = {c["args"][3] for c in cases("backprop.network_loss")}
    assert {1, 2, 3, 5} <= depths and 0.0 in regs and len(regs) >= 3
    assert any(c["args"][1].shape[0] == 1 for c in cases("backprop.network_loss"))
    descent = cases("backprop.overfit_tiny_batch")
    assert {0.0} <= {c["args"][3] for c in descent} and 0 in {c["args"][4] for c in descent}


# -- the contract of the operations: each records its inputs ---------------------------------------

class NoRecordValue(Value):
    """The reference Value, but multiplication does not record its inputs (its _backward still works)."""

    def __mul__(self, other):
        out = super().__mul__(other)
        out._prev = ()
        return out


class PlainConstantValue(Value):
    """Multiplication by a plain number records only the Value: right, and accepted."""

    def __mul__(self, other):
        if isinstance(other, Value):
            return super().__mul__(other)
        out = Value(self.data * other, (self,), "*")

        def _backward() -> None:
            self.grad += other * out.grad

        out._backward = _backward
        return out


def test_an_operation_that_does_not_record_its_inputs_fails_though_its_gradients_are_right():
    ex = exercises.get("backprop.value_ops")
    case = labelled("backprop.value_ops", "one node used twice")
    result = run_case(lambda *a: value_exercises._trace_ops(NoRecordValue, *a), case)
    np.testing.assert_allclose(result["outputs"][1], run_program(Value, *case["args"])[1])  # the numbers are right
    verdict = ex.judge(case, result)
    assert not verdict.ok and "node 1 = nodes[0] * nodes[0] records no nodes" in verdict.message


def test_a_value_that_keeps_plain_numbers_out_of_prev_is_accepted():
    ex = exercises.get("backprop.value_ops")
    for case in cases("backprop.value_ops"):
        assert ex.judge(case, run_case(lambda *a: value_exercises._trace_ops(PlainConstantValue, *a), case)).ok


def test_parent_edges_and_node_inputs():
    nodes = programs.build_graph(Value, np.array([1.0, 2.0]), np.array([[1, 0, 0], [4, 2, 2], [0, 3, 1]]),
                                 np.array([0.0, 5.0, 0.0]))
    edges = programs.parent_edges(nodes)
    assert edges.dtype == np.int64 and edges.tolist() == [[2, 0], [2, 0], [3, 2], [3, -1], [4, 3], [4, 1]]
    assert programs.node_inputs(2, np.array([[1, 0, 0], [4, 2, 2], [0, 3, 1]])) == [(), (), (0, 0), (2,), (3, 1)]
    assert programs.parent_edges(nodes[:1]).shape == (0, 2)


# -- the contract of the order: every node once, after its inputs, the output last -------------------

def order_result(order_fn, case):
    return run_case(lambda *a: value_exercises._trace_order(Value, order_fn, *a), case)


def judged(order_fn, text: str) -> str:
    ex = exercises.get("backprop.topological_order")
    verdict = ex.judge(labelled("backprop.topological_order", text), order_result(order_fn, labelled(
        "backprop.topological_order", text)))
    return "" if verdict.ok else verdict.message


def test_order_indices_number_foreign_values_once_each():
    nodes = [Value(1.0), Value(2.0)]
    stranger = Value(3.0)
    assert programs.order_indices([nodes[1], stranger, nodes[0], stranger], nodes).tolist() == [1, 2, 0, 2]


def test_the_reference_order_and_other_valid_orders_are_accepted():
    def depth_first_other_way(root):  # inputs visited in the opposite order: another valid topological order
        order, seen, stack = [], set(), [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node._prev))
        return order

    ex = exercises.get("backprop.topological_order")
    for case in cases("backprop.topological_order"):
        for fn in (topological_order, depth_first_other_way):
            assert ex.judge(case, order_result(fn, case)).ok, case["label"]


def test_a_leaf_left_out_changes_no_gradient_but_fails():
    def no_leaves(root):
        return [n for n in topological_order(root) if n._prev]

    assert "leaves out node 0 (an input)" in judged(no_leaves, "(x + y) + z")


def test_a_node_listed_twice_fails():
    def leaves_twice(root):
        order = topological_order(root)
        return [n for n in order if not n._prev] + order

    assert "is in your order 2 times" in judged(leaves_twice, "(x + y) + z")


def test_a_node_before_its_input_fails():
    def root_first(root):
        order = topological_order(root)
        return order[-2:-1] + order[:-2] + order[-1:]

    assert "comes before its input" in judged(root_first, "(x + y) + z")


def test_the_output_must_come_last():
    def root_first(root):
        order = topological_order(root)
        return [order[-1], *order[:-1]]

    assert "the output must come last" in judged(root_first, "(x + y) + z")


def test_values_of_another_graph_are_named():
    stale: list = []

    def kept_between_calls(root):
        stale.extend(topological_order(Value(7.0) + Value(8.0)))
        return stale + topological_order(root)

    assert "not part of this graph" in judged(kept_between_calls, "(x + y) + z")


def test_a_malformed_order_is_refused_without_crashing():
    ex = exercises.get("backprop.topological_order")
    case = labelled("backprop.topological_order", "(x + y) + z")
    result = order_result(topological_order, case)
    result["outputs"][2] = result["outputs"][2].astype(np.float64)
    assert "malformed" in ex.judge(case, result).message
    result["outputs"] = result["outputs"][:2]
    assert "expected 3 outputs" in ex.judge(case, result).message


# -- networks ---------------------------------------------------------------------------------------

def test_network_messages_name_the_parameter_and_float32():
    ex = exercises.get("backprop.network_loss")
    case = labelled("backprop.network_loss", "random network 3")
    right = run_case(ex.reference, case)
    wrong = {**right, "outputs": [o.copy() for o in right["outputs"]]}
    wrong["outputs"][3] = wrong["outputs"][3] + 1.0  # the gradient of W2
    assert "dW2:" in ex.judge(case, wrong).message
    single = {**right, "outputs": [o.astype(np.float32) for o in right["outputs"]]}
    assert "float32 precision" in ex.judge(case, single).message


def test_count_parameters_accepts_a_float_of_the_right_value_only():
    ex = exercises.get("backprop.count_parameters")
    case = labelled("backprop.count_parameters", "digits")
    assert ex.judge(case, run_case(lambda sizes: 9610.0, case)).ok
    assert not ex.judge(case, run_case(lambda sizes: 9611, case)).ok
