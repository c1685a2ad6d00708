"""Tests of dlcourse.train.checkpoint: saving and loading by hand, and ``fit(resume=True)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from dlcourse import train


def test_checkpoint_round_trip_resumes_the_run(
    digits: tuple[np.ndarray, np.ndarray], tmp_path: Path, mlp, adam, without_time
) -> None:
    X, y = digits
    data = dict(train_data=(X[:300], y[:300]), loss_fn=nn.CrossEntropyLoss(),
                val_data=(X[300:], y[300:]), metrics=[train.accuracy], seed=3)
    straight_model = mlp(dropout=0.2)
    straight = train.fit(straight_model, optimizer=adam(straight_model), epochs=4, **data)

    path = tmp_path / "run.pt"
    model = mlp(dropout=0.2)
    train.fit(model, optimizer=adam(model), epochs=2, checkpoint=path, **data)
    # A new kernel: new objects, different weights, the same checkpoint.
    model = mlp(seed=99, dropout=0.2)
    resumed = train.fit(model, optimizer=adam(model), epochs=4, checkpoint=path, resume=True,
                        **data)
    assert without_time(resumed) == without_time(straight)
    for a, b in zip(model.parameters(), straight_model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.load(path, weights_only=True)["epoch"] == 4  # plain data: safe loading works


def test_save_and_load_checkpoint(tmp_path: Path, mlp, adam) -> None:
    model, history = mlp(), train.History()
    optimizer = adam(model)
    model(torch.zeros(2, 64)).sum().backward()
    optimizer.step()  # so that the optimizer has state to save
    history.log_epoch({"epoch": 1, "loss": 0.5})
    train.save_checkpoint(tmp_path / "c.pt", model, optimizer, history=history, epoch=1,
                          extra={"note": "hi"})
    other = mlp(seed=5)
    other_optimizer = adam(other)
    loaded = train.load_checkpoint(tmp_path / "c.pt", other, other_optimizer)
    assert loaded.epoch == 1 and loaded.history == history and loaded.extra == {"note": "hi"}
    assert torch.equal(other[0].weight, model[0].weight)
    assert other_optimizer.state_dict()["state"][0]["step"] == 1
