"""dlcourse.checks.figures: a notebook records the figures its text states."""

from __future__ import annotations

import pytest

from dlcourse.checks import figures


def test_figure_records_and_returns_the_formatted_text():
    assert figures.figure("test_accuracy_demo", 0.97812, "{:.1%}") == "97.8%"
    assert figures.recorded()["test_accuracy_demo"] == "97.8%"


def test_marked_figures_are_found_in_markdown():
    text = 'Adam reaches <span data-figure="adam_acc">98.1 %</span>, SGD <span data-figure="sgd_acc">93.9 %</span>.'
    assert figures.stated_in(text) == [("adam_acc", "98.1 %"), ("sgd_acc", "93.9 %")]


@pytest.mark.parametrize("name", ["Accuracy", "1st", "a-b", ""])
def test_a_bad_name_is_refused(name):
    with pytest.raises(ValueError, match="lower-case"):
        figures.figure(name, 1.0)
