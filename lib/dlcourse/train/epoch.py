"""One epoch of training, with as little work per step as the step itself allows.

On a small model the optimizer step takes microseconds to a millisecond, so
anything the loop adds per step shows in the epoch time. The loop therefore
never reads a value back from the device while it runs (``loss.item()`` waits
for the GPU to finish every queued kernel): losses and metrics stay 0-dim
tensors in a list and are read with one transfer at the end of the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcourse.train.metrics import Metric
from dlcourse.train.precision import Precision

__all__ = ["EpochRecord", "StepFn", "make_train_step", "run_epoch"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (inputs, labels) -> (output, loss, gradient norm before clipping or None)
StepFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


def make_train_step(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    scaler: torch.amp.GradScaler | None = None,
    max_grad_norm: float | None = None,
) -> StepFn:
    """The function that does one optimizer step on a batch.

    The plain case (full precision, no clipping) gets its own closure with
    nothing in it but the five calls of a hand-written loop: even an empty
    ``with nullcontext():`` and a few ``if``s are measurable per step.
    """
    zero_grad, optimizer_step = optimizer.zero_grad, optimizer.step

    if precision.dtype is None and max_grad_norm is None:
        def plain_step(
            inputs: torch.Tensor, labels: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, None]:
            output = model(inputs)
            loss = loss_fn(output, labels)
            zero_grad(set_to_none=True)
            loss.backward()
            optimizer_step()
            return output, loss, None

        return plain_step

    parameters = [p for p in model.parameters() if p.requires_grad]

    def step(
        inputs: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        with precision.autocast():
            output = model(inputs)
            loss = loss_fn(output, labels)
        zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        norm = None
        if max_grad_norm is not None:
            if scaler is not None:  # clip the true gradients, not the scaled ones
                scaler.unscale_(optimizer)
            # Pascanu et al., "On the difficulty of training RNNs" (2013): rescale
            # the whole gradient when its norm exceeds the threshold.
            norm = nn.utils.clip_grad_norm_(parameters, max_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)  # skipped when the scaled gradients overflowed
            scaler.update()
        else:
            optimizer_step()
        return output, loss, norm

    return step


@dataclass
class EpochRecord:
    """Per-step values of one epoch, still on the device."""

    losses: list[torch.Tensor] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    norms: list[torch.Tensor] = field(default_factory=list)
    metrics: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def read(self) -> dict[str, list[float]]:
        """Every per-step value as Python floats: the epoch's one read from the device."""
        columns = {"loss": self.losses, **self.metrics}
        if self.norms:
            columns["grad_norm"] = self.norms
        if not self.losses:
            return {key: [] for key in columns}
        table = torch.stack([torch.stack(v).float() for v in columns.values()]).tolist()
        return dict(zip(columns, table, strict=True))

    def means(self, steps: Mapping[str, list[float]]) -> dict[str, float]:
        """Epoch averages weighted by batch size (the last batch may be smaller)."""
        total = sum(self.sizes)
        return {
            key: math.fsum(v * n for v, n in zip(values, self.sizes, strict=True)) / total
            for key, values in steps.items()
            if key != "grad_norm"
        }


def run_epoch(
    step: StepFn,
    batches: Iterable[tuple[torch.Tensor, ...]],
    metrics: Mapping[str, Metric],
    on_step: Callable[[], object] | None = None,
) -> EpochRecord:
    """Train for one pass over ``batches``; ``on_step`` is the progress bar's ``update``."""
    record = EpochRecord(metrics={name: [] for name in metrics})
    losses, sizes, norms = record.losses, record.sizes, record.norms
    for inputs, labels in batches:
        output, loss, norm = step(inputs, labels)
        losses.append(loss.detach())
        sizes.append(len(inputs))
        if norm is not None:
            norms.append(norm)
        if metrics:  # detached: metrics need no graph
            output = output.detach()
            for name, metric in metrics.items():
                record.metrics[name].append(metric(output, labels))
        if on_step is not None:
            on_step()
    return record
