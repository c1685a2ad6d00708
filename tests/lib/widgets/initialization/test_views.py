"""Tests of dlcourse.widgets.initialization.views: in-place updates, the student's functions, the fallbacks.

ActivationStatsView trains a stack with the student's functions: a function that fails its check is named (and
the reference trains instead, or the part is hidden where there is none), so a training run is never blamed on the
slider setting when the function is wrong. No browser: views draw on Agg.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import dlcourse.lazy_reference
from dlcourse.data import load_digits
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import init as ref
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.initialization import (
    ActivationStatsView,
    InitialLossView,
    StackTraining,
    activation_rows,
    student_problems,
)


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="module")
def loss_view(digits) -> InitialLossView:
    return InitialLossView(digits.X_train, digits.y_train, digits.X_val, digits.y_val, epochs=2)


@pytest.fixture(scope="module")
def stats_view() -> ActivationStatsView:
    return ActivationStatsView(ref.forward_activations, ref.weight_gradients, steps=40, every=5)


def test_views_are_registered() -> None:
    names = {(e.notebook, e.name) for e in ALL_VIEWS}
    assert ("04_initialization", "ActivationStatsView") in names
    assert ("04_initialization", "InitialLossView") in names


def test_loss_view_updates_in_place_and_caches_runs(loss_view) -> None:
    view = loss_view
    line, marker = view._train_line, view._marker
    view.update(std=1e-3, hidden_layers=1)
    first = view._train_line.get_ydata().copy()
    runs = len(view._runs)
    view.update(std=0.1)
    view.update(std=1e-3)
    assert view._train_line is line and view._marker is marker
    assert len(view._runs) == runs + 1  # 1e-3 came from the cache
    np.testing.assert_array_equal(view._train_line.get_ydata(), first)
    start = view._marker.get_ydata()[0]
    assert start == pytest.approx(math.log(10), abs=1e-3)  # tiny weights start at log K
    np.testing.assert_allclose(view.loss_curve(1)[0], math.log(10), atol=1e-6)


def test_loss_view_shows_divergence_without_warnings(loss_view) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_view.update(std=10**0.5, hidden_layers=3)
        loss_view.fig.canvas.draw()
    assert loss_view._text.get_text().startswith("diverged")
    assert np.all(np.isfinite(loss_view._train_line.get_ydata()))


# -- ActivationStatsView: every layer while the stack trains --------------------------------------

def wrong_sign(x, weights, activation, dout):
    return [-g for g in ref.weight_gradients(x, weights, activation, dout)]


def pre_activations(x, weights, activation):
    out, h = [], x
    for w in weights:
        out.append(h @ w)
        h = np.tanh(out[-1]) if activation == "tanh" else np.maximum(out[-1], 0.0)
    return out


def test_stats_view_updates_in_place_from_the_training_run(stats_view) -> None:
    view = stats_view
    artists = (list(view.fig.axes), list(view._std_lines), list(view._ridges), view._loss_line)
    view.update(init=1, activation=1, step=22)  # Xavier, ReLU; the slider's 22 shows the snapshot of step 20
    view.draw()
    assert (list(view.fig.axes), list(view._std_lines), list(view._ridges), view._loss_line) == artists
    run = view.run(1, "relu")
    assert run is view.run(1, "relu")  # kept: a second visit only redraws
    np.testing.assert_array_equal(run.snapshot_steps, np.arange(0, 41, 5))
    for layer, line in enumerate(view._std_lines):
        np.testing.assert_allclose(line.get_ydata(), np.clip(run.stds[:, layer], *view.STD_LIMITS))
        np.testing.assert_allclose(view._off_lines[layer].get_ydata(), 100 * run.off[:, layer])
    assert all(list(c.get_xdata()) == [20, 20] for c in view._cursors)
    assert "histograms at step 20" in view._hist_title.get_text() and "Xavier" in view._hist_title.get_text()
    # The ridges are the histograms of the probe's activations at step 20, each scaled to its own peak.
    heights = activation_rows(run.hist[4], skip=view._zero_bin)
    top = view._ridges[0].get_data().values
    np.testing.assert_allclose(top, view.depth - 1 + 0.85 * heights[0])
    assert view.title.get_text() == view.base_title  # the student's functions were used
    with pytest.raises(TypeError, match="unknown slider"):
        view.update(gain=3)


def test_the_runs_are_the_reference_stack_trained_on_the_digits(stats_view) -> None:
    view = stats_view
    view.update(init=2, activation=0, step=0)
    run = view.run(2, "tanh")
    # Step 0 is the initialization: the probe's activations through the Kaiming-scaled directions.
    ws = [math.sqrt(2) / math.sqrt(64) * z for z in view.directions]
    hs = ref.forward_activations(view.X_probe, ws, "tanh")
    np.testing.assert_allclose(run.stds[0], [h.std() for h in hs], rtol=1e-12)
    assert np.all(np.isfinite(run.losses)) and run.losses[-5:].mean() < run.losses[:5].mean()  # it learns


def test_tiny_weights_never_move_and_big_relu_weights_kill_the_layers(stats_view) -> None:
    view = stats_view
    small = view.run(0, "relu")
    np.testing.assert_allclose(small.stds[-1], small.stds[0], rtol=1e-3)  # vanishing gradients: nothing moves
    big = view.run(3, "relu")
    assert big.off[-1, 1:].min() > 0.9  # after the first huge steps the deeper ReLU layers are dead
    view.update(init=3, activation=1, step=40)
    assert np.all(np.isfinite(view._std_lines[-1].get_ydata()))  # zeros and explosions drawn at the borders


def test_a_wrong_backward_pass_is_named_and_the_reference_trains_instead() -> None:
    view = ActivationStatsView(ref.forward_activations, wrong_sign, steps=10, every=5)
    title = view.title.get_text()
    assert "weight_gradients fails a gradient check" in title and "using the reference" in title
    assert "diverged" not in view._loss_text.get_text()  # the slider setting is not blamed for the function
    good = ActivationStatsView(ref.forward_activations, ref.weight_gradients, steps=10, every=5)
    np.testing.assert_allclose(view.run(2, "relu").losses, good.run(2, "relu").losses, rtol=1e-12)


def test_a_wrong_forward_pass_is_named() -> None:
    view = ActivationStatsView(pre_activations, ref.weight_gradients, steps=5, every=5)
    assert "forward_activations gives other activations than the reference" in view.title.get_text()


def test_student_problems_accepts_right_functions_and_stubs() -> None:
    assert student_problems(ref.forward_activations, ref.weight_gradients) == {}
    assert student_problems(stub, stub) == {}  # a stub is not wrong, only not done: the fallback says so
    assert set(student_problems(pre_activations, wrong_sign)) == {"forward_activations", "weight_gradients"}


def test_stats_view_says_what_is_missing(monkeypatch) -> None:
    stubbed = ActivationStatsView(stub, ref.weight_gradients, steps=5, every=5)
    assert "your forward_activations is not done yet" in stubbed.title.get_text()
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = ActivationStatsView(stub, stub, steps=5, every=5)
    assert view.title.get_text().endswith("(implement `forward_activations`, `weight_gradients` first)")
    assert not any(line.get_visible() for line in view._std_lines) and not view._loss_line.get_visible()
    half = ActivationStatsView(ref.forward_activations, stub, steps=5, every=5)
    assert half.title.get_text().endswith("(implement `weight_gradients` first)")
    broken = ActivationStatsView(ref.forward_activations, wrong_sign, steps=5, every=5)
    assert "fix `weight_gradients` first: fails a gradient check" in broken.title.get_text()
    assert not broken._loss_line.get_visible()


def test_stats_view_trains_with_the_students_functions_where_the_reference_is_absent(monkeypatch) -> None:
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    calls = []

    def counting(x, weights, activation, dout):
        calls.append(len(weights))
        return ref.weight_gradients(x, weights, activation, dout)

    view = ActivationStatsView(ref.forward_activations, counting, steps=10, every=5)
    assert view.title.get_text() == view.base_title
    assert len(calls) >= 10  # the gradient check, then one call per training step
    assert np.all(np.isfinite(view.run(2, "relu").losses))


def test_stats_view_reports_a_divergence_as_such(stats_view) -> None:
    view = stats_view
    run = view.run(2, "relu")
    diverged = StackTraining(run.snapshot_steps, run.stds, run.off, run.hist, run.accuracy, run.losses, 7)
    assert view._status(diverged, 1, 5).startswith("probe accuracy at step 5")
    assert view._status(diverged, 2, 10).startswith("diverged at step 7")
