"""``fit`` and ``evaluate``: the training loop a notebook calls in one line.

``fit`` trains where the model is. NumPy arrays and CPU tensors are moved to
the model's device once, before the first epoch, and stay there; data already
on another device is refused with a message (the usual cause is a forgotten
``model.to(device)``). Everything that can be checked before training is
checked before training (see ``preflight``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcourse.train import preflight
from dlcourse.train.checkpoint import load_checkpoint, save_checkpoint
from dlcourse.train.device import model_device, seed_everything
from dlcourse.train.early_stopping import EarlyStopping
from dlcourse.train.epoch import EpochRecord, LossFn, make_train_step, run_epoch
from dlcourse.train.history import History
from dlcourse.train.live_plot import LivePlot
from dlcourse.train.loader import DeviceLoader, TensorLoader
from dlcourse.train.metrics import Metric, resolve_metrics
from dlcourse.train.precision import Precision, choose_precision
from dlcourse.train.progress import describe_epoch, make_progress_bar, show_progress

__all__ = ["evaluate", "fit", "make_loader"]

# (X, y) as arrays or tensors, a TensorLoader, or any iterable of (inputs, labels) batches.
Data = tuple[Any, Any] | TensorLoader | Iterable[Sequence[torch.Tensor]]
Metrics = Mapping[str, Metric] | Sequence[Metric | str] | None
Loader = TensorLoader | DeviceLoader


def _floating_dtype(model: nn.Module) -> torch.dtype | None:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def make_loader(
    data: Data,
    model: nn.Module,
    *,
    batch_size: int,
    shuffle: bool,
    drop_last: bool = False,
    seed: int | None = None,
) -> Loader:
    """A loader on the model's device for any of the forms ``fit`` and ``evaluate`` take."""
    device = model_device(model) or torch.device("cpu")  # a model without weights runs anywhere
    if isinstance(data, TensorLoader):
        return data
    if isinstance(data, tuple | list) and len(data) == 2 and hasattr(data[0], "shape"):
        for name, tensor in zip("Xy", data, strict=True):
            if isinstance(tensor, torch.Tensor) and tensor.device.type != "cpu":
                preflight.check_device(device, tensor, name)  # moving it would hide a mistake
        return TensorLoader(
            *data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
            device=device, seed=seed, float_dtype=_floating_dtype(model),
        )
    return DeviceLoader(data, device)


def _check_data(
    model: nn.Module, loss_fn: LossFn | None, loader: Loader, precision: Precision, what: str
) -> None:
    """Everything about one data set that can fail, checked before the first step."""
    device = model_device(model)
    if isinstance(loader, TensorLoader):
        if len(loader.tensors) != 2:
            raise ValueError(f"{what}: fit and evaluate need (X, y), got {len(loader.tensors)} tensors")
        if len(loader) == 0:
            raise ValueError(
                f"{what} gives no batches: {loader.num_samples} samples, batch_size="
                f"{loader.batch_size} and drop_last=True. Lower batch_size or set drop_last=False."
            )
        inputs, labels = loader.tensors
    else:
        first = next(iter(loader), None)
        if first is None:
            raise ValueError(f"{what} gives no batches")
        inputs, labels = first[0], first[1]
    preflight.check_device(device, inputs, f"{what} (X)")
    preflight.check_device(device, labels, f"{what} (y)")
    preflight.check_input_dtype(model, inputs)
    preflight.check_finite_inputs(inputs, f"{what} (X)")
    if loss_fn is not None:
        preflight.trial_step(model, loss_fn, inputs[:2], labels, precision)


def evaluate(
    model: nn.Module,
    data: Data,
    loss_fn: LossFn | None = None,
    metrics: Metrics = None,
    *,
    batch_size: int = 1024,
    mixed_precision: bool = True,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` on ``data``, e.g. ``{"loss": 0.1, "accuracy": 0.97}``.

    Runs in eval mode (dropout off, batch norm on running statistics) without
    gradients, and puts the model back in the mode it was in.
    """
    precision = choose_precision(model_device(model) or torch.device("cpu"), mixed_precision)
    loader = make_loader(data, model, batch_size=batch_size, shuffle=False)
    _check_data(model, loss_fn, loader, precision, "the data")
    return _evaluate(model, loader, loss_fn, resolve_metrics(metrics), precision)


def _evaluate(
    model: nn.Module,
    loader: Loader,
    loss_fn: LossFn | None,
    metrics: Mapping[str, Metric],
    precision: Precision,
) -> dict[str, float]:
    functions = {**({"loss": loss_fn} if loss_fn is not None else {}), **metrics}
    sums: dict[str, list[torch.Tensor]] = {name: [] for name in functions}
    count = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), precision.autocast():
            for inputs, labels in loader:
                output = model(inputs)
                for name, function in functions.items():  # batch mean x batch size = batch sum
                    sums[name].append(function(output, labels).float() * len(inputs))
                count += len(inputs)
    finally:
        model.train(was_training)
    if not functions:
        return {}
    totals = torch.stack([torch.stack(v).sum() for v in sums.values()]).tolist()  # one read
    return {name: total / count for name, total in zip(functions, totals, strict=True)}


def fit(
    model: nn.Module,
    train_data: Data,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    val_data: Data | None = None,
    metrics: Metrics = None,
    batch_size: int = 64,
    shuffle: bool = True,
    drop_last: bool = False,
    max_grad_norm: float | None = None,
    early_stopping: EarlyStopping | None = None,
    scheduler: Any = None,
    mixed_precision: bool = True,
    seed: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    plot: bool | LivePlot = False,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return what happened, epoch by epoch and step by step.

    Inputs:
    - train_data, val_data: (X, y) arrays or tensors (batched here with
      ``batch_size``, ``shuffle``, ``drop_last``), a ``TensorLoader``, or any
      iterable of (inputs, labels) batches such as a ``DataLoader``
    - loss_fn: (output, labels) -> the batch's mean loss
    - metrics: e.g. ``[accuracy]`` or ``{"acc": accuracy}`` or ``["accuracy"]``
    - max_grad_norm: clip the gradient's total norm to this before each step
    - early_stopping: an ``EarlyStopping`` (monitor, patience, mode, restore_best)
    - scheduler: a learning-rate scheduler, stepped once per epoch
    - mixed_precision: bf16/fp16 autocast on CUDA; nothing changes elsewhere
    - seed: seeds Python, NumPy, torch and the loader's generator: same seed, same history
    - checkpoint: a path written after every epoch; ``resume=True`` continues from it
      (``epochs`` counts the epochs already done)
    - progress: a progress bar; default: only when someone watches, never while grading
    - plot: True or a ``LivePlot`` to draw the curves after every epoch

    Raises ``NonFiniteLossError`` (a ``FloatingPointError``) when the loss becomes
    NaN or infinite, naming the epoch and step.
    """
    precision = choose_precision(model_device(model) or torch.device("cpu"), mixed_precision)
    metric_fns = resolve_metrics(metrics)
    if seed is not None:
        seed_everything(seed)
    train_loader = make_loader(
        train_data, model, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed
    )
    if seed is not None and isinstance(train_loader, TensorLoader):
        train_loader.generator.manual_seed(seed)  # a loader the caller built: seed it too
    _check_data(model, loss_fn, train_loader, precision, "train_data")
    val_loader = None
    if val_data is not None:  # evaluation batches can be large: no gradients to keep
        val_loader = make_loader(val_data, model, batch_size=max(batch_size, 1024), shuffle=False)
        _check_data(model, loss_fn, val_loader, precision, "val_data")
    if early_stopping is not None:
        _check_monitor(early_stopping, metric_fns, val_loader is not None)
        early_stopping.reset()

    scaler = precision.make_scaler()
    run = _Run(model, optimizer, train_loader, early_stopping, scaler, scheduler, checkpoint)
    history, start = run.resume() if resume else (History(), 0)
    live_plot = LivePlot() if plot is True else (plot or None)
    if live_plot is not None and len(history):
        live_plot.update(history)
    if start >= epochs or history.stopped_early:
        return history

    step = make_train_step(model, loss_fn, optimizer, precision, scaler, max_grad_norm)
    steps_per_epoch = _len_or_none(train_loader)
    bar = None
    if show_progress(progress):
        total = steps_per_epoch * (epochs - start) if steps_per_epoch is not None else None
        bar = make_progress_bar(total, start, epochs)
    try:
        for epoch in range(start + 1, epochs + 1):
            began = time.perf_counter()
            model.train()
            record = run_epoch(step, train_loader, metric_fns, bar.update if bar else None)
            values = _record_epoch(history, record, epoch, optimizer)
            if val_loader is not None:
                scores = _evaluate(model, val_loader, loss_fn, metric_fns, precision)
                values.update({f"val_{k}": v for k, v in scores.items()})
            values["lr"] = float(optimizer.param_groups[0]["lr"])
            values["time"] = time.perf_counter() - began
            history.log_epoch(values)
            stop = run.end_epoch(history, values, epoch)
            if bar is not None:
                describe_epoch(bar, epoch, epochs, values)
            if live_plot is not None:
                live_plot.update(history)
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    run.finish(history, history["epoch"][-1])
    return history


def _len_or_none(loader: Loader) -> int | None:
    try:
        return len(loader)
    except TypeError:  # an iterable without a length: the bar counts without a total
        return None


def _check_monitor(
    early_stopping: EarlyStopping, metrics: Mapping[str, Metric], has_validation: bool
) -> None:
    """An early stopping that watches a key the history will never have fails now."""
    available = ["loss", *metrics]
    if has_validation:
        available += [f"val_{k}" for k in available]
    if early_stopping.monitor not in available:
        fix = (
            "pass val_data=(X_val, y_val)"
            if early_stopping.monitor.startswith("val_") and not has_validation
            else f"monitor one of {available}"
        )
        raise ValueError(
            f"early stopping monitors {early_stopping.monitor!r}, which this run does not "
            f"record; {fix}."
        )


def _record_epoch(
    history: History, record: EpochRecord, epoch: int, optimizer: torch.optim.Optimizer
) -> dict[str, float]:
    """Read the epoch's steps from the device, stop on a non-finite loss, log the steps."""
    steps = record.read()
    for index, value in enumerate(steps["loss"]):
        if not math.isfinite(value):
            lr = float(optimizer.param_groups[0]["lr"])
            overall = len(history.step.get("loss", ())) + index + 1
            raise preflight.NonFiniteLossError(
                f"The loss became {value} at epoch {epoch}, step {index + 1} of that epoch "
                f"(step {overall} overall), so training stopped. Lower the learning rate "
                f"(it is {lr:g}; try {lr / 10:g}), or clip gradients with max_grad_norm=1.0. "
                f"If it is NaN from the first step, look for NaN in the data or the loss.",
                epoch=epoch, step=overall, history=history,
            )
    history.log_steps({"epoch": [epoch] * len(steps["loss"]), **steps})
    return {"epoch": epoch, **record.means(steps)}


class _Run:
    """What fit keeps across epochs for early stopping, scheduling and checkpoints."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loader: Loader,
        early_stopping: EarlyStopping | None,
        scaler: torch.amp.GradScaler | None,
        scheduler: Any,
        checkpoint: str | os.PathLike[str] | None,
    ) -> None:
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self.early_stopping, self.scaler, self.scheduler = early_stopping, scaler, scheduler
        self.path = Path(checkpoint) if checkpoint is not None else None

    def end_epoch(self, history: History, values: Mapping[str, float], epoch: int) -> bool:
        """Early stopping, scheduler and checkpoint after an epoch; True to stop."""
        stop = False
        if self.early_stopping is not None:
            stop = self.early_stopping.update(values[self.early_stopping.monitor], epoch, self.model)
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(values.get("val_loss", values["loss"]))
            else:
                self.scheduler.step()
        if stop:
            history.stopped_early = True
        elif self.path is not None:
            self.save(history, epoch)
        return stop

    def finish(self, history: History, epoch: int) -> None:
        """Put the best weights back; the last checkpoint then holds them."""
        if self.early_stopping is not None:
            self.early_stopping.restore(self.model)
            history.best_epoch = self.early_stopping.best_epoch
            if self.path is not None:
                self.save(history, epoch)

    def save(self, history: History, epoch: int) -> None:
        # Random states too, so that a resumed run draws the batches an unbroken one would.
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if isinstance(self.loader, TensorLoader):
            rng["loader"] = self.loader.generator.get_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        extra = {
            "rng": rng,
            "early_stopping": self.early_stopping.state_dict() if self.early_stopping else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
        }
        save_checkpoint(self.path, self.model, self.optimizer, history=history, epoch=epoch,
                        extra=extra)

    def resume(self) -> tuple[History, int]:
        """Load the checkpoint if there is one; (history so far, epochs done)."""
        if self.path is None:
            raise ValueError("resume=True needs checkpoint=path")
        if not self.path.exists():  # nothing saved yet: a fresh start
            return History(), 0
        saved = load_checkpoint(self.path, self.model, self.optimizer)
        extra = saved.extra
        torch.set_rng_state(extra["rng"]["torch"].cpu())
        if "loader" in extra["rng"] and isinstance(self.loader, TensorLoader):
            self.loader.generator.set_state(extra["rng"]["loader"].cpu())
        if "cuda" in extra["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in extra["rng"]["cuda"]])
        for part, state in (
            (self.early_stopping, extra["early_stopping"]),
            (self.scaler, extra["scaler"]),
            (self.scheduler, extra["scheduler"]),
        ):
            if part is not None and state is not None:
                part.load_state_dict(state)
        return saved.history, saved.epoch
