"""How a step runs on the device: mixed precision on CUDA (with loss scaling in fp16) and cuDNN's autotuner."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch


class Precision:
    """Mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); a no-op on CPU."""

    def __init__(self, device: torch.device, enabled: bool, allow_fp16: bool = True) -> None:
        cuda = device.type == "cuda"
        self.enabled = enabled and cuda and (allow_fp16 or torch.cuda.is_bf16_supported())
        self.dtype = torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The forward pass's autocast context."""
        return torch.autocast("cuda", dtype=self.dtype) if self.enabled else contextlib.nullcontext()

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, sync: Callable[[], None] = lambda: None) -> None:
        """Backward, `sync` (average gradients over ranks), optimiser step (scaled in fp16)."""
        self.scaler.scale(loss).backward()
        sync()
        self.scaler.step(optimizer)
        self.scaler.update()


def speed_up(device: torch.device) -> None:
    """Let cuDNN pick the fastest convolution algorithms for the fixed patch size (no-op on CPU)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
