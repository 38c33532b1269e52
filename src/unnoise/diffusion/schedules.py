"""Noise schedules: the betas of the forward process and every quantity derived from them.

Everything is computed in float64 (products of a thousand numbers near 1 lose precision in
float32) and cast to the working dtype only where a tensor meets the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ..errors import UserError

SCHEDULE_NAMES = ("linear", "cosine", "quadratic", "sigmoid", "constant")


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t = beta_start + (beta_end - beta_start) (t - 1) / (T - 1)   (Ho et al. 2020)."""
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def quadratic_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """sqrt(beta_t) linear from sqrt(beta_start) to sqrt(beta_end)."""
    return torch.linspace(beta_start**0.5, beta_end**0.5, timesteps, dtype=torch.float64) ** 2


def sigmoid_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t = beta_start + (beta_end - beta_start) sigmoid(s_t),  s_t linear in [-6, 6]."""
    s = torch.linspace(-6, 6, timesteps, dtype=torch.float64)
    return beta_start + (beta_end - beta_start) * torch.sigmoid(s)


def constant_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t = beta_end for every t."""
    return torch.full((timesteps,), beta_end, dtype=torch.float64)


def cosine_alpha_bar(t: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """f(t) = cos^2(((t/T + s) / (1 + s)) pi/2),  t given as t/T in [0, 1]   (Nichol & Dhariwal 2021)."""
    return torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2


def cosine_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1), clipped to 0.999   (Nichol & Dhariwal 2021)."""
    # beta_start/beta_end are accepted for a uniform signature; the cosine schedule ignores them.
    grid = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    alpha_bar = cosine_alpha_bar(grid) / cosine_alpha_bar(torch.zeros((), dtype=torch.float64))
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Shift and scale sqrt(alpha_bar) so that sqrt(alpha_bar_T) = 0, keeping sqrt(alpha_bar_1).

    Lin et al. 2024, Alg. 1.
    """
    root = torch.cumprod(1 - betas, dim=0).sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    alpha_bar = root**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


BETA_FUNCTIONS = {
    "linear": linear_betas,
    "cosine": cosine_betas,
    "quadratic": quadratic_betas,
    "sigmoid": sigmoid_betas,
    "constant": constant_betas,
}


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """beta_1..beta_T and the quantities derived from them, indexed 0..T-1 (index t means step t+1)."""

    betas: torch.Tensor  # (T,) float64

    @property
    def timesteps(self) -> int:
        return self.betas.shape[0]

    @cached_property
    def alphas(self) -> torch.Tensor:
        """alpha_t = 1 - beta_t."""
        return 1 - self.betas

    @cached_property
    def alpha_bar(self) -> torch.Tensor:
        """alpha_bar_t = prod_{s <= t} alpha_s."""
        return torch.cumprod(self.alphas, dim=0)

    @cached_property
    def alpha_bar_prev(self) -> torch.Tensor:
        """alpha_bar_{t-1}, with alpha_bar_0 = 1 before the first step."""
        return torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])

    @cached_property
    def posterior_variance(self) -> torch.Tensor:
        """beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t."""
        return (1 - self.alpha_bar_prev) / (1 - self.alpha_bar) * self.betas

    @cached_property
    def snr(self) -> torch.Tensor:
        """SNR(t) = alpha_bar_t / (1 - alpha_bar_t)."""
        return self.alpha_bar / (1 - self.alpha_bar)

    @cached_property
    def sigmas(self) -> torch.Tensor:
        """sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t): the noise level of x_t / sqrt(alpha_bar_t) = x_0 + sigma_t
        eps.
        """
        return ((1 - self.alpha_bar) / self.alpha_bar).sqrt()

    def timestep_of_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """The fractional timestep whose sigma is `sigma`, interpolating log sigma between integer timesteps.

        A sigma of the schedule gives its integer timestep exactly; inf (zero terminal SNR) gives T - 1.
        """
        log_sigmas = self.sigmas[torch.isfinite(self.sigmas)].log()
        log_sigma = sigma.to(torch.float64).log().clamp(log_sigmas[0], log_sigmas[-1])
        upper = torch.searchsorted(log_sigmas, log_sigma.reshape(-1)).clamp(1, len(log_sigmas) - 1)
        low, high = log_sigmas[upper - 1], log_sigmas[upper]
        fraction = (log_sigma.reshape(-1) - low) / (high - low)
        timestep = (upper - 1 + fraction).reshape(sigma.shape)
        return torch.where(torch.isinf(sigma.to(torch.float64)), float(self.timesteps - 1), timestep)

    @property
    def zero_terminal_snr(self) -> bool:
        return bool(self.alpha_bar[-1] == 0)


def make_schedule(
    name: str = "linear",
    timesteps: int = 1000,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    zero_terminal_snr: bool = False,
) -> NoiseSchedule:
    """Build a named schedule, optionally rescaled to zero terminal SNR; bad names and betas are user errors."""
    if name not in BETA_FUNCTIONS:
        raise UserError(f"schedule must be one of {', '.join(SCHEDULE_NAMES)}, got {name!r}", settings=("schedule",))
    if timesteps < 2:
        raise UserError(f"timesteps must be at least 2, got {timesteps}", settings=("timesteps",))
    if not 0 < beta_start <= beta_end < 1:
        raise UserError(
            f"the betas must satisfy 0 < beta_start <= beta_end < 1, got {beta_start} and {beta_end}",
            settings=("beta_start", "beta_end"),
        )
    betas = BETA_FUNCTIONS[name](timesteps, beta_start, beta_end)
    schedule = NoiseSchedule(rescale_zero_terminal_snr(betas) if zero_terminal_snr else betas)
    # alpha_bar below float64's smallest normal number is 0 to sigma = sqrt((1 - alpha_bar) / alpha_bar) and to the
    # sampler's ratios alpha_bar_t / alpha_bar_s: the run would train, then fail to sample (a zero-SNR last step is
    # the one alpha_bar of 0 the samplers are built for).
    kept = schedule.alpha_bar[:-1] if zero_terminal_snr else schedule.alpha_bar
    vanished = (kept < torch.finfo(torch.float64).tiny).nonzero()
    if len(vanished):
        raise UserError(
            f"the {name} schedule's alpha_bar reaches 0 at step {vanished[0].item()} of {timesteps}: no signal is "
            "left to learn from, and samplers divide by it; lower beta_end or timesteps",
            settings=("beta_end", "timesteps"),
        )
    return schedule


def schedule_of(settings) -> NoiseSchedule:
    """The schedule a run's diffusion settings describe, from all of them (name, T, betas, zero terminal SNR).

    `settings` is a DiffusionConfig (or anything with its fields); every place that needs a run's schedule builds it
    here.
    """
    return make_schedule(
        settings.schedule, settings.timesteps, settings.beta_start, settings.beta_end, settings.zero_terminal_snr
    )
