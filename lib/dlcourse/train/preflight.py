"""The usual mistakes, caught before the first step with a message that says what to do.

Each of these otherwise fails deep inside torch with a message about kernels
and scalar types, or worse, trains without failing: an (N, 1) output against
(N,) labels broadcasts to (N, N) inside ``MSELoss`` and learns the mean.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.train.device import same_device
from dlcourse.train.precision import Precision

__all__ = [
    "NonFiniteLossError",
    "check_device",
    "check_finite_inputs",
    "check_input_dtype",
    "check_labels",
    "trial_step",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# Losses that take class indices (N,) for scores (N, C).
_CLASS_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
_CLASS_FUNCTIONS = (F.cross_entropy, F.nll_loss)
# Losses that compare output and target element by element (and broadcast silently).
_ELEMENTWISE_LOSSES = (
    nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss, nn.BCEWithLogitsLoss,
)
_ELEMENTWISE_FUNCTIONS = (
    F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss,
    F.binary_cross_entropy, F.binary_cross_entropy_with_logits,
)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the epochs before it."""

    def __init__(self, message: str, *, epoch: int, step: int, history: object) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.history = history


def _loss_name(loss_fn: object) -> str:
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


def _shape(tensor: torch.Tensor) -> str:
    """A shape with the batch dimension written N: (N, 1)."""
    return "(" + ", ".join(["N", *map(str, tensor.shape[1:])]) + (",)" if tensor.ndim == 1 else ")")


def check_device(model_device: torch.device | None, data: torch.Tensor, what: str) -> None:
    if model_device is not None and not same_device(model_device, data.device):
        raise RuntimeError(
            f"The model is on {model_device} but {what} is on {data.device}. Put both on the "
            f"same device: device = select_device(); model.to(device); X = X.to(device). "
            f"(NumPy arrays and CPU tensors given to fit/evaluate are moved for you.)"
        )


def check_input_dtype(model: nn.Module, inputs: torch.Tensor) -> None:
    weights = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weights is not None and inputs.is_floating_point() and inputs.dtype != weights.dtype:
        raise TypeError(
            f"The inputs are {inputs.dtype} but the model's weights are {weights.dtype}. "
            f"Convert the inputs: X.to({weights.dtype}) (X.float() for float32). "
            f"NumPy arrays given to fit/evaluate are converted for you."
        )


def check_finite_inputs(inputs: torch.Tensor, what: str = "X") -> None:
    """NaN in the data makes the loss NaN at once, which looks like a learning-rate problem."""
    if inputs.is_floating_point():
        bad = int((~torch.isfinite(inputs)).sum())
        if bad:
            raise ValueError(
                f"{what} contains {bad} NaN or infinite values. Clean the data before "
                f"training (drop or fill missing values); the loss would be NaN from the start."
            )


def check_labels(loss_fn: object, output: object, labels: torch.Tensor) -> None:
    """Labels that ``loss_fn`` cannot use with ``output`` (the model's output on a few samples).

    ``labels`` may be the whole label set: only shapes after the batch dimension
    are compared, and the class range is checked on every label given.
    """
    if not isinstance(output, torch.Tensor):
        return  # a model returning a tuple or a dict: nothing general to say
    if isinstance(loss_fn, _CLASS_LOSSES) or loss_fn in _CLASS_FUNCTIONS:
        _check_class_labels(loss_fn, output, labels)
    elif isinstance(loss_fn, _ELEMENTWISE_LOSSES) or loss_fn in _ELEMENTWISE_FUNCTIONS:
        _check_elementwise_labels(loss_fn, output, labels)


def _check_class_labels(loss_fn: object, output: torch.Tensor, labels: torch.Tensor) -> None:
    name = _loss_name(loss_fn)
    if labels.is_floating_point():
        if labels.shape[1:] == output.shape[1:]:
            return  # class probabilities (label smoothing, mixup): CrossEntropyLoss takes those
        raise TypeError(
            f"{name} wants integer class labels (torch.long), but the labels are "
            f"{labels.dtype}. Convert them: y.long() for a tensor, y.astype(np.int64) for an "
            f"array. (Float labels are for regression losses such as MSELoss.)"
        )
    if labels.dtype not in (torch.long, torch.uint8):
        raise TypeError(f"{name} wants labels of dtype torch.long, got {labels.dtype}: use y.long()")
    if labels.ndim != output.ndim - 1:
        hint = ""
        if labels.ndim == output.ndim and labels.shape[1] == 1:
            hint = " Remove the extra dimension: y.squeeze(1) (y.ravel() for an array)."
        raise ValueError(
            f"{name} wants one class index per sample: labels of shape (N,) for outputs "
            f"(N, C). The model outputs {_shape(output)} but the labels have shape "
            f"{_shape(labels)}.{hint}"
        )
    _check_class_range(loss_fn, output.shape[1], labels)


def _check_class_range(loss_fn: object, classes: int, labels: torch.Tensor) -> None:
    ignore_index = getattr(loss_fn, "ignore_index", -100)
    labels = labels[labels != ignore_index]
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise ValueError(
            f"The labels go from {low} to {high}, but the model outputs {classes} scores per "
            f"sample, one per class 0..{classes - 1}. Give the last layer one output per "
            f"class ({high + 1} here), or check that the labels start at 0."
        )


def _check_elementwise_labels(loss_fn: object, output: torch.Tensor, labels: torch.Tensor) -> None:
    name = _loss_name(loss_fn)
    if output.shape[1:] != labels.shape[1:]:
        hint = ""
        if output.ndim == 2 and output.shape[1] == 1 and labels.ndim == 1:
            hint = " Here: y.view(-1, 1) (y.reshape(-1, 1) for an array), or output.squeeze(1)."
        elif labels.ndim == 2 and labels.shape[1] == 1 and output.ndim == 1:
            hint = " Here: y.view(-1) (y.ravel() for an array)."
        raise ValueError(
            f"The model outputs shape {_shape(output)} but the labels have shape "
            f"{_shape(labels)}; {name} would broadcast them against each other and train on "
            f"the wrong thing. Make the shapes equal.{hint}"
        )
    if not labels.is_floating_point():
        raise TypeError(
            f"{name} wants float labels, but they are {labels.dtype}: use y.float() "
            f"(y.astype(np.float32) for an array)."
        )


def trial_step(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    precision: Precision,
) -> torch.Tensor:
    """The model's output on a few samples, computed once before training.

    In eval mode and without gradients, so that it changes nothing: dropout
    draws no random numbers and batch norm keeps its running statistics. The
    loss is computed too, so that a loss that cannot take these labels fails
    here, with a note, instead of after the first epoch's setup.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), precision.autocast():
            output = model(inputs)
            check_labels(loss_fn, output, labels)
            loss = loss_fn(output, labels[: len(inputs)])
    except (RuntimeError, IndexError) as error:  # torch's own errors: say where they came from
        error.add_note(
            f"dlcourse.train: raised in a trial step on inputs of shape {tuple(inputs.shape)} "
            f"before training; check that the first layer expects this shape and that "
            f"loss_fn takes (model output, labels)."
        )
        raise
    finally:
        model.train(was_training)
    if isinstance(loss, torch.Tensor) and loss.ndim != 0:
        raise ValueError(
            f"loss_fn returned a tensor of shape {tuple(loss.shape)}; it must return one number "
            f"per batch (the mean). Use reduction='mean', or call .mean() on the result."
        )
    return output
