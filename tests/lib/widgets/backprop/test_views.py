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
from dlcourse.widgets.backprop import GradientFlowView, TwoLayerTrainingView, backward_walk

pytestmark = pytest.mark.notebook("02_backprop")

REFERENCE_FUNCTIONS = {
    "affine_forward": layers.affine_forward,
    "affine_backward": layers.affine_backward,
    "sigmoid_backward": layers.sigmoid_backward,
    "leaky_relu_backward": layers.leaky_relu_backward,
    "softmax_cross_entropy": layers.softmax_cross_entropy,
    "svm_loss": layers.svm_loss,
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
    axes, stems = list(view.fig.axes), dict(view.stems)
    assert len(view.y_shown) == len(batch[1]) - len(batch[1]) // 2  # the held-out half
    view.update(example=5, activation=0, loss=1, steps=4)
    view.draw()
    assert view.fig.axes == axes and view.stems == stems
    assert len(view.stems["z1"].get_segments()) == view.HIDDEN and len(view.stems["s"].get_segments()) == 4
    assert view.status.get_text().startswith("loss ") and "step 4/4" in view.status.get_text()
    assert "reference" not in view.title.get_text()


def test_gradient_flow_view_draws_the_walk_of_the_digit_shown(batch):
    view = GradientFlowView(*batch)
    view.update(example=3, activation=2, loss=0, steps=4)
    walk = backward_walk(view.X_shown[3], int(view.y_shown[3]), view.network("ReLU"), "ReLU", "cross entropy")
    dz1 = walk["grads"]["z1"]
    heights = np.array([seg[1][1] for seg in view.stems["z1"].get_segments()])
    np.testing.assert_allclose(heights, dz1 / np.abs(dz1).max())  # drawn divided by the largest entry
    np.testing.assert_array_equal(view.zeros["z1"].get_xdata(), np.flatnonzero(dz1 == 0))  # crosses: exact zeros
    np.testing.assert_allclose(view.images["x"].get_array(), (walk["grads"]["x"] / np.abs(walk["grads"]["x"]).max())
                               .reshape(view.images["x"].get_array().shape))
    assert view.norm_texts["s"].get_text() == f"norm {np.linalg.norm(walk['grads']['s']):.2g}"
    assert "check ok" in view.status.get_text()


def test_the_steps_slider_hides_the_nodes_not_reached_yet(batch):
    view = GradientFlowView(*batch)
    view.update(steps=2)  # the loss's backward and affine_backward of layer 2 have run
    assert view.stems["s"].get_visible() and view.stems["a1"].get_visible()
    assert not view.stems["z1"].get_visible() and not view.images["x"].get_visible()
    assert view.norm_texts["z1"].get_text() == "not yet"
    view.update(steps=0)
    assert not any(stem.get_visible() for stem in view.stems.values())


def test_networks_are_trained_once_per_activation(batch):
    calls = []

    def counting_forward(x, w, b):
        calls.append(1)
        return layers.affine_forward(x, w, b)

    view = GradientFlowView(*batch, affine_forward=counting_forward)
    trained = len(calls)
    view.update(example=7)
    view.update(loss=1, steps=3)
    assert len(calls) - trained < view.TRAIN_STEPS  # two digits' passes and checks, no retraining
    view.update(activation=0)
    assert "sigmoid" in view._nets and len(calls) - trained > view.TRAIN_STEPS


def test_gradient_flow_view_falls_back_and_uses_student_functions(batch):
    view = GradientFlowView(*batch, sigmoid_backward=stub)
    view.update(activation=0)
    assert "(using the reference: your sigmoid_backward is not done yet)" in view.title.get_text()
    calls = []
    spy = GradientFlowView(*batch, svm_loss=lambda s, y: calls.append(1) or layers.svm_loss(s, y))
    spy.update(loss=1)
    assert calls and "reference" not in spy.title.get_text()


def test_a_wrong_backward_pass_is_blamed_on_the_function(batch):
    def negated_dx(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return -dx, dw, db

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = GradientFlowView(*batch, affine_forward=layers.affine_forward, affine_backward=negated_dx)
        view.update(activation=1)
    assert "your backward pass is WRONG here" in view.status.get_text()
    assert "check ok" in GradientFlowView(*batch).status.get_text()


def test_training_view_uses_the_student_loss_and_caches_runs(moons):
    calls = []

    def student(params, X, y):
        calls.append(1)
        X += 1.0  # a careless student writes into X: the view's data must not change
        return mlp.mlp_loss(params, X - 1.0, y)

    X, y = moons
    view = TwoLayerTrainingView(X.copy(), y, two_layer_loss=student)
    checked = 3  # the gradient check of a run: one gradient, two losses
    assert len(calls) == view.MAX_STEPS + checked and "reference" not in view.title.get_text()
    np.testing.assert_array_equal(view.X, X)
    view.update(steps=10)  # only picks another snapshot
    assert len(calls) == view.MAX_STEPS + checked
    view.update(width=4)
    assert len(calls) == 2 * (view.MAX_STEPS + checked) and len(view.loss_line.get_xdata()) == view.MAX_STEPS


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


def test_a_wrong_two_layer_loss_is_blamed_on_the_function_not_the_learning_rate(moons):
    def sign_flipped(params, X, y):  # gradient ascent in disguise: the loss climbs at every learning rate
        loss, grads = mlp.mlp_loss(params, X, y)
        return loss, {k: -g for k, g in grads.items()}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = TwoLayerTrainingView(*moons, two_layer_loss=sign_flipped)
        for rate in (0.01, 3.0, 30.0):
            view.update(learning_rate=rate)
            assert view.acc_text.get_text().startswith("your two_layer_loss is wrong")
            assert view.loss_text.get_text() == "your gradient is wrong"
    right = TwoLayerTrainingView(*moons, two_layer_loss=mlp.mlp_loss)
    assert right.acc_text.get_text().startswith("training accuracy")


def test_a_diverging_run_of_a_right_function_blames_the_learning_rate(moons):
    view = TwoLayerTrainingView(*moons, two_layer_loss=mlp.mlp_loss)
    params = view.run(32, 30.0)
    diverged = not np.all(np.isfinite(params[0]))
    view.update(learning_rate=30.0)
    text = view.acc_text.get_text()
    assert not text.startswith("your two_layer_loss is wrong")
    assert text == "diverged: the learning rate is too large" if diverged else text.startswith("training accuracy")


def test_views_run_without_the_reference_when_the_student_functions_work(batch, moons, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    flow = GradientFlowView(*batch, **REFERENCE_FUNCTIONS)
    flow.update(activation=1, loss=1)
    assert "reference" not in flow.title.get_text() and flow.stems["s"].get_visible()
    training = TwoLayerTrainingView(*moons, two_layer_loss=mlp.mlp_loss)
    assert training.acc_text.get_text().startswith("training accuracy")


def test_without_the_reference_or_the_students_functions_the_views_say_what_to_implement(batch, moons,
                                                                                        monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    flow = GradientFlowView(*batch, **{**REFERENCE_FUNCTIONS, "sigmoid_backward": stub})
    assert flow.title.get_text() == flow.base_title  # ReLU first: no sigmoid needed
    flow.update(activation=0)
    assert flow.title.get_text().endswith("(implement `sigmoid_backward` first)")
    assert not flow.stems["s"].get_visible() and not flow.status.get_visible()
    flow.update(activation=1)  # tanh needs no sigmoid_backward: drawn again
    assert flow.stems["s"].get_visible() and flow.title.get_text() == flow.base_title
    flow.update(loss=1)  # the student's own svm_loss
    assert flow.stems["s"].get_visible() and flow.title.get_text() == flow.base_title
    training = TwoLayerTrainingView(*moons, two_layer_loss=stub)
    assert training.title.get_text().endswith("(implement `two_layer_loss` first)")
    assert not training.boundary.get_visible() and not training.loss_line.get_visible()
    training.update(steps=3)
    training.fig.canvas.draw()
