"""An exponential moving average of the weights: what sampling uses by default."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay_at(step: int, decay: float) -> float:
    """d_n = min(decay, (1 + n) / (10 + n)): a short memory early on, so young averages are not stuck at init."""
    return min(decay, (1 + step) / (10 + step))


class EMA:
    """theta_ema <- d theta_ema + (1 - d) theta after every optimizer step; buffers (BatchNorm stats) are copied."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        weight = 1 - ema_decay_at(step, self.decay)
        averaged = list(self.model.parameters())
        torch._foreach_lerp_(averaged, [parameter.detach() for parameter in model.parameters()], weight)
        for averaged_buffer, buffer in zip(self.model.buffers(), model.buffers()):
            averaged_buffer.copy_(buffer)
