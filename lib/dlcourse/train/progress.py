"""A progress bar for people, silence for the grader and for logs.

``tqdm.auto`` draws a widget in a notebook and text in a terminal. It is shown
when someone is watching (a notebook, or stderr is a terminal) and never while
grading: a thousand submissions' progress bars are noise in the grader's logs
and count against the sandbox's output limit.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from tqdm.auto import tqdm

from dlcourse.checks import protocol

__all__ = [
    "GRADING_ENV_VAR",
    "describe_epoch",
    "grading",
    "in_notebook",
    "make_progress_bar",
    "show_progress",
]

# Set by the grader in every kernel it starts: the protocol's one definition.
GRADING_ENV_VAR = protocol.ENV_VAR


def grading() -> bool:
    """True in a kernel the grader started."""
    return protocol.grading()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not in a terminal IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:  # not imported means not running under IPython: no import cost
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show_progress(progress: bool | None) -> bool:
    """Whether to draw a bar: never while grading, else as asked, else when someone watches."""
    if grading():
        return False
    if progress is not None:
        return progress
    return in_notebook() or sys.stderr.isatty()


def make_progress_bar(total: int | None, initial_epoch: int, epochs: int) -> tqdm:
    """One bar over all steps of the run; ``update()`` per step costs well under a microsecond.

    tqdm redraws at most every ``mininterval`` seconds whatever the step rate,
    so a fast loop pays for the counter and not for drawing.
    """
    return tqdm(total=total, desc=f"epoch {initial_epoch + 1}/{epochs}", unit="step",
                dynamic_ncols=True, mininterval=0.1)


def describe_epoch(bar: tqdm, epoch: int, epochs: int, values: Mapping[str, float]) -> None:
    """Once per epoch: which epoch is running and where the last one ended."""
    shown = {k: f"{v:.4g}" for k, v in values.items() if k not in ("epoch", "time", "lr")}
    bar.set_description(f"epoch {min(epoch + 1, epochs)}/{epochs}", refresh=False)
    bar.set_postfix(shown, refresh=True)
