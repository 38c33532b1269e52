"""Samplers: small functions that turn noise into images, given a noise predictor and a schedule.

Every sampler has the same shape, `sample_x(predict_noise, schedule, x, timesteps, ...) -> x_0`:
`predict_noise(x_t, t)` maps a batch (B, C, H, W) and integer timesteps (B,) to predicted noise,
`timesteps` is a descending subsequence of 0..T-1 (see `spaced_timesteps`), and `on_step`, if
given, sees (t, x_t after the step, predicted x_0) so callers can draw trajectories.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import UserError
from .process import predict_x0_from_eps, q_posterior
from .schedules import NoiseSchedule

NoisePredictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


def spaced_timesteps(num_timesteps: int, steps: int | None) -> list[int]:
    """`steps` evenly spaced indices of 0..T-1, descending, always ending at 0 and starting at T-1."""
    steps = num_timesteps if steps is None else steps
    if not 1 <= steps <= num_timesteps:
        raise UserError(f"steps must be between 1 and {num_timesteps} for this schedule, got {steps}")
    spaced = torch.linspace(0, num_timesteps - 1, steps, dtype=torch.float64).round().long()
    return sorted(set(spaced.tolist()), reverse=True)


@torch.no_grad()
def sample_ddpm(
    predict_noise: NoisePredictor,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    timesteps: list[int],
    generator: torch.Generator | None = None,
    clip_x0: bool = True,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Ancestral sampling x_s ~ p(x_s | x_t) = q(x_s | x_t, x0_hat)  (Ho et al. 2020, Alg. 2; respaced as Nichol & Dhariwal 2021)."""
    alpha_bar = schedule.alpha_bar
    one = torch.ones((), dtype=torch.float64)
    for i, t in enumerate(timesteps):
        s = timesteps[i + 1] if i + 1 < len(timesteps) else None
        alpha_bar_t = alpha_bar[t]
        alpha_bar_s = alpha_bar[s] if s is not None else one
        eps = predict_noise(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))
        x0 = predict_x0_from_eps(x, eps, alpha_bar_t)
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        mean, variance = q_posterior(x0, x, alpha_bar_t, alpha_bar_s)
        if s is None:
            x = mean
        else:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = mean + variance.sqrt().to(x.dtype) * noise
        if on_step is not None:
            on_step(t, x, x0)
    return x
