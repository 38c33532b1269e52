"""Where a sampler evaluates the network: subsequences of the T training timesteps, or Karras sigmas."""

from __future__ import annotations

import torch

from ..errors import UserError
from .schedules import NoiseSchedule

SPACINGS = ("uniform", "quadratic", "trailing")


def spaced_timesteps(num_timesteps: int, steps: int | None, spacing: str = "uniform") -> list[int]:
    """`steps` distinct timesteps of 0..T-1, descending; the sampler's last step goes from the final one to x_0.

    uniform:   round(linspace(T - 1, 0, K)), the respacing of Nichol & Dhariwal 2021.
    quadratic: T - 1 scaled by (i / (K - 1))^2, dense near the data (DDIM's "quad").
    trailing:  round(T - i T / K) - 1 for i < K: starts at T - 1 and never visits t = 0 (Lin et al. 2024).
    """
    steps = num_timesteps if steps is None else steps
    if not 1 <= steps <= num_timesteps:
        raise UserError(f"steps must be between 1 and {num_timesteps} for this schedule, got {steps}")
    if spacing == "uniform":
        points = torch.linspace(0, num_timesteps - 1, steps, dtype=torch.float64)
    elif spacing == "quadratic":
        points = (num_timesteps - 1) * torch.linspace(0, 1, steps, dtype=torch.float64) ** 2
    elif spacing == "trailing":
        points = num_timesteps - torch.arange(steps, dtype=torch.float64) * num_timesteps / steps - 1
    else:
        raise UserError(f"unknown timestep spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    ascending = sorted(points.round().long().tolist())
    # Quadratic spacing crowds several points onto the first integers; push them up to keep all K
    # distinct. (Its values are convex in i, so the pushed ones never pass T - 1.)
    for index in range(1, len(ascending)):
        ascending[index] = max(ascending[index], ascending[index - 1] + 1)
    return ascending[::-1]


def karras_sigmas(schedule: NoiseSchedule, steps: int, rho: float = 7.0) -> torch.Tensor:
    """sigma_i = (sigma_max^(1/rho) + i / (K - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then 0   (Karras et al. 2022, eq. 5).

    sigma_min and sigma_max are the schedule's smallest and largest finite noise levels. Returns K + 1 values.
    """
    if steps < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    finite = schedule.sigmas[torch.isfinite(schedule.sigmas)]
    sigma_min, sigma_max = finite[0], finite[-1]
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])
