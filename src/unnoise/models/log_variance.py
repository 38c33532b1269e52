"""A learned log-variance u per noise level, beside a denoiser network: EDM2's uncertainty loss weighting (Karras et
al. 2024, "Analyzing and Improving the Training Dynamics of Diffusion Models", eq. 21) trains it with the network and
never samples with it."""

from __future__ import annotations

import torch
from torch import nn

from .layers import sinusoidal_embedding

LOG_VARIANCE_CHANNELS = 128  # EDM2's Fourier features of the noise level


class NoiseLevelLogVariance(nn.Module):
    """u(time): the network's time inputs (B,) -> log-variances (B,), a linear map of their sinusoidal embedding (as
    EDM2's Fourier features of c_noise); zero at the start, so training begins unweighted."""

    def __init__(self, channels: int = LOG_VARIANCE_CHANNELS):
        super().__init__()
        self.channels = channels
        self.linear = nn.Linear(channels, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, time: torch.Tensor) -> torch.Tensor:
        return self.linear(sinusoidal_embedding(time, self.channels)).squeeze(1)


class WithLogVariance(nn.Module):
    """A denoiser network and its u(time) in one module. Called as the network it holds, it is that network (what
    sampling sees); with log_variance=True it also returns u of the same time inputs, in the one forward call per step
    that DistributedDataParallel expects."""

    def __init__(self, network: nn.Module, channels: int = LOG_VARIANCE_CHANNELS):
        super().__init__()
        self.network = network
        self.log_variance = NoiseLevelLogVariance(channels)

    def forward(self, x: torch.Tensor, time: torch.Tensor, condition=None, log_variance: bool = False):
        output = self.network(x, time) if condition is None else self.network(x, time, condition=condition)
        return (output, self.log_variance(time)) if log_variance else output
