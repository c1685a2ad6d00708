"""Tests of dlcourse.widgets.backprop.views, the slider views of notebook 02: in-place updates, the student's
functions and the fallbacks to the reference, headless."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import dlcourse.lazy_reference
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import layers, mlp
from dlcourse.widgets import ALL_VIEWS
from dlcourse.widgets.backprop import GradientFlowView, TwoLayerTrainingView

pytestmark = pytest.mark.notebook("02_backprop")

REFERENCE_FUNCTIONS = {
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "sigmoid_backward": layers.sigmoid_backward,
    "leaky_relu_backward": layers.leaky_relu_backward,
    "softmax_cross_entropy": layers.softmax_cross_entropy,
}


def stub(*args: object) -> object:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 12)), rng.integers(0, 4, 40)


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    from dlcourse.data import make_classification_2d

    return make_classification_2d(n=120, kind="moons", noise=0.15, seed=0)


def test_views_are_registered_and_start_headless_on_agg():
    names = {(e.notebook, e.name) for e in ALL_VIEWS}
    assert {("02_backprop", "GradientFlowView"), ("02_backprop", "TwoLayerTrainingView")} <= names
    for entry in ALL_VIEWS:
        if entry.notebook == "02_backprop":
            assert type(entry.build().fig.canvas) is FigureCanvasAgg


def test_gradient_flow_view_updates_in_place(batch):
    view = GradientFlowView(*batch)
    view.fig.canvas.draw()
    axes, line = list(view.fig.axes), view.grad_line
    view.update(depth=15, activation=0, gain=1.0)
    view.draw()
    assert view.fig.axes == axes and view.grad_line is line and len(line.get_xdata()) == 15
    assert view.text.get_text().startswith("sigmoid: first/last")
    view.update(activation=2)
    assert view.params["depth"] == 15 and len(view.slope_line.get_xdata()) == 14
    assert "reference" not in view.title.get_text()


def test_gradient_flow_view_falls_back_and_uses_student_functions(batch):
    view = GradientFlowView(*batch, sigmoid_backward=stub)
    assert "(using the reference: your sigmoid_backward is not done yet)" in view.title.get_text()
    calls = []
    spy = GradientFlowView(*batch, sigmoid_backward=lambda d, c: calls.append(1) or layers.sigmoid_backward(d, c))
    assert calls and "reference" not in spy.title.get_text()
    np.testing.assert_allclose(spy.grad_line.get_ydata(), view.grad_line.get_ydata())


def test_exploding_gradients_warn_nothing(batch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = GradientFlowView(*batch)
        view.update(depth=20, activation=2, gain=10.0)
        view.fig.canvas.draw()
    shown = view.grad_line.get_ydata()
    assert np.all(np.isfinite(shown)) and shown.max() <= view.GRAD_LIM[1]


def test_training_view_uses_the_student_loss_and_caches_runs(moons):
    calls = []

    def student(params, X, y):
        calls.append(1)
        X += 1.0  # a careless student writes into X: the view's data must not change
        return mlp.mlp_loss(params, X - 1.0, y)

    X, y = moons
    view = TwoLayerTrainingView(X.copy(), y, two_layer_loss=student)
    assert len(calls) == view.MAX_STEPS and "reference" not in view.title.get_text()
    np.testing.assert_array_equal(view.X, X)
    view.update(steps=10)  # only picks another snapshot
    assert len(calls) == view.MAX_STEPS
    view.update(width=4)
    assert len(calls) == 2 * view.MAX_STEPS and len(view.loss_line.get_xdata()) == view.MAX_STEPS


def test_training_view_falls_back_to_the_reference(moons):
    view = TwoLayerTrainingView(*moons, two_layer_loss=stub)
    assert "(using the reference: your two_layer_loss is not done yet)" in view.title.get_text()
    reference = TwoLayerTrainingView(*moons)
    np.testing.assert_allclose(view.loss_line.get_ydata(), reference.loss_line.get_ydata())
    assert view.acc_text.get_text().startswith("training accuracy")


def test_training_view_learns_the_moons_and_shows_divergence(moons):
    view = TwoLayerTrainingView(*moons)
    view.update(width=32, learning_rate=3.0, steps=view.MAX_STEPS)
    assert view.acc_text.get_text() in {f"training accuracy {p}%" for p in range(95, 101)}
    assert len(view.boundary.get_xdata()) > 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view.update(learning_rate=30.0)
        view.fig.canvas.draw()
    assert np.all(np.isfinite(view.loss_line.get_ydata()))


def test_views_run_without_the_reference_when_the_student_functions_work(batch, moons, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    flow = GradientFlowView(*batch, **REFERENCE_FUNCTIONS)
    flow.update(activation=1)
    assert "reference" not in flow.title.get_text()
    training = TwoLayerTrainingView(*moons, two_layer_loss=mlp.mlp_loss)
    assert training.acc_text.get_text().startswith("training accuracy")


def test_without_the_reference_or_the_students_functions_the_views_say_what_to_implement(batch, moons,
                                                                                        monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    flow = GradientFlowView(*batch, **{**REFERENCE_FUNCTIONS, "sigmoid_backward": stub})
    assert flow.title.get_text().endswith("(implement `sigmoid_backward` first)")
    assert not flow.grad_line.get_visible() and not flow.std_line.get_visible()
    flow.update(activation=1)  # tanh needs no sigmoid_backward: drawn again
    assert flow.grad_line.get_visible() and flow.title.get_text() == flow.base_title
    training = TwoLayerTrainingView(*moons, two_layer_loss=stub)
    assert training.title.get_text().endswith("(implement `two_layer_loss` first)")
    assert not training.boundary.get_visible() and not training.loss_line.get_visible()
    training.update(steps=3)
    training.fig.canvas.draw()
