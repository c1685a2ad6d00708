"""Tests of dlcourse.train.progress: a bar when asked, off without a terminal, silent while grading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch import nn

from dlcourse import train
from dlcourse.train import progress as progress_module


def test_progress_bar_shows_when_asked(digits: tuple[np.ndarray, np.ndarray], mlp, adam,
                                       capfd: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(train.GRADING_ENV_VAR, raising=False)
    X, y = digits
    model = mlp()
    train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1, progress=True)
    assert "epoch 1/1" in capfd.readouterr().err


def test_quiet_while_grading(digits: tuple[np.ndarray, np.ndarray], mlp, adam,
                             capfd: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(train.GRADING_ENV_VAR, str(tmp_path))
    X, y = digits
    model = mlp()
    train.fit(model, (X, y), nn.CrossEntropyLoss(), adam(model), epochs=1, progress=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_default_is_off_without_a_terminal_or_notebook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(train.GRADING_ENV_VAR, raising=False)
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress_module.show_progress(None)
    assert not progress_module.show_progress(False)
    assert progress_module.show_progress(True)
