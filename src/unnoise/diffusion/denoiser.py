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

from .edm import c_in, c_noise, c_out, c_skip
from .flow import time_of_sigma, x0_from_velocity
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


# The continuous formulations tell the network their noise level as 1000 c_noise (EDM) or 1000 t (flow): the range
# the U-Net's sinusoidal embedding was built for (DDPM's t in [0, 1000)).
TIME_SCALE = 1000.0


def signal_scale(sigma: float) -> float:
    """sqrt(1 + sigma^2): x_VE = x_0 + sigma eps is x (variance-preserving) times this."""
    return math.sqrt(1 + sigma * sigma)


def network_time(value: float, x: torch.Tensor) -> torch.Tensor:
    """TIME_SCALE x value for each image of x, as the network's (B,) time input."""
    return torch.full((x.shape[0],), TIME_SCALE * value, device=x.device, dtype=torch.float32)


class EDMDenoiser:
    """D(x; sigma) = c_skip x_VE + c_out F(c_in x_VE, c_noise)  (Karras et al. 2022, eq. 7), x_VE = x sqrt(1 + sigma^2).

    sigma must be finite (EDM grids end at sigma_max = 80). `evaluations` counts network calls.
    """

    def __init__(self, network: Network, sigma_data: float):
        self.network, self.sigma_data = network, sigma_data
        self.evaluations = 0

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        level = torch.tensor(sigma, dtype=torch.float64)
        x_ve = signal_scale(sigma) * x
        output = self.network(c_in(level, self.sigma_data).item() * x_ve, network_time(c_noise(level).item(), x))
        self.evaluations += 1
        return c_skip(level, self.sigma_data).item() * x_ve + c_out(level, self.sigma_data).item() * output


class FlowDenoiser:
    """x_0 = x_t - t v(x_t, t) with x_t = (1 - t) x_0 + t eps, t = sigma / (1 + sigma)  (Lipman et al. 2023)."""

    def __init__(self, network: Network):
        self.network = network
        self.evaluations = 0

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        t = time_of_sigma(sigma)
        # x_t = (1 - t) x_VE = x sqrt(1 + sigma^2) / (1 + sigma), which tends to x as sigma -> inf
        x_t = (signal_scale(sigma) / (1 + sigma) if math.isfinite(sigma) else 1.0) * x
        output = self.network(x_t, network_time(t, x))
        self.evaluations += 1
        return x0_from_velocity(x_t, output, t)
