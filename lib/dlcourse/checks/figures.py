"""Figures a notebook's text states, computed by the notebook itself.

A number in a notebook's prose ("batch norm reaches 97.8 % test accuracy")
must be what a student sees when they run it. So the prose marks it and the
code computes it, under one name::

    markdown:  ... reaches <span data-figure="bn_test_accuracy">97.8 %</span> test accuracy ...
    code:      checks.figure("bn_test_accuracy", accuracy, "{:.1%}")   # records and returns "97.8%"

``tests/notebooks/test_execution.py`` executes every solution notebook and
fails when a marked text differs from the recorded one (spaces aside), when
a marked figure is never computed, or when a computed one is never stated.
The span renders as plain text in JupyterLab and in the feedback.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MARKER", "figure", "recorded", "stated_in"]

_RECORDED: dict[str, str] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# <span data-figure="name">text</span> in a markdown cell
MARKER = re.compile(r'<span data-figure="([a-z][a-z0-9_]{0,63})">(.*?)</span>', re.DOTALL)


def figure(name: str, value: Any, fmt: str = "{}") -> str:
    """Record ``fmt.format(value)`` as the figure ``name`` and return that text (for printing)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a figure's name is lower-case letters, digits and _ (got {name!r})")
    text = fmt.format(value)
    _RECORDED[name] = text
    return text


def recorded() -> dict[str, str]:
    """Every figure recorded in this kernel so far: name -> text."""
    return dict(_RECORDED)


def stated_in(markdown: str) -> list[tuple[str, str]]:
    """The (name, text) pairs a markdown source marks with ``<span data-figure="name">text</span>``."""
    return [(m.group(1), m.group(2)) for m in MARKER.finditer(markdown)]
