"""Grids of noise levels: where a solver evaluates the denoiser, built apart from the solver (as k-diffusion's
get_sigmas_*).

A grid is a float64 CPU tensor of K + 1 noise levels sigma, strictly decreasing and ending at 0 (the data), for K
solver steps. sigma is the noise-to-signal ratio of the variance-exploding view x / sqrt(alpha_bar) = x_0 + sigma eps
(Karras et al. 2022), sigma = sqrt((1 - alpha_bar) / alpha_bar); it is inf where a schedule has zero terminal SNR.
Every solver takes every grid; `steps` means K for all of them.
"""

from __future__ import annotations

import torch

from ..errors import check
from .schedules import NoiseSchedule

TIMESTEP_SPACINGS = ("uniform", "quadratic", "trailing")
SPACINGS = (*TIMESTEP_SPACINGS, "karras")
DEFAULT_RHO = 7.0


def spaced_timesteps(num_timesteps: int, steps: int | None, spacing: str = "uniform") -> list[int]:
    """`steps` distinct timesteps of 0..T-1, descending from T - 1; the solver's last step goes from the final one to
    x_0.

    uniform:   round(linspace(T - 1, 0, K)), the respacing of Nichol & Dhariwal 2021.
    quadratic: round((T - 1) (1 - i / (K - 1))^2), dense near the data (DDIM's "quad").
    trailing:  round(T - i T / K) - 1 for i < K: never visits t = 0 (Lin et al. 2024).
    With K = 1 every spacing is [T - 1]: one step from pure noise to the data.
    """
    steps = num_timesteps if steps is None else steps
    check(
        1 <= steps <= num_timesteps,
        f"steps must be between 1 and {num_timesteps} for this schedule, got {steps}",
        "steps",
    )
    check(spacing in TIMESTEP_SPACINGS, f"unknown spacing {spacing!r}; choose one of {', '.join(SPACINGS)}", "spacing")
    last = num_timesteps - 1
    if steps == 1:
        return [last]
    i = torch.arange(steps, dtype=torch.float64)
    if spacing == "uniform":
        points = torch.linspace(last, 0, steps, dtype=torch.float64)
    elif spacing == "quadratic":
        points = last * (1 - i / (steps - 1)) ** 2
    else:
        points = num_timesteps - i * num_timesteps / steps - 1
    ascending = sorted(points.round().long().tolist())
    # Quadratic spacing crowds several points onto the first integers; push them up to keep all K
    # distinct. (Its values are convex in i, so the pushed ones never pass T - 1.)
    for index in range(1, len(ascending)):
        ascending[index] = max(ascending[index], ascending[index - 1] + 1)
    return ascending[::-1]


def timestep_grid(schedule: NoiseSchedule, steps: int | None = None, spacing: str = "uniform") -> torch.Tensor:
    """sigma at spaced_timesteps(T, K, spacing), then 0: a respaced DDPM chain as a grid."""
    timesteps = spaced_timesteps(schedule.timesteps, steps, spacing)
    return torch.cat([schedule.sigmas[timesteps], torch.zeros(1, dtype=torch.float64)])


def karras_grid(sigma_min: float, sigma_max: float, steps: int, rho: float = DEFAULT_RHO) -> torch.Tensor:
    """sigma_i = (sigma_max^(1/rho) + i / (K - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then 0.

    Karras et al. 2022, eq. 5.
    """
    check(steps >= 1, f"steps must be at least 1, got {steps}", "steps")
    check(rho > 0, f"rho must be positive, got {rho}", "rho")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    sigmas = (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def noise_level_grid(
    schedule: NoiseSchedule, steps: int | None = None, spacing: str = "uniform", rho: float = DEFAULT_RHO
) -> torch.Tensor:
    """The grid for a discrete schedule: its timesteps respaced, or Karras levels between its finite sigma_min and
    sigma_max.

    steps=None means every one of the T timesteps (or T Karras levels). Raises UserError for steps outside 1..T
    or an unknown spacing.
    """
    if spacing != "karras":
        return timestep_grid(schedule, steps, spacing)
    steps = schedule.timesteps if steps is None else steps
    check(
        1 <= steps <= schedule.timesteps,
        f"steps must be between 1 and {schedule.timesteps} for this schedule, got {steps}",
        "steps",
    )
    finite = schedule.sigmas[torch.isfinite(schedule.sigmas)]
    return karras_grid(finite[0].item(), finite[-1].item(), steps, rho)


def sigma_of_strength(strength: float) -> float:
    """sigma = t / (1 - t) with t = strength: SDEdit's starting level, named as flow matching's time.

    strength 0 is the data itself (sigma = 0), 1 pure noise (sigma = inf), 0.5 equal signal and noise (sigma = 1);
    x_VE = x_0 + sigma eps, so the same strength is the same noise level on every formulation and grid.
    """
    check(
        isinstance(strength, (int, float)) and not isinstance(strength, bool) and 0 <= strength <= 1,
        f"strength must be a number in [0, 1] (0 returns the image, 1 ignores it), got {strength!r}",
        "strength",
    )
    return strength / (1 - strength) if strength < 1 else float("inf")


def partial_grid(sigmas: torch.Tensor, sigma_start: float) -> torch.Tensor:
    """The grid started part-way: min(sigma_start, sigmas[0]), then the grid's levels below it (Meng et al. 2022).

    A start at or above the grid's noisiest level returns the whole grid; a start of 0 returns [0] (no steps).
    """
    start = min(sigma_start, sigmas[0].item())
    below = sigmas[sigmas < start]
    return torch.cat([sigmas.new_tensor([start]), below]) if start > 0 else sigmas.new_zeros(1)
