"""Mixed precision on CUDA: bf16 where the GPU has it, else fp16 with loss scaling.

Autocast runs matrix products in 16 bits and keeps reductions (softmax, losses)
in float32 (Micikevicius et al., "Mixed Precision Training", 2018). bf16 has
float32's exponent range, so gradients do not underflow and no scaler is
needed; fp16 does underflow, so its loss is multiplied by a ``GradScaler``
before ``backward`` and the gradients divided back before the step. On the CPU
and on MPS everything stays in float32: this is a no-op there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

__all__ = ["Precision", "choose_precision"]


@dataclass(frozen=True)
class Precision:
    """How the forward pass runs: ``dtype`` None means full precision."""

    device_type: str
    dtype: torch.dtype | None = None

    @property
    def needs_scaler(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device_type) if self.needs_scaler else None


def choose_precision(device: torch.device, enabled: bool = True) -> Precision:
    """bf16 on CUDA GPUs that support it, fp16 on older ones, full precision elsewhere."""
    if not enabled or device.type != "cuda":
        return Precision(device.type)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Precision(device.type, dtype)
