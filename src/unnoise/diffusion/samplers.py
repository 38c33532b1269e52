"""Samplers: small functions that turn noise into images, all with one signature.

    sample_x(denoiser, x_T, steps, generator=None, on_step=None, **options) -> x_0

`denoiser` is a Denoiser (network + schedule + parameterisation), `x_T` is standard normal noise
(B, C, H, W), `steps` the number of steps (the network is called once per step, twice for Heun).
`on_step(i, t, x_t, x0_hat)`, if given, sees the state after each step i (t may be fractional for
the sigma-based samplers; x_t is always on the variance-preserving scale), for trajectories.
Every sampler ends on the data: its last step goes to alpha_bar = 1 and returns x_0.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable

import torch

from ..errors import UserError
from .denoiser import Denoiser
from .process import q_posterior
from .timesteps import karras_sigmas, spaced_timesteps

StepCallback = Callable[[int, float, torch.Tensor, torch.Tensor], None]
ONE = torch.ones((), dtype=torch.float64)


def noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def steps_with_next(timesteps: list[int]):
    """(i, t, s) for each step from t to s; s is None for the last step, which goes to the data."""
    for i, t in enumerate(timesteps):
        yield i, t, timesteps[i + 1] if i + 1 < len(timesteps) else None


@torch.no_grad()
def sample_ddpm(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                spacing: str = "uniform", variance: str = "beta_tilde") -> torch.Tensor:
    """x_s ~ N(mu~(x_t, x0_hat), sigma^2 I) with sigma^2 = beta~ or beta  (Ho et al. 2020, Alg. 2; respaced as Nichol & Dhariwal 2021)."""
    if variance not in ("beta_tilde", "beta"):
        raise UserError(f"DDPM variance must be beta_tilde or beta, got {variance!r}")
    alpha_bar = denoiser.schedule.alpha_bar
    for i, t, s in steps_with_next(spaced_timesteps(denoiser.schedule.timesteps, steps, spacing)):
        alpha_bar_t, alpha_bar_s = alpha_bar[t], alpha_bar[s] if s is not None else ONE
        _, x0 = denoiser(x, t)
        mean, posterior_variance = q_posterior(x0, x, alpha_bar_t, alpha_bar_s)
        if s is None:
            x = mean
        else:
            step_variance = posterior_variance if variance == "beta_tilde" else 1 - alpha_bar_t / alpha_bar_s
            x = mean + step_variance.sqrt().to(x.dtype) * noise_like(x, generator)
        if on_step:
            on_step(i, t, x, x0)
    return x


@torch.no_grad()
def sample_ddim(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                spacing: str = "uniform", eta: float = 0.0) -> torch.Tensor:
    """x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps_hat + sigma z,  sigma = eta sqrt((1-ab_s)/(1-ab_t)) sqrt(1 - ab_t/ab_s)  (Song et al. 2021, eq. 12)."""
    alpha_bar = denoiser.schedule.alpha_bar
    for i, t, s in steps_with_next(spaced_timesteps(denoiser.schedule.timesteps, steps, spacing)):
        alpha_bar_t, alpha_bar_s = alpha_bar[t], alpha_bar[s] if s is not None else ONE
        eps, x0 = denoiser(x, t)
        sigma = eta * ((1 - alpha_bar_s) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_s)).sqrt()
        x = alpha_bar_s.sqrt().to(x.dtype) * x0 + (1 - alpha_bar_s - sigma**2).clamp(min=0).sqrt().to(x.dtype) * eps
        if s is not None and eta > 0:
            x = x + sigma.to(x.dtype) * noise_like(x, generator)
        if on_step:
            on_step(i, t, x, x0)
    return x


def log_snr_half(alpha_bar: torch.Tensor) -> torch.Tensor:
    """lambda = log(alpha / sigma) = log(sqrt(ab) / sqrt(1 - ab)), the half log-SNR DPM-Solver steps in."""
    return 0.5 * (alpha_bar.log() - (1 - alpha_bar).log())


@torch.no_grad()
def sample_dpmpp_2m(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                    spacing: str = "uniform", stochastic: bool = False) -> torch.Tensor:
    """DPM-Solver++(2M): x_s = (sigma_s/sigma_t) x_t - alpha_s (e^-h - 1) D,  D = (1 + 1/2r) x0_t - (1/2r) x0_prev  (Lu et al. 2022, Alg. 2).

    With stochastic=True, SDE-DPM-Solver++(2M): x_s = (sigma_s/sigma_t) e^-h x_t + alpha_s (1 - e^-2h) D + sigma_s sqrt(1 - e^-2h) z.
    The first step is first order (D = x0_t); the last returns x0_t.
    """
    alpha_bar = denoiser.schedule.alpha_bar
    previous_x0, previous_h = None, None
    for i, t, s in steps_with_next(spaced_timesteps(denoiser.schedule.timesteps, steps, spacing)):
        _, x0 = denoiser(x, t)
        if s is None:
            x = x0
        else:
            alpha_bar_t, alpha_bar_s = alpha_bar[t], alpha_bar[s]
            h = log_snr_half(alpha_bar_s) - log_snr_half(alpha_bar_t)
            if previous_x0 is None:
                D = x0
            else:
                r = (previous_h / h).item()
                D = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * previous_x0
            sigma_t, sigma_s, alpha_s = (1 - alpha_bar_t).sqrt(), (1 - alpha_bar_s).sqrt(), alpha_bar_s.sqrt()
            if stochastic:
                x = (sigma_s / sigma_t * (-h).exp()).to(x.dtype) * x + (alpha_s * -torch.expm1(-2 * h)).to(x.dtype) * D
                x = x + (sigma_s * (-torch.expm1(-2 * h)).sqrt()).to(x.dtype) * noise_like(x, generator)
            else:
                x = (sigma_s / sigma_t).to(x.dtype) * x - (alpha_s * torch.expm1(-h)).to(x.dtype) * D
            previous_x0, previous_h = x0, h
        if on_step:
            on_step(i, t, x, x0)
    return x


def sample_dpmpp_2m_sde(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                        spacing: str = "uniform") -> torch.Tensor:
    """SDE-DPM-Solver++(2M) (Lu et al. 2022): the stochastic variant of sample_dpmpp_2m."""
    return sample_dpmpp_2m(denoiser, x, steps, generator, on_step, spacing, stochastic=True)


def karras_start(x_T: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Standard normal x_T on the variance-preserving scale -> x = x_T / sqrt(ab) = x_T sqrt(1 + sigma_max^2)."""
    return x_T * math.sqrt(1 + sigmas[0].item() ** 2)


def report_sigma_step(on_step, denoiser: Denoiser, i: int, x: torch.Tensor, x0: torch.Tensor, sigma_next: torch.Tensor) -> None:
    if on_step:
        t = denoiser.schedule.timestep_of_sigma(sigma_next).item() if sigma_next > 0 else 0.0
        on_step(i, t, x / math.sqrt(1 + sigma_next.item() ** 2), x0)


@torch.no_grad()
def sample_euler(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                 rho: float = 7.0) -> torch.Tensor:
    """x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i on Karras sigmas  (Karras et al. 2022, Alg. 1 with Euler only)."""
    sigmas = karras_sigmas(denoiser.schedule, steps or denoiser.schedule.timesteps, rho)
    x = karras_start(x, sigmas)
    for i in range(len(sigmas) - 1):
        x0 = denoiser.x0_at_sigma(x, sigmas[i])
        x = x + ((sigmas[i + 1] - sigmas[i]) / sigmas[i]).to(x.dtype) * (x - x0)
        report_sigma_step(on_step, denoiser, i, x, x0, sigmas[i + 1])
    return x


@torch.no_grad()
def sample_heun(denoiser: Denoiser, x: torch.Tensor, steps: int | None = None, generator=None, on_step=None,
                rho: float = 7.0) -> torch.Tensor:
    """Euler step, then the trapezoidal correction with the slope at sigma_{i+1} (Karras et al. 2022, Alg. 1); 2K - 1 evaluations."""
    sigmas = karras_sigmas(denoiser.schedule, steps or denoiser.schedule.timesteps, rho)
    x = karras_start(x, sigmas)
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        x0 = denoiser.x0_at_sigma(x, sigma)
        slope = (x - x0) / sigma.to(x.dtype)
        x_euler = x + (sigma_next - sigma).to(x.dtype) * slope
        if sigma_next > 0:
            slope_next = (x_euler - denoiser.x0_at_sigma(x_euler, sigma_next)) / sigma_next.to(x.dtype)
            x = x + (sigma_next - sigma).to(x.dtype) * (slope + slope_next) / 2
        else:
            x = x_euler
        report_sigma_step(on_step, denoiser, i, x, x0, sigma_next)
    return x


SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {
    "ddpm": sample_ddpm,
    "ddim": sample_ddim,
    "dpmpp_2m": sample_dpmpp_2m,
    "dpmpp_2m_sde": sample_dpmpp_2m_sde,
    "euler": sample_euler,
    "heun": sample_heun,
}


def sampler_by_name(name: str) -> Callable[..., torch.Tensor]:
    if name not in SAMPLERS:
        raise UserError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def count_nfe(sampler: str, steps: int) -> int:
    """Network evaluations a sampler spends on `steps` steps (Heun's last step is a plain Euler step)."""
    sampler_by_name(sampler)
    return 2 * steps - 1 if sampler == "heun" else steps


def run_sampler(name: str, denoiser: Denoiser, x: torch.Tensor, steps: int | None, generator=None, on_step=None,
                **options) -> torch.Tensor:
    """Call a sampler by name with only the options it takes; an option it does not take is a user error."""
    sampler = sampler_by_name(name)
    accepted = set(inspect.signature(sampler).parameters) - {"denoiser", "x", "steps", "generator", "on_step"}
    given = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(given) - accepted)
    if unknown:
        takes = ", ".join(f"--{option}" for option in sorted(accepted)) or "no options"
        raise UserError(f"sampler {name} does not take --{unknown[0]}; it takes {takes}")
    return sampler(denoiser, x, steps, generator, on_step, **given)
