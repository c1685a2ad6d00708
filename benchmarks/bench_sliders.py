"""How long one slider update takes, for every view of the course (budget: 50 ms).

docs/architecture.md, "Budgets": a slider update (computation plus redraw) takes under
50 ms. For each view in ``dlcourse.widgets.ALL_VIEWS``, built on its
notebook's data, this times, headless on Agg (what the kernel side of an
ipympl figure renders):

* ``slider``: ``view.update(**{name: value}); view.draw()``, exactly what a
  slider change runs: the computation, then a blit (the saved background of
  the last full draw plus the moving artists). This is the budgeted number.
* ``full redraw``: ``view.update(...); view.fig.canvas.draw()``, the same
  change followed by a redraw of the whole figure (what the first display, a
  resize or a zoom costs), for comparison.
* ``ipympl``: the slider path on the ipympl canvas that ``view.widget()``
  attaches, after the handshake a browser would send, so it includes what a
  notebook adds: encoding the changed pixels as a PNG for the browser (sent
  to no one here). Shown beside the budget, not judged by it: PNG encoding
  grows with the pixels (4x on a HiDPI screen) whatever the view does.

Each sample moves one randomly chosen slider to a random value in its range
(seeded), after a warm-up. Usage::

    python benchmarks/bench_sliders.py [--samples 30] [--seed 0] [--budget-ms 50]

Exits with status 1 when a view's median slider update is over the budget.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

import matplotlib
import numpy as np

from dlcourse.widgets import ALL_VIEWS, View, ViewEntry


def random_change(view: View, rng: np.random.Generator) -> dict[str, float]:
    """One slider moved to a random value within its range, as a drag would leave it."""
    name = list(view.sliders)[rng.integers(len(view.sliders))]
    spec = view.sliders[name]
    if spec.kind == "int":
        return {name: int(rng.integers(int(spec.min), int(spec.max) + 1))}
    if spec.kind == "log":
        return {name: float(10 ** rng.uniform(np.log10(spec.min), np.log10(spec.max)))}
    return {name: float(rng.uniform(spec.min, spec.max))}


def time_ms(view: View, redraw: Callable[[], None], samples: int,
            rng: np.random.Generator) -> np.ndarray:
    """Milliseconds of ``samples`` slider changes, each update + ``redraw()``."""
    out = np.empty(samples)
    for i in range(samples):
        change = random_change(view, rng)
        start = time.perf_counter()
        view.update(**change)
        redraw()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def on_ipympl(entry: ViewEntry, pixel_ratio: float) -> View | None:
    """The view on an ipympl canvas as a browser leaves it after showing it once; None without ipympl."""
    view = entry.build()
    view.fig.set_dpi(view.fig.dpi * pixel_ratio)
    try:
        view.widget(interactive=True)
    except ImportError:
        return None
    canvas = view.fig.canvas
    # The browser's first message (ipympl's own protocol): from then on only
    # changed pixels are sent and no data-URL copy of the figure is kept. No
    # public call delivers a frontend message; tests/lib/widgets/test_core.py
    # fails loudly if this private handler changes.
    canvas._handle_message(canvas, {"type": "initialized"}, [])
    canvas.draw()  # the browser's first request: a full frame, which saves the background
    return view


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30, help="timed slider changes per view")
    parser.add_argument("--warmup", type=int, default=5, help="untimed changes first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random slider values")
    parser.add_argument("--budget-ms", type=float, default=50.0, help="budget per update")
    parser.add_argument("--pixel-ratio", type=float, default=1.0,
                        help="device pixel ratio: 2 renders 4x the pixels, as ipympl on a HiDPI "
                             "screen does")
    args = parser.parse_args()

    print(f"matplotlib {matplotlib.__version__} (Agg), Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}; {args.samples} samples after "
          f"{args.warmup} warm-up changes, pixel ratio {args.pixel_ratio:g}, "
          f"budget {args.budget_ms:g} ms")
    header = (f"{'notebook':<14} {'view':<21} {'pixels':>9} | {'slider median':>13} "
              f"{'p90':>5} | {'ipympl median':>13} {'p90':>5} | {'full redraw median':>18} "
              f"{'p90':>5} | verdict")
    print(header)
    print("-" * len(header))
    over = 0
    for entry in ALL_VIEWS:
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        view = entry.build()
        view.fig.set_dpi(view.fig.dpi * args.pixel_ratio)  # what ipympl does on HiDPI
        view.fig.canvas.draw()  # the first display: a full draw, which saves the background
        build_ms = (time.perf_counter() - start) * 1e3
        time_ms(view, view.draw, args.warmup, rng)
        slider = time_ms(view, view.draw, args.samples, rng)
        full = time_ms(view, view.fig.canvas.draw, args.samples, rng)
        live = on_ipympl(entry, args.pixel_ratio)
        if live is not None:
            time_ms(live, live.draw, args.warmup, rng)
            widget = time_ms(live, live.draw, args.samples, rng)
            widget_cols = f"{np.median(widget):>10.1f} ms {np.percentile(widget, 90):>5.1f}"
        else:
            widget, widget_cols = np.zeros(1), f"{'n/a':>13} {'':>5}"
        verdict = "PASS" if np.median(slider) < args.budget_ms else "OVER"
        over += verdict == "OVER"
        if np.median(widget) >= args.budget_ms:
            verdict += ", ipympl over"
        w, h = (int(v) for v in view.fig.bbox.size)
        print(f"{entry.notebook:<14} {entry.name:<21} {w:>4}x{h:<4} | "
              f"{np.median(slider):>10.1f} ms {np.percentile(slider, 90):>5.1f} | {widget_cols} | "
              f"{np.median(full):>15.1f} ms {np.percentile(full, 90):>5.1f} | {verdict} "
              f"(built and drawn in {build_ms:.0f} ms)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
