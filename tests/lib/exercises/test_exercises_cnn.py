"""dlcourse.exercises.cnn: the graded exercises of notebook 06 accept the reference, reject every listed mistake on
some case and name it, and their hidden cases reach what the issue asks for (H != W, non-square kernels, stride 2,
padding, a batch of one, several channels, illegal strides, ties); the test cell's wrapper of conv_output_size is the
notebook's own."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from dlcourse import exercises, graded
from dlcourse.exercises.cnn import output_sizes
from dlcourse.graded import run_case
from dlcourse.reference import conv

pytestmark = pytest.mark.notebook("06_cnn")

REPO = Path(__file__).resolve().parents[3]
NAMES = sorted(n for n in exercises.all_exercises() if n.startswith("cnn."))


def cases(name: str, seed: int = 0) -> list[dict]:
    return exercises.get(name).seeded_cases(seed)


def test_the_notebook_has_at_least_seven_exercises():
    assert len(NAMES) >= 7
    assert {"cnn.conv_output_size", "cnn.conv_forward", "cnn.conv_backward", "cnn.max_pool_forward",
            "cnn.max_pool_backward", "cnn.receptive_field", "cnn.conv1x1"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes_its_own_hidden_test(name):
    ex = exercises.get(name)
    assert graded.hidden_test(name, ex.reference) == len(ex.cases(np.random.default_rng(1234))) > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_mistake_is_caught_and_named(name):
    ex = exercises.get(name)
    assert ex.mistakes, f"{name} lists no known mistakes"
    for seed in (0, 1):
        drawn = cases(name, seed)
        for mistake in ex.mistakes:
            named = False
            for case in drawn:
                result = run_case(mistake.fn, case)
                if "outputs" in result and not ex.judge(case, result).ok:
                    named = named or mistake.hint in ex.diagnose(case, result)
            assert named, f"{name}: the mistake '{mistake.hint[:60]}...' is never caught and named (seed {seed})"


@pytest.mark.parametrize("name", ["cnn.conv_forward", "cnn.conv_backward"])
def test_convolution_cases_reach_the_edges(name):
    seen = {"H != W": False, "HH != WW": False, "stride 2": False, "stride 3": False, "padding": False,
            "batch of one": False, "several channels": False, "several filters": False}
    for seed in range(3):
        for case in cases(name, seed):
            x, w, b, stride, pad = case["args"][:5]
            N, C, H, W = x.shape
            F, C_w, HH, WW = w.shape
            assert C_w == C and b.shape == (F,)
            out_shape = (N, F, conv.conv_output_size(H, HH, pad, stride), conv.conv_output_size(W, WW, pad, stride))
            if name == "cnn.conv_backward":
                assert case["args"][5].shape == out_shape  # dout has the output's shape
            seen["H != W"] |= H != W
            seen["HH != WW"] |= HH != WW
            seen["stride 2"] |= stride == 2
            seen["stride 3"] |= stride == 3
            seen["padding"] |= pad > 0
            seen["batch of one"] |= N == 1
            seen["several channels"] |= C > 1
            seen["several filters"] |= F > 1
    assert all(seen.values()), [k for k, v in seen.items() if not v]


@pytest.mark.parametrize("name", ["cnn.max_pool_forward", "cnn.max_pool_backward"])
def test_pooling_cases_reach_the_edges(name):
    overlapping = ties = negative = batch_one = non_square = False
    for case in cases(name):
        x, size, stride = case["args"][:3]
        N, _, H, W = x.shape
        conv.conv_output_size(H, size, 0, stride)  # legal: raises otherwise
        conv.conv_output_size(W, size, 0, stride)
        win = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
        flat = win.reshape(*win.shape[:4], -1)
        overlapping |= stride < size
        ties |= bool(((flat == flat.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).any())
        negative |= bool((x < 0).all())
        batch_one |= N == 1
        non_square |= H != W
    assert overlapping and ties and negative and batch_one and non_square


def test_size_cases_hold_legal_and_illegal_rows():
    rows = np.concatenate([case["args"][0] for case in cases("cnn.conv_output_size")])
    sizes = output_sizes(conv.conv_output_size, rows)
    legal, illegal = rows[sizes > 0], rows[sizes == 0]
    assert len(legal) >= 10 and len(illegal) >= 6
    n, kernel, pad, stride = illegal.T
    span = n + 2 * pad - kernel
    assert ((span < 0) | (span % stride != 0)).all()  # each refused row is really illegal
    assert (pad > 0).any() and (stride > 1).any() and ((span % np.maximum(stride, 1) != 0) & (span >= 0)).any()


def test_output_sizes_turns_a_value_error_into_zero_and_lets_other_errors_through():
    def size(n, kernel, pad, stride):
        if stride == 3:
            raise ValueError("illegal")
        return n

    np.testing.assert_array_equal(output_sizes(size, [[7, 3, 0, 1], [7, 3, 0, 3]]), [7, 0])

    def broken(n, kernel, pad, stride):
        raise TypeError("not a ValueError")

    with pytest.raises(TypeError):
        output_sizes(broken, [[7, 3, 0, 1]])


def test_the_notebook_grades_conv_output_size_through_the_same_wrapper():
    # The setup cell of the notebook defines its own output_sizes (the notebook cannot import the exercises):
    # it must return what the exercise's returns, or the hidden test would judge other numbers.
    nb = json.loads((REPO / "solutions" / "06_cnn" / "06_cnn.ipynb").read_text())
    setup = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup")
    tree = ast.parse("".join(setup["source"]))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "output_sizes"]
    namespace = {"np": np}
    exec(compile(ast.Module([node], []), "setup", "exec"), namespace)
    for case in cases("cnn.conv_output_size"):
        rows = case["args"][0]
        np.testing.assert_array_equal(namespace["output_sizes"](conv.conv_output_size, rows),
                                      output_sizes(conv.conv_output_size, rows))


def test_conv1x1_reference_is_a_linear_layer_over_the_channels():
    for case in cases("cnn.conv1x1"):
        x, w, b = case["args"]
        linear = np.einsum("nchw,fc->nfhw", x, w) + b[None, :, None, None]
        np.testing.assert_allclose(exercises.get("cnn.conv1x1").reference(x, w, b), linear, rtol=1e-12, atol=1e-12)


def test_a_flipped_kernel_is_named_as_a_true_convolution():
    def true_convolution(x, w, b, stride, pad):
        return conv.conv_forward(x, w[:, :, ::-1, ::-1], b, stride, pad)[0]

    with pytest.raises(AssertionError, match="Likely mistake: the kernel is flipped"):
        graded.hidden_test("cnn.conv_forward", true_convolution)
