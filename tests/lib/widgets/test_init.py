"""Tests of the dlcourse.widgets package: what it exports, and the layout its modules keep."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dlcourse.widgets

PACKAGE = Path(dlcourse.widgets.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
TOPICS = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())  # one package per notebook
# What draws nothing: the fallback and every module of a topic but its views.
COMPUTATIONS = [PACKAGE / "fallback.py", *(p for t in TOPICS for p in sorted((PACKAGE / t).glob("*.py"))
                                          if p.name not in ("__init__.py", "views.py"))]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_package_exports_the_catalogue_and_the_view_base():
    from dlcourse.widgets import ALL_VIEWS, Slider, View, ViewEntry, WithFallback, show  # noqa: F401

    assert set(dlcourse.widgets.__all__) >= {"ALL_VIEWS", "Slider", "View", "ViewEntry", "WithFallback", "show"}


@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_is_computations_and_views(topic):
    folder = PACKAGE / topic
    assert {p.name for p in folder.glob("*.py")} >= {"__init__.py", "compute.py", "views.py"}
    package = __import__(f"dlcourse.widgets.{topic}", fromlist=["__all__"])
    views = __import__(f"dlcourse.widgets.{topic}.views", fromlist=["__all__"])
    compute = __import__(f"dlcourse.widgets.{topic}.compute", fromlist=["__all__"])
    for name in (*views.__all__, *compute.__all__):
        assert hasattr(compute, name) or hasattr(views, name)
    for name in views.__all__:  # `from dlcourse.widgets.<topic> import SomeView` keeps working
        assert name in package.__all__ and getattr(package, name) is getattr(views, name)
    for name in package.__all__:
        obj = getattr(package, name)
        if name == "VIEWS" or not callable(obj) or getattr(obj, "__module__", "") == package.__name__:
            continue  # the package's own declarations: its catalogue entries and their builders, constants
        assert obj is getattr(compute, name, None) or obj is getattr(views, name, None) or any(
            obj is getattr(m, name, None) for m in _submodules(topic)), \
            f"dlcourse.widgets.{topic}.{name} is neither computed nor drawn there"


def _submodules(topic: str) -> list:
    import importlib

    return [importlib.import_module(f"dlcourse.widgets.{topic}.{p.stem}")
            for p in (PACKAGE / topic).glob("*.py") if p.stem != "__init__"]


@pytest.mark.parametrize("path", COMPUTATIONS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_computations_draw_nothing(path):
    drawing = {m for m in imported_modules(path)
               if m.split(".")[0] == "matplotlib" or m.startswith(("dlcourse.widgets.core", "dlcourse.widgets.catalog"))
               or m.endswith(".views")}
    assert not drawing, f"{path.name} imports {sorted(drawing)}: computations use no matplotlib"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_reference_is_reached_only_by_name(path):
    direct = {m for m in imported_modules(path) if m.startswith("dlcourse.reference")}
    assert not direct, (f"{path.name} imports {sorted(direct)}: reach the reference through "
                        "dlcourse.lazy_reference.reference('module.function') (it is absent when grading)")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines: split it into computations and drawing"
