"""Tests of dlcourse.widgets.core: sliders, the fallback policy in a view, blitting, the widget headless.

No browser anywhere: views draw on Agg, and ``widget()`` is built and driven
by setting slider values, as nbclient/nbgrader would leave it.
"""

from __future__ import annotations

import subprocess
import sys

import ipywidgets
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import dlcourse.lazy_reference
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.reference import regression as ref
from dlcourse.widgets.core import Slider, View, WithFallback, display_clip
from dlcourse.widgets.regression import GradientDescentView


@pytest.fixture(scope="module")
def line() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 30)
    return ref.add_bias_column(x[:, None]), 2 * x + 1 + 0.3 * rng.standard_normal(30)


def stub(*args: object) -> np.ndarray:
    raise NotImplementedError("not done yet")


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


class SquareView(View):
    """The smallest view: one point at mse([a], [0]) = a², drawn from the student's ``mse``."""

    def __init__(self, mse=None) -> None:
        self.mse = WithFallback("mse", mse, "regression.mse")
        super().__init__({"a": Slider("float", 0.0, 2.0, 0.1, 0.5, "a")}, figsize=(2, 2), title="a²")
        ax = self.fig.subplots()
        (self.point,) = ax.plot([], [], "o")
        self.text = ax.text(0.1, 0.1, "")
        ax.set(xlim=(0, 2), ylim=(0, 4))
        self.animate(self.point, self.text)
        self.update()

    def update(self, **params: float) -> None:
        p = self.merge(params)
        with self.part(self.point):
            self.point.set_data([p["a"]], [float(self.mse(np.array([p["a"]]), np.zeros(1), shape=()))])
        self.text.set_text(f"a = {p['a']:.2f}")  # needs no student function: always drawn
        self.show_fallbacks(self.mse)


# -- sliders --------------------------------------------------------------------------------

def test_a_slider_names_its_fields():
    s = Slider("log", 1e-3, 1.0, 0.1, 0.01, "rate")
    assert (s.kind, s.min, s.max, s.step, s.default, s.description) == ("log", 1e-3, 1.0, 0.1, 0.01, "rate")
    with pytest.raises(AttributeError):
        s.min = 0.5  # frozen


@pytest.mark.parametrize(("args", "message"), [
    (("linear", 0, 1, 0.1, 0.5, "x"), "slider 'x': kind must be one of"),
    (("float", 0, 1, 0.1, 2.0, "x"), r"slider 'x': need min <= default <= max, got min=0, default=2.0, max=1"),
    (("int", 5, 1, 1, 3, "x"), "need min <= default <= max"),
    (("float", 0, 1, 0.0, 0.5, "x"), "step must be positive"),
    (("log", 0.0, 1.0, 0.1, 0.5, "x"), "a log slider needs min > 0"),
])
def test_a_bad_slider_says_what_is_wrong(args, message):
    with pytest.raises(ValueError, match=message):
        Slider(*args)


def test_a_view_takes_sliders_not_tuples():
    class Old(View):
        def update(self, **params: float) -> None:
            pass

    with pytest.raises(TypeError, match="slider 'a' must be a Slider, got tuple"):
        Old({"a": ("float", 0.0, 1.0, 0.1, 0.5, "a")}, figsize=(2, 2), title="t")


def test_merge_keeps_the_other_sliders_and_casts_int_sliders(line):
    view = GradientDescentView(*line)
    p = view.merge({"num_iters": 7.0})
    assert p["num_iters"] == 7 and isinstance(p["num_iters"], int) and p["theta0"] == 0.0
    with pytest.raises(TypeError, match="unknown slider"):
        view.merge({"momentum": 0.9})


def test_display_clip_puts_blown_up_values_at_the_border():
    np.testing.assert_array_equal(display_clip(np.array([-np.inf, 0.5, 7.0, np.inf, np.nan]), 0.1, 5.0),
                                  [0.1, 0.5, 5.0, 5.0, 5.0])


# -- the fallback policy in a view -----------------------------------------------------------

def test_a_part_is_drawn_by_the_student_function_or_the_reference():
    view = SquareView(mse=lambda y_hat, y: np.mean((y_hat - y) ** 2))
    assert view.point.get_visible() and view.title.get_text() == "a²"
    np.testing.assert_allclose(view.point.get_ydata(), [0.25])
    fallback = SquareView(mse=stub)
    assert fallback.title.get_text() == "a²\n(using the reference: your mse is not done yet)"
    np.testing.assert_allclose(fallback.point.get_ydata(), [0.25])


def test_without_the_reference_a_part_is_hidden_and_the_title_says_what_to_implement(monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = SquareView(mse=stub)  # builds: no exception
    assert view.title.get_text() == "a²\n(implement `mse` first)"
    assert not view.point.get_visible() and view.text.get_visible()
    view.update(a=1.5)
    assert view.text.get_text() == "a = 1.50"  # the rest of the figure still follows the slider
    view.fig.canvas.draw()
    view.draw()
    view.mse.student = lambda y_hat, y: np.mean((y_hat - y) ** 2)  # the student's function now works
    view.update(a=1.0)
    assert view.point.get_visible() and view.title.get_text() == "a²"
    np.testing.assert_allclose(view.point.get_ydata(), [1.0])


# -- drawing ----------------------------------------------------------------------------------

def test_a_view_starts_headless_on_agg(line):
    assert type(GradientDescentView(*line).fig.canvas) is FigureCanvasAgg


@pytest.mark.parametrize("interactive", [None, False], ids=["ipympl", "output"])
def test_widget_builds_headless_and_sliders_update(line, interactive):
    view = GradientDescentView(*line)
    box = view.widget(interactive=interactive)
    assert isinstance(box, ipywidgets.VBox) and view.widget() is box  # built once
    if interactive is None:  # ipympl is installed: the figure is one live widget
        assert box.children[-1] is view.fig.canvas
    else:
        assert isinstance(box.children[-1], ipywidgets.Output)
        assert type(view.fig.canvas) is FigureCanvasAgg
    fit_before = view.fit_line.get_ydata().copy()
    view.controls["learning_rate"].value = 0.5
    view.controls["num_iters"].value = 4
    assert view.params["learning_rate"] == pytest.approx(0.5) and view.params["num_iters"] == 4
    assert len(view.loss_line.get_xdata()) == 5
    assert not np.allclose(view.fit_line.get_ydata(), fit_before)


def test_widget_sliders_follow_the_slider_specifications(line):
    view = GradientDescentView(*line)
    view.widget(interactive=False)
    rate, steps = view.sliders["learning_rate"], view.sliders["num_iters"]
    assert isinstance(view.controls["learning_rate"], ipywidgets.FloatLogSlider)
    assert view.controls["learning_rate"].min == pytest.approx(np.log10(rate.min))
    assert view.controls["learning_rate"].max == pytest.approx(np.log10(rate.max))
    assert isinstance(view.controls["num_iters"], ipywidgets.IntSlider)
    assert (view.controls["num_iters"].min, view.controls["num_iters"].max) == (steps.min, steps.max)
    assert view.controls["num_iters"].description == steps.description
    assert isinstance(view.controls["theta0"], ipywidgets.FloatSlider)


def test_on_ipympl_a_slider_sends_only_a_blitted_frame(line, monkeypatch):
    view = GradientDescentView(*line)
    view.widget(interactive=True)
    canvas = view.fig.canvas
    frames: list[int] = []
    send = canvas.send_binary
    monkeypatch.setattr(canvas, "send_binary", lambda data: frames.append(len(data)) or send(data))
    canvas.draw()  # the browser's first request: a full frame, which saves the background
    assert len(frames) == 1
    monkeypatch.setattr(canvas, "draw", lambda: pytest.fail("a slider must not redraw fully"))
    view.controls["learning_rate"].value = 0.3
    assert len(frames) == 2  # the blit went out at once


def test_the_ipympl_canvas_is_made_without_the_figure_display_queue(line):
    import matplotlib
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    with matplotlib.rc_context():
        matplotlib.interactive(True)  # where ipympl's manager factory would queue the figure for display
        try:
            view = GradientDescentView(*line)
            view.widget(interactive=True)
        finally:
            matplotlib.interactive(False)
    canvas = view.fig.canvas
    assert type(canvas).__module__ == "ipympl.backend_nbagg" and canvas.manager is not None
    assert not canvas.header_visible and not canvas.footer_visible and not canvas.resizable
    assert plt.get_fignums() == before  # never one of pyplot's figures


def test_the_private_ipympl_handler_the_benchmark_uses_still_works(line):
    """benchmarks/bench_sliders.py plays the browser's first message through ipympl's private
    ``Canvas._handle_message``: no public call delivers a frontend message to a widget."""
    view = GradientDescentView(*line)
    view.widget(interactive=True)
    canvas = view.fig.canvas
    handler = getattr(canvas, "_handle_message", None)
    assert callable(handler), ("ipympl's Canvas._handle_message is gone: update on_ipympl() in "
                               "benchmarks/bench_sliders.py to ipympl's new way of receiving the browser's messages")
    assert canvas.syncing_data_url
    handler(canvas, {"type": "initialized"}, [])
    assert canvas.syncing_data_url is False, (
        "ipympl's 'initialized' message no longer stops the data-URL copies: benchmarks/bench_sliders.py would "
        "time what no browser session costs; update on_ipympl() there")


def test_importing_ipympl_leaves_the_notebooks_backend_alone():
    # A fresh interpreter: `import ipympl` would switch pyplot to the widget backend.
    code = (
        "import matplotlib; matplotlib.use('agg'); import matplotlib.pyplot as plt\n"
        "from dlcourse.widgets.core import _ipympl_backend\n"
        "assert _ipympl_backend() is not None\n"
        "assert matplotlib.get_backend() == 'agg', matplotlib.get_backend()\n"
        "assert type(plt.figure().canvas).__name__ == 'FigureCanvasAgg'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_importing_ipympl_before_any_backend_is_chosen_keeps_pyplot_off_ipympl():
    # No backend chosen yet (a plain script): it is resolved as pyplot would, then kept.
    code = (
        "import os; os.environ.pop('MPLBACKEND', None)\n"
        "import matplotlib\n"
        "from dlcourse.widgets.core import _ipympl_backend\n"
        "assert _ipympl_backend() is not None\n"
        "assert 'ipympl' not in matplotlib.get_backend(), matplotlib.get_backend()\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_pyplot_figures_still_display_after_a_view_in_a_kernel(monkeypatch):
    """Attaching ipympl's canvas must leave the notebook's inline plots working, even when
    pyplot was imported but had drawn nothing yet (IPython's display hook is easily lost)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (
        "import matplotlib.pyplot as plt",
        "from dlcourse.widgets import show\nfrom dlcourse.widgets.catalog import polynomial_degree_view\n"
        "show(polynomial_degree_view())",
        "plt.plot([1, 3])\nplt.show()",
    )]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    kinds = [list(o.get("data", {})) for o in nb.cells[2].outputs if o.output_type == "display_data"]
    assert any("image/png" in k for k in kinds), f"the figure after a view was not drawn: {kinds}"
