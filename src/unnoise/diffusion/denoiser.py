"""The network as solvers see it: D(x; sigma), the predicted x_0 for a noisy x at noise level sigma, evaluations
counted.

x is on the variance-preserving scale, x = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps with alpha_bar = 1 / (1 +
sigma^2),
so every solver starts from standard normal noise whatever the formulation, and sigma = inf (zero terminal SNR) is
allowed.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import torch

from .parameterization import eps_and_x0
from .schedules import NoiseSchedule

Network = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def alpha_bar_of_sigma(sigma: float) -> float:
    """alpha_bar = 1 / (1 + sigma^2): the signal level of the variance-preserving view; 0 at sigma = inf."""
    return 1.0 / (1.0 + sigma * sigma) if math.isfinite(sigma) else 0.0


class DenoiserLike(Protocol):
    evaluations: int

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor: ...


class Denoiser:
    """A DDPM network (discrete timesteps) read through its parameterisation (eps, x0 or v) and its schedule.

    sigma is mapped to the schedule's (fractional) timestep, exactly to the integer timestep where sigma is one of
    the schedule's levels. clip_x0 clamps the predicted x_0 to the data range [-1, 1], as DDPM and DDIM do.
    `evaluations` counts network calls: the NFE.
    """

    def __init__(self, network: Network, schedule: NoiseSchedule, prediction: str = "eps", clip_x0: bool = True):
        self.network, self.schedule, self.prediction, self.clip_x0 = network, schedule, prediction, clip_x0
        self.evaluations = 0

    def timestep(self, sigma: float) -> float:
        return self.schedule.timestep_of_sigma(torch.tensor(sigma, dtype=torch.float64)).item()

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """x_0 predicted for x (B, C, H, W) at noise level sigma (a Python number)."""
        t = self.timestep(sigma)
        dtype = torch.long if float(t).is_integer() else torch.float32
        output = self.network(x, torch.full((x.shape[0],), t, device=x.device, dtype=dtype))
        self.evaluations += 1
        _, x0 = eps_and_x0(self.prediction, output, x, alpha_bar_of_sigma(sigma))
        return x0.clamp(-1, 1) if self.clip_x0 else x0
