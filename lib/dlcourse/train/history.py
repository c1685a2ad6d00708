"""What a training run recorded: one value per epoch and one per step.

Plain lists of Python numbers, so that a history plots directly, compares with
``==`` (the reproducibility test does) and goes into a checkpoint that
``torch.load(weights_only=True)`` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["History"]


@dataclass
class History:
    """Loss and metrics of a run.

    - ``epoch[key]``: one value per epoch. Keys: ``epoch`` (1, 2, ...), ``loss``
      and each metric on the training batches (averaged over the epoch),
      ``val_loss`` and ``val_<metric>`` when there is validation data, ``lr``
      and ``time`` (seconds the epoch took, validation included).
    - ``step[key]``: one value per optimizer step. Keys: ``epoch``, ``loss``,
      each metric, and ``grad_norm`` (the norm before clipping) when clipping.
    - ``best_epoch``: the epoch whose weights early stopping kept, if any.
    - ``stopped_early``: whether early stopping ended the run.

    ``history["val_loss"]`` is short for ``history.epoch["val_loss"]``.
    """

    epoch: dict[str, list[float]] = field(default_factory=dict)
    step: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False

    def __getitem__(self, key: str) -> list[float]:
        return self.epoch[key]

    def __contains__(self, key: object) -> bool:
        return key in self.epoch

    def __len__(self) -> int:
        """Epochs recorded."""
        return len(self.epoch.get("epoch", ()))

    def log_epoch(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.epoch.setdefault(key, []).append(value)

    def log_steps(self, values: Mapping[str, Sequence[float]]) -> None:
        for key, series in values.items():
            self.step.setdefault(key, []).extend(series)

    def last(self) -> dict[str, float]:
        """The latest epoch's values."""
        return {key: series[-1] for key, series in self.epoch.items() if series}

    def to_dict(self) -> dict[str, Any]:
        """Plain containers only: safe for ``torch.load(weights_only=True)`` and for JSON."""
        return {
            "epoch": {k: list(v) for k, v in self.epoch.items()},
            "step": {k: list(v) for k, v in self.step.items()},
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        return cls(
            epoch={k: list(v) for k, v in data["epoch"].items()},
            step={k: list(v) for k, v in data["step"].items()},
            best_epoch=data.get("best_epoch"),
            stopped_early=bool(data.get("stopped_early", False)),
        )

    def __repr__(self) -> str:
        latest = ", ".join(
            f"{k}={v:.4g}" for k, v in self.last().items() if k not in ("epoch", "time")
        )
        return f"History({len(self)} epochs, {len(self.step.get('loss', ()))} steps; {latest})"
