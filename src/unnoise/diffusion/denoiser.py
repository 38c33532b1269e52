"""The network as samplers see it: x_t and t in, the predicted (eps, x_0) out, evaluations counted."""

from __future__ import annotations

from typing import Callable

import torch

from .parameterization import eps_and_x0
from .process import predict_eps_from_x0
from .schedules import NoiseSchedule

Network = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Denoiser:
    """Reads a network's output through its parameterisation (eps, x0 or v) and the noise schedule.

    clip_x0 clamps the predicted x_0 to the data range [-1, 1] and re-derives eps from it, so that the
    pair stays consistent (as DDPM and DDIM do). `evaluations` counts network calls: the NFE.
    """

    def __init__(self, network: Network, schedule: NoiseSchedule, prediction: str = "eps", clip_x0: bool = True):
        self.network, self.schedule, self.prediction, self.clip_x0 = network, schedule, prediction, clip_x0
        self.evaluations = 0

    def __call__(self, x_t: torch.Tensor, t: int | float, alpha_bar_t: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(eps, x_0) predicted for x_t (B, C, H, W) at timestep t (fractional t needs its alpha_bar_t)."""
        if alpha_bar_t is None:
            alpha_bar_t = self.schedule.alpha_bar[int(t)]
        dtype = torch.long if float(t).is_integer() else torch.float32
        output = self.network(x_t, torch.full((x_t.shape[0],), t, device=x_t.device, dtype=dtype))
        self.evaluations += 1
        eps, x0 = eps_and_x0(self.prediction, output, x_t, alpha_bar_t)
        if self.clip_x0:
            x0 = x0.clamp(-1, 1)
            eps = predict_eps_from_x0(x_t, x0, alpha_bar_t)
        return eps, x0

    def x0_at_sigma(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(x; sigma): the predicted x_0 for x = x_0 + sigma eps (the variance-exploding view of Karras et al. 2022)."""
        alpha_bar = 1 / (1 + sigma.to(torch.float64) ** 2)
        t = self.schedule.timestep_of_sigma(sigma).item()
        _, x0 = self(x * alpha_bar.sqrt().to(x.dtype), t, alpha_bar)
        return x0
