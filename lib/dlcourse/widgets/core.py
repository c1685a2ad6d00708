"""The base of every slider-driven view: a figure, its sliders, and in-place updates.

A :class:`View` owns one matplotlib :class:`~matplotlib.figure.Figure` made
without pyplot, so building a view never touches the notebook's current
figure, its backend or its other plots. Subclasses draw their artists once in
``__init__`` and, in :meth:`View.update`, only change their data
(``set_data``, ``set_ydata``, ``set_offsets``, ``set_text``, ``set_array``):
rebuilding axes costs several times more than redrawing them, and a slider
update has a 50 ms budget (docs/architecture.md, "Budgets"). Each slider is a
:class:`Slider`; each part of the figure drawn from a student's function is
drawn inside :meth:`View.part`, which applies the one fallback policy of
:mod:`dlcourse.widgets.fallback` (the student's function, else the reference,
else "implement `name` first" and that part hidden).

Until :meth:`View.widget` is called the figure sits on an Agg canvas, so
everything (tests, benchmarks, nbgrader executing a notebook) runs headless.
:meth:`View.widget` then attaches an ipympl canvas, which makes the figure one
live widget that redraws in place, or, without ipympl, falls back to an
``ipywidgets.Output`` showing a PNG of the figure after each change.

Blitting: a full redraw re-renders every tick label, contour and image; a
slider only moves a few lines. Artists registered with :meth:`View.animate`
are left out of full redraws and drawn on top of a saved copy of the rest
(``copy_from_bbox``/``restore_region`` + ``draw_artist``), the pattern of
matplotlib's blitting tutorial. The ipympl canvas inherits
``supports_blit = False`` from matplotlib's WebAgg core, set only so that
matplotlib's own widgets do not blit on their own (matplotlib#19701); called
by hand, its ``blit`` sends just the changed pixels (matplotlib/ipympl#228).
Static content never changes while sliders move (axis limits are fixed);
where it does, the view calls :meth:`View.invalidate` and the next draw is a
full one. A zoom or resize redraws fully and saves a new background.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlcourse.widgets.blas import one_blas_thread
from dlcourse.widgets.fallback import FunctionMissing, WithFallback

__all__ = ["FunctionMissing", "Slider", "View", "WithFallback", "display_clip", "one_blas_thread", "show"]

SLIDER_KINDS = ("int", "float", "log")


@dataclass(frozen=True)
class Slider:
    """One slider of a view: what it sets, its range, its start and its label.

    ``kind`` is "int" (an IntSlider), "float" (a FloatSlider) or "log" (a
    FloatLogSlider: ``min``, ``max`` and ``default`` are values, ``step`` is
    in decades).
    """

    kind: str
    min: float
    max: float
    step: float
    default: float
    description: str

    def __post_init__(self) -> None:
        where = f"slider {self.description!r}"
        if self.kind not in SLIDER_KINDS:
            raise ValueError(f"{where}: kind must be one of {SLIDER_KINDS}, got {self.kind!r}")
        if not self.min <= self.default <= self.max:
            raise ValueError(f"{where}: need min <= default <= max, got min={self.min}, default={self.default}, "
                             f"max={self.max}")
        if not self.step > 0:
            raise ValueError(f"{where}: step must be positive, got {self.step}")
        if self.kind == "log" and not self.min > 0:
            raise ValueError(f"{where}: a log slider needs min > 0, got {self.min}")


# Numbers for the ipympl figure managers. They are never registered with
# pyplot's figure list (Gcf), so they only label the canvas; start high so a
# label never reads like one of the notebook's pyplot figures.
_FIGURE_NUMBERS = itertools.count(1001)


class View:
    """A figure whose artists follow a set of sliders.

    Subclasses pass their sliders (name -> :class:`Slider`) and a title,
    build their artists on ``self.fig``, register the ones that move with
    :meth:`animate`, and implement :meth:`update`: each part of the figure
    that needs a student's function is drawn inside :meth:`part`, and the
    update ends with :meth:`show_fallbacks`.
    """

    # Whether dragging a slider redraws on every intermediate value. True suits
    # views that update within the budget; the PNG fallback never does it.
    continuous_update: ClassVar[bool] = True

    def __init__(self, sliders: dict[str, Slider], figsize: tuple[float, float],
                 title: str) -> None:
        for name, spec in sliders.items():
            if not isinstance(spec, Slider):
                raise TypeError(f"slider {name!r} must be a Slider, got {type(spec).__name__}")
        self.sliders = dict(sliders)
        self.params: dict[str, float] = {name: spec.default for name, spec in self.sliders.items()}
        self._missing: list[str] = []  # functions missing in this update (see part)
        # Opaque white, whatever the rcParams: ipympl sends only the changed pixels
        # of an opaque figure, but every pixel of one with any transparency.
        self.fig = Figure(figsize=figsize, dpi=100, facecolor="white")
        FigureCanvasAgg(self.fig)  # attaches itself as fig.canvas
        self.base_title = title
        self.title = self.fig.suptitle(title)
        self.controls: dict[str, Any] = {}  # slider name -> ipywidgets slider, once built
        self._widget: Any = None
        self._output: Any = None  # the ipywidgets.Output of the fallback, if used
        self._animated: list[Artist] = []
        # (canvas, figure size in pixels, saved pixels) of the last full draw.
        self._background: tuple[Any, tuple[float, ...], Any] | None = None
        # Connections live on the figure, so this survives swapping in the ipympl canvas.
        self.fig.canvas.mpl_connect("draw_event", self._on_full_draw)

    # -- what subclasses implement ---------------------------------------------------

    def update(self, **params: float) -> None:
        """Recompute for these slider values and change the artists' data in place.

        Missing values keep their current setting (see :meth:`merge`). Never
        clear or rebuild axes here.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update(**params)")

    # -- helpers for subclasses ------------------------------------------------------

    def merge(self, params: dict[str, float]) -> dict[str, float]:
        """The full parameter set: current values overridden by ``params``, then stored."""
        unknown = set(params) - set(self.sliders)
        if unknown:
            raise TypeError(f"unknown slider(s) {sorted(unknown)}; known: {sorted(self.sliders)}")
        for name, value in params.items():
            self.params[name] = int(value) if self.sliders[name].kind == "int" else float(value)
        return dict(self.params)

    def animate(self, *artists: Artist) -> None:
        """Register artists that move with the sliders: redrawn alone, by blitting."""
        for artist in artists:
            artist.set_animated(True)
            self._animated.append(artist)

    def invalidate(self) -> None:
        """Static content changed: make the next :meth:`draw` a full redraw."""
        self._background = None

    def layout(self) -> None:
        """Place the axes once (tight layout), leaving a line under the title for notes."""
        self.title.set_text(self.base_title + "\n(a note)")
        self.fig.tight_layout()
        self.title.set_text(self.base_title)

    @contextlib.contextmanager
    def part(self, *artists: Artist) -> Iterator[None]:
        """Draw one part of the figure in the ``with`` block; hide it where a function it needs is missing.

        The one policy where neither the student's function nor the reference
        can run (:class:`FunctionMissing`, see :mod:`dlcourse.widgets.fallback`):
        the block ends there, its ``artists`` are hidden, the rest of the update
        goes on, and :meth:`show_fallbacks` says which function to implement.
        """
        try:
            yield
        except FunctionMissing as missing:
            if missing.function not in self._missing:
                self._missing.append(missing.function)
            shown = False
        else:
            shown = True
        for artist in artists:
            artist.set_visible(shown)

    def show_fallbacks(self, *functions: WithFallback) -> None:
        """Say under the title which functions to implement first, and which ones the reference stood in for.

        Called at the end of every update: it also forgets the missing functions of this update.
        """
        notes = []
        if self._missing:
            notes.append(f"implement {', '.join(f'`{name}`' for name in self._missing)} first")
            self._missing = []
        reasons = "; ".join(f.note for f in functions if f.note)
        if reasons:
            notes.append(f"using the reference: {reasons}")
        text = f"{self.base_title}\n({'; '.join(notes)})" if notes else self.base_title
        if text != self.title.get_text():
            self.title.set_text(text)
            self.invalidate()  # the title is static content

    # -- drawing -----------------------------------------------------------------------

    def draw(self) -> None:
        """Show the updated artists: by blitting, by a full redraw, or as a new PNG."""
        if self._output is not None:
            self._show_png()
            return
        canvas, bg = self.fig.canvas, self._background
        if bg is not None and bg[0] is canvas and bg[1] == tuple(self.fig.bbox.bounds):
            canvas.restore_region(bg[2])
            self._draw_animated()
            canvas.blit(self.fig.bbox)  # Agg: nothing to do; ipympl: sends the changed pixels
        else:
            # Agg: draws now. ipympl: asks the browser, which requests one full
            # redraw for however many changes arrived meanwhile.
            canvas.draw_idle()

    def _on_full_draw(self, event: Any) -> None:
        canvas = self.fig.canvas
        if canvas.is_saving():
            return  # savefig draws animated artists itself (and maybe at another dpi)
        self._background = (canvas, tuple(self.fig.bbox.bounds),
                            canvas.copy_from_bbox(self.fig.bbox))
        self._draw_animated()  # full draws leave animated artists out

    def _draw_animated(self) -> None:
        for artist in sorted(self._animated, key=lambda a: a.get_zorder()):
            self.fig.draw_artist(artist)

    def widget(self, interactive: bool | None = None) -> Any:
        """The sliders above the figure, as one ``ipywidgets.VBox`` (built once).

        ``interactive``: None picks ipympl when it is importable; True requires
        it; False uses the ``Output`` fallback. Works without a browser (nbclient,
        nbgrader, tests): nothing here waits for a frontend.
        """
        if self._widget is not None:
            return self._widget
        import ipywidgets

        backend = _ipympl_backend() if interactive in (None, True) else None
        if interactive and backend is None:
            raise ImportError("interactive=True needs ipympl (pip install ipympl)")
        if backend is not None:
            figure_widget = self._attach_ipympl(backend)
            continuous = self.continuous_update
        else:
            self._output = ipywidgets.Output()
            figure_widget = self._output
            continuous = False  # a PNG per intermediate value would lag behind the mouse
        for name, spec in self.sliders.items():
            self.controls[name] = _make_slider(spec, self.params[name], continuous)
            self.controls[name].observe(self._on_slider(name), names="value")
        self._widget = ipywidgets.VBox([*self.controls.values(), figure_widget])
        self.draw()
        return self._widget

    def _on_slider(self, name: str) -> Callable[[dict[str, Any]], None]:
        def on_change(change: dict[str, Any]) -> None:
            self.update(**{name: change["new"]})
            self.draw()

        return on_change

    def _attach_ipympl(self, backend: Any) -> Any:
        with warnings.catch_warnings():
            # ipympl 0.10's Toolbar passes the canvas on to traitlets, which warns;
            # nothing a user of this view could act on.
            warnings.filterwarnings("ignore", "Passing unrecognized arguments",
                                    DeprecationWarning)
            # The backend module's public FigureCanvas and FigureManager, not its
            # new_figure_manager_given_figure: in interactive mode that one also queues
            # the figure to be displayed after the cell, and it is already in our VBox.
            manager = backend.FigureManager(backend.FigureCanvas(self.fig), next(_FIGURE_NUMBERS))
        canvas = manager.canvas
        canvas.header_visible = False  # the label would read "Figure 1001"
        canvas.footer_visible = False
        canvas.resizable = False  # a resize re-lays out nothing; keep the designed size
        return canvas

    def _show_png(self) -> None:
        from IPython.display import Image, display

        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        with self._output:
            self._output.clear_output(wait=True)  # replace, without flicker
            display(Image(data=buf.getvalue()))


def show(view: View) -> None:
    """Display a view's widget in the notebook (``IPython.display.display``)."""
    from IPython.display import display

    display(view.widget())


def _make_slider(spec: Slider, value: float, continuous: bool) -> Any:
    import ipywidgets

    common = {"description": spec.description, "continuous_update": continuous,
              "style": {"description_width": "initial"}}
    if spec.kind == "int":
        return ipywidgets.IntSlider(value=int(value), min=int(spec.min), max=int(spec.max),
                                    step=int(spec.step), **common)
    if spec.kind == "float":
        return ipywidgets.FloatSlider(value=value, min=spec.min, max=spec.max, step=spec.step,
                                      **common)
    return ipywidgets.FloatLogSlider(value=value, base=10, min=np.log10(spec.min),
                                     max=np.log10(spec.max), step=spec.step, readout_format=".3g",
                                     **common)


def _ipympl_backend() -> Any:
    """``ipympl.backend_nbagg``, or None; imported without switching matplotlib's backend.

    ``import ipympl`` calls ``matplotlib.use("module://ipympl.backend_nbagg")``
    when matplotlib is already imported, which would turn the notebook's
    inline pyplot figures into widgets. Only the canvas class is wanted here,
    so the previous backend is put back. Where none was chosen yet, it is
    resolved first, as pyplot's first figure would (a notebook's kernel always
    names one), so that it can be put back by name with public calls.
    """
    import matplotlib

    before = matplotlib.get_backend()
    fallback = matplotlib.rcParams["backend_fallback"]
    try:
        import ipympl.backend_nbagg as backend
    except ImportError:
        return None
    finally:
        if matplotlib.get_backend() != before:
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None:
                pyplot.switch_backend(before)  # pyplot holds the backend module itself
            else:
                matplotlib.use(before)
            _reenable_inline(before)
        matplotlib.rcParams["backend_fallback"] = fallback
    return backend


def _reenable_inline(backend: str) -> None:
    """Switching pyplot away from the inline backend unhooks IPython's figure display;
    switching back does not hook it again, so later plt.show() would print only a repr."""
    if "inline" not in backend:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "enable_matplotlib"):
        shell.enable_matplotlib("inline")




def display_clip(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values put into [lo, hi] for plotting: inf and nan at ``hi`` (diverged or exploded), -inf at ``lo``."""
    return np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=hi, posinf=hi, neginf=lo), lo, hi)
