"""Tests of dlcourse.widgets.catalog: every notebook's views, each built on that notebook's very data.

ALL_VIEWS is what the slider benchmark times: a view built there on other data
than the notebook's would time something no student sees. So each entry is
checked against its notebook: the notebook's own data lines (below, as the
notebook writes them) are found in it and run, its ``show(...)`` call is
replayed on them (without the student's functions), and the view must equal
the catalogue's: same sliders, same starting values, same arrays.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import dlcourse.lazy_reference
from dlcourse import data
from dlcourse.lazy_reference import ReferenceUnavailable
from dlcourse.widgets import ALL_VIEWS, View

REPO = Path(__file__).resolve().parents[3]

# The statements of each notebook that make the data its view is shown with, in the notebook's order.
NOTEBOOK_DATA = {
    "GradientDescentView": [
        'x, y = data.make_regression_1d(n=40, noise=0.4, seed=0, kind="linear")',
        "X = data.add_bias_column(x[:, None])",
    ],
    "PolynomialDegreeView": [
        'x_curve, y_curve = data.make_regression_1d(n=60, noise=0.25, seed=1, kind="sine")',
        "split_rng = np.random.default_rng(2)",  # the data cell's own generator
        "x_tr, y_tr, x_va, y_va = data.train_val_split(x_curve, y_curve, val_fraction=0.3, rng=split_rng)",
    ],
    "TwoLayerTrainingView": [
        'moons_points, moons_labels = data.make_classification_2d(n=200, kind="moons", noise=0.15, seed=0)',
    ],
    "GradientFlowView": ["digits = data.load_digits(seed=0)"],
    "OptimizerPathsView": [],
    "BatchNoiseView": ["digits = data.load_digits(seed=0)"],
    "InitialLossView": ["digits = data.load_digits(seed=0)"],
    "ActivationStatsView": [],
}


# Views that draw what the notebook trained or computed itself, with no function of the student's.
RUNS_NO_STUDENT_FUNCTION = {"InitialLossView", "AttentionMapView", "DelayView"}


def moved(view: View) -> dict[str, float]:
    """Each slider at the end of its range it is not at now."""
    return {name: spec.min if view.params[name] == spec.max else spec.max for name, spec in view.sliders.items()}


def absent(name: str) -> None:
    raise ReferenceUnavailable(f"dlcourse.reference.{name} is not available here")


def notebook_statements(notebook: str) -> list[ast.stmt]:
    """The top-level statements of a solution notebook's code cells, in order."""
    path = next((REPO / "solutions" / notebook).glob("*.ipynb"))
    statements = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            statements += ast.parse(source).body  # the course's notebooks hold plain Python
    return statements


def show_calls(statements: list[ast.stmt]) -> list[tuple[int, ast.Call]]:
    """(position, the view's constructor call) of every ``show(View(...))`` statement."""
    calls = []
    for i, stmt in enumerate(statements):
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "show"
                    and node.args and isinstance(node.args[0], ast.Call)):
                calls.append((i, node.args[0]))
    return calls


def assigned(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def mentions(stmt: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt))


def replay(entry, view_class: type[View]) -> View:
    """The view as the notebook builds it: its data lines run, its show() call made without student functions."""
    statements = notebook_statements(entry.notebook)
    (at, call), = [(i, c) for i, c in show_calls(statements) if c.func.id == entry.name]
    recipe = [ast.parse(line).body[0] for line in NOTEBOOK_DATA[entry.name]]
    dumps = [ast.dump(s) for s in statements[:at]]
    positions = []
    for stmt, line in zip(recipe, NOTEBOOK_DATA[entry.name], strict=True):
        found = [i for i, d in enumerate(dumps) if d == ast.dump(stmt)]
        assert found, f"{entry.notebook} no longer runs `{line}` before show({entry.name}(...)): update the catalogue"
        positions.append(found[-1])
        later = [i for i in range(found[-1] + 1, at) if assigned(stmt) & assigned(statements[i])]
        assert not later, f"{entry.notebook} changes {sorted(assigned(stmt))} after `{line}`: update the catalogue"
    assert positions == sorted(positions), f"{entry.notebook}: the data lines of {entry.name} run in another order"
    # A generator's state depends on every draw before: all of them must be in the recipe.
    for stmt in recipe:
        if isinstance(stmt, ast.Assign) and "default_rng" in ast.unparse(stmt.value):
            generator = stmt.targets[0].id
            users = [i for i in range(positions[0], at) if mentions(statements[i], generator)]
            assert users == [p for p in positions if mentions(statements[p], generator)], (
                f"{entry.notebook} draws from `{generator}` between the data lines of {entry.name}: "
                "update the catalogue")
    namespace = {"np": np, "data": data}
    for stmt in recipe:
        exec(compile(ast.Module([stmt], []), entry.notebook, "exec"), namespace)

    def value(node: ast.expr) -> object:
        return eval(compile(ast.Expression(node), entry.notebook, "eval"), namespace)

    args, dropped = [], False
    for node in call.args:
        try:
            args.append(value(node))
        except NameError:  # a student's function: the catalogue builds without them
            dropped = True
        else:
            assert not dropped, f"cannot replay show({entry.name}(...)) of {entry.notebook} without its functions"
    kwargs = {}
    for kw in call.keywords:
        try:
            kwargs[kw.arg] = value(kw.value)
        except NameError:
            pass
    return view_class(*args, **kwargs)


def arrays(view: View) -> dict[str, list[np.ndarray]]:
    """Every array a view holds (its data, its fixed random draws), by attribute name."""
    out = {}
    for name, value in vars(view).items():
        items = value if isinstance(value, list | tuple) else [value]
        if items and all(isinstance(v, np.ndarray) for v in items):
            out[name] = list(items)
    return out


@pytest.fixture(scope="module")
def built() -> dict[str, View]:
    """Each catalogue view, built once for the tests that only read it."""
    return {entry.name: entry.build() for entry in ALL_VIEWS}


def test_every_show_call_of_a_notebook_has_its_catalogue_entry():
    shown = set()
    for folder in sorted((REPO / "solutions").glob("0*")):
        shown |= {(folder.name, call.func.id) for _, call in show_calls(notebook_statements(folder.name))}
    listed = [(entry.notebook, entry.name) for entry in ALL_VIEWS]
    assert len(set(listed)) == len(listed), "a view is listed twice"
    assert shown == set(listed), f"shown but not listed: {shown - set(listed)}; listed but not shown: " \
                                 f"{set(listed) - shown}"
    # Notebooks 01-04 are replayed from the data lines above; later notebooks' packages declare their views
    # (VIEWS) with builders their own tests check against the notebook.
    assert set(NOTEBOOK_DATA) == {name for notebook, name in listed if notebook < "05"}


@pytest.mark.parametrize("entry", [e for e in ALL_VIEWS if e.name in NOTEBOOK_DATA], ids=lambda e: e.name)
def test_the_catalogue_builds_each_view_on_its_notebooks_data(entry, built):
    view = built[entry.name]
    assert type(view).__name__ == entry.name and type(view.fig.canvas) is FigureCanvasAgg  # headless
    shown = replay(entry, type(view))
    assert shown.sliders == view.sliders and shown.params == view.params
    mine, theirs = arrays(view), arrays(shown)
    assert mine.keys() == theirs.keys() and (mine or not NOTEBOOK_DATA[entry.name])
    for name in mine:
        assert len(mine[name]) == len(theirs[name]), name
        for a, b in zip(mine[name], theirs[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{entry.name}.{name} differs from the notebook's")


@pytest.mark.parametrize("entry", ALL_VIEWS, ids=lambda e: e.name)
def test_blitted_update_matches_a_full_redraw(entry, built, monkeypatch):
    view = built[entry.name]
    canvas = view.fig.canvas
    canvas.draw()  # a full draw saves the background
    before = np.asarray(canvas.buffer_rgba()).copy()
    restored = []
    monkeypatch.setattr(canvas, "restore_region",
                        lambda region: restored.append(region) or FigureCanvasAgg.restore_region(
                            canvas, region))
    view.update(**moved(view))  # every slider to another end of its range
    view.draw()  # blits: restores the background, draws the moving artists on it
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    assert len(restored) == 1 and not np.array_equal(blitted, before)
    canvas.draw()
    np.testing.assert_array_equal(blitted, np.asarray(canvas.buffer_rgba()))


@pytest.mark.parametrize("entry", ALL_VIEWS, ids=lambda e: e.name)
def test_without_the_reference_every_view_builds_and_says_what_to_implement(entry, monkeypatch):
    monkeypatch.setattr(dlcourse.lazy_reference, "module", absent)
    view = entry.build()  # no student functions and no reference: nothing may crash
    view.fig.canvas.draw()
    view.update(**{name: spec.max for name, spec in view.sliders.items()})
    view.draw()
    if entry.name in RUNS_NO_STUDENT_FUNCTION:
        assert view.title.get_text() == view.base_title
    else:
        assert "implement `" in view.title.get_text() and view.title.get_text().endswith(" first)")
        assert not all(a.get_visible() for a in view._animated)
