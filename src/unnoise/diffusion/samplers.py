"""Solvers: small functions that turn noise into images, all with one signature.

    sample_x(denoiser, x, sigmas, noise=None, on_step=None, **options) -> x_0

`denoiser(x, sigma)` predicts x_0 (see denoiser.py), `x` is standard normal noise (B, C, H, W) on the
variance-preserving scale, `sigmas` any grid of noise levels (see grids.py): K + 1 levels, decreasing, ending at 0.
Step i goes from sigmas[i] to sigmas[i + 1]; the last one lands on the data. `noise(x)` draws the fresh noise of
stochastic solvers (per image, so that an image does not depend on its batch); `on_step(i, sigma, x, x0_hat)` sees
the state after each step, at level sigma = sigmas[i + 1]. Coefficients are Python numbers computed from the grid
on the host: the loop never waits for the device.

In the variance-preserving terms used below, at level sigma: alpha_bar = 1 / (1 + sigma^2), alpha = sqrt(alpha_bar),
and the noise scale s = sqrt(1 - alpha_bar), so x = alpha x_0 + s eps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .denoiser import DenoiserLike, alpha_bar_of_sigma
from .process import predict_eps_from_x0, q_posterior

StepCallback = Callable[[int, float, torch.Tensor, torch.Tensor], None]
NoiseSampler = Callable[[torch.Tensor], torch.Tensor]
VARIANCES = ("beta_tilde", "beta")


def standard_noise(x: torch.Tensor) -> torch.Tensor:
    return torch.randn_like(x)


def steps_of(sigmas: torch.Tensor):
    """(i, sigma, sigma_next) for each step of a grid, as Python numbers."""
    levels = sigmas.tolist()
    for i in range(len(levels) - 1):
        yield i, levels[i], levels[i + 1]


def noise_scale(sigma: float) -> float:
    """s = sqrt(1 - alpha_bar) = sigma / sqrt(1 + sigma^2); 1 at sigma = inf."""
    return sigma / math.sqrt(1 + sigma * sigma) if math.isfinite(sigma) else 1.0


def half_log_snr(sigma: float) -> float:
    """lambda = log(alpha / s) = -log sigma: the time variable of DPM-Solver; -inf at sigma = inf."""
    return -math.log(sigma)


@torch.no_grad()
def sample_ddpm(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
    variance: str = "beta_tilde",
) -> torch.Tensor:
    """x_s ~ N(mu~(x_t, x0_hat), v I) with v = beta~ or beta = 1 - ab_t / ab_s.

    Ho et al. 2020, Alg. 2; respaced as Nichol & Dhariwal 2021.
    """
    for i, sigma, sigma_next in steps_of(sigmas):
        alpha_bar_t, alpha_bar_s = alpha_bar_of_sigma(sigma), alpha_bar_of_sigma(sigma_next)
        x0 = denoiser(x, sigma)
        mean, posterior_variance = q_posterior(x0, x, alpha_bar_t, alpha_bar_s)
        if sigma_next == 0:
            x = mean
        else:
            step_variance = posterior_variance if variance == "beta_tilde" else 1 - alpha_bar_t / alpha_bar_s
            x = mean + step_variance**0.5 * noise(x)
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


@torch.no_grad()
def sample_ddim(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
    eta: float = 0.0,
) -> torch.Tensor:
    """x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - c^2) eps_hat + c z,  c = eta sqrt((1-ab_s)/(1-ab_t)) sqrt(1 -
    ab_t/ab_s)  (Song et al. 2021, eq. 12).
    """
    for i, sigma, sigma_next in steps_of(sigmas):
        alpha_bar_t, alpha_bar_s = alpha_bar_of_sigma(sigma), alpha_bar_of_sigma(sigma_next)
        x0 = denoiser(x, sigma)
        eps = predict_eps_from_x0(x, x0, alpha_bar_t)
        # eta = 0 needs no c, and a step up the grid (DDIM inversion) would make its root imaginary
        c = eta * ((1 - alpha_bar_s) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_s)) ** 0.5 if eta > 0 else 0.0
        x = alpha_bar_s**0.5 * x0 + max(1 - alpha_bar_s - c * c, 0.0) ** 0.5 * eps
        if sigma_next > 0 and eta > 0:
            x = x + c * noise(x)
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


@torch.no_grad()
def sample_dpmpp_2m(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
    stochastic: bool = False,
) -> torch.Tensor:
    """DPM-Solver++(2M): x_s = (s_s/s_t) x_t - alpha_s (e^-h - 1) D,  D = (1 + 1/2r) x0_t - (1/2r) x0_prev  (Lu et al.
    2022, Alg. 2).

    With stochastic=True, SDE-DPM-Solver++(2M): x_s = (s_s/s_t) e^-h x_t + alpha_s (1 - e^-2h) D + s_s sqrt(1 - e^-2h)
    z.
    h = lambda_s - lambda_t with lambda = -log sigma. The first step is first order (D = x0_t); the last returns x0_t.
    """
    previous_x0, previous_h = None, None
    for i, sigma, sigma_next in steps_of(sigmas):
        x0 = denoiser(x, sigma)
        if sigma_next == 0:
            x = x0
        else:
            h = half_log_snr(sigma_next) - half_log_snr(sigma)
            if previous_x0 is None or math.isinf(previous_h):
                D = x0
            else:
                r = previous_h / h
                D = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * previous_x0
            ratio, alpha_s, s_s = (
                noise_scale(sigma_next) / noise_scale(sigma),
                alpha_bar_of_sigma(sigma_next) ** 0.5,
                noise_scale(sigma_next),
            )
            if stochastic:
                x = ratio * math.exp(-h) * x + alpha_s * -math.expm1(-2 * h) * D
                x = x + s_s * (-math.expm1(-2 * h)) ** 0.5 * noise(x)
            else:
                x = ratio * x - alpha_s * math.expm1(-h) * D
            previous_x0, previous_h = x0, h
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


def sample_dpmpp_2m_sde(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """SDE-DPM-Solver++(2M) (Lu et al. 2022): the stochastic variant of sample_dpmpp_2m."""
    return sample_dpmpp_2m(denoiser, x, sigmas, noise, on_step, stochastic=True)


def probability_flow_slope(x: torch.Tensor, x0: torch.Tensor, sigma: float) -> torch.Tensor:
    """dx_VE/dsigma = (x_VE - D(x; sigma)) / sigma = eps_hat   (Karras et al. 2022, eq. 3 with sigma(t) = t)."""
    return predict_eps_from_x0(x, x0, alpha_bar_of_sigma(sigma))


@torch.no_grad()
def sample_euler(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i in x_VE = x / alpha  (Karras et al.
    2022, Alg. 1, Euler only).

    On the variance-preserving scale this step reads x_s = alpha_s x0_hat + s_s eps_hat (which also holds at sigma =
    inf).
    """
    for i, sigma, sigma_next in steps_of(sigmas):
        x0 = denoiser(x, sigma)
        x = alpha_bar_of_sigma(sigma_next) ** 0.5 * x0 + noise_scale(sigma_next) * probability_flow_slope(x, x0, sigma)
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


@torch.no_grad()
def sample_heun(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """An Euler step, then the trapezoidal correction with the slope at sigma_{i+1}  (Karras et al. 2022, Alg. 1); 2K -
    1 evaluations.

    The last step (to sigma = 0) and a step from sigma = inf stay Euler steps.
    """
    for i, sigma, sigma_next in steps_of(sigmas):
        x0 = denoiser(x, sigma)
        slope = probability_flow_slope(x, x0, sigma)
        alpha_s, s_s = alpha_bar_of_sigma(sigma_next) ** 0.5, noise_scale(sigma_next)
        x_euler = alpha_s * x0 + s_s * slope
        if sigma_next > 0 and math.isfinite(sigma):
            slope_next = probability_flow_slope(x_euler, denoiser(x_euler, sigma_next), sigma_next)
            x_ve = x / alpha_bar_of_sigma(sigma) ** 0.5 + (sigma_next - sigma) * (slope + slope_next) / 2
            x = alpha_s * x_ve
        else:
            x = x_euler
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


@torch.no_grad()
def sample_midpoint(
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    noise: NoiseSampler = standard_noise,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d(x_mid; sigma_mid),  sigma_mid = sqrt(sigma_i sigma_{i+1}).

    x_mid is an Euler half step from x_i to sigma_mid.

    The explicit midpoint rule (second order, Runge-Kutta 2) on the probability-flow ODE in x_VE; the half step is
    geometric in sigma, as k-diffusion's DPM-2. 2K - 1 evaluations: the last step and a step from sigma = inf are Euler.
    """
    for i, sigma, sigma_next in steps_of(sigmas):
        x0 = denoiser(x, sigma)
        slope = probability_flow_slope(x, x0, sigma)
        if sigma_next > 0 and math.isfinite(sigma):
            sigma_mid = math.sqrt(sigma * sigma_next)
            x_mid = alpha_bar_of_sigma(sigma_mid) ** 0.5 * x0 + noise_scale(sigma_mid) * slope
            slope_mid = probability_flow_slope(x_mid, denoiser(x_mid, sigma_mid), sigma_mid)
            x_ve = x / alpha_bar_of_sigma(sigma) ** 0.5 + (sigma_next - sigma) * slope_mid
            x = alpha_bar_of_sigma(sigma_next) ** 0.5 * x_ve
        else:
            x = alpha_bar_of_sigma(sigma_next) ** 0.5 * x0 + noise_scale(sigma_next) * slope
        if on_step:
            on_step(i, sigma_next, x, x0)
    return x


@dataclass(frozen=True)
class Solver:
    """A solver and what it needs to know about itself: the options it takes, whether it draws noise, its usual grid."""

    function: Callable[..., torch.Tensor]
    options: tuple[str, ...] = ()
    stochastic: bool = False
    default_spacing: str = "uniform"
    evaluations_per_step: int = 1  # Heun: 2, except on its last step
    multistep: bool = False  # a step reads earlier steps' predictions (so one step cannot be solved for on its own)


SOLVERS: dict[str, Solver] = {
    "ddpm": Solver(sample_ddpm, ("variance",), stochastic=True),
    "ddim": Solver(sample_ddim, ("eta",)),
    "dpmpp_2m": Solver(sample_dpmpp_2m, multistep=True),
    "dpmpp_2m_sde": Solver(sample_dpmpp_2m_sde, stochastic=True, multistep=True),
    "euler": Solver(sample_euler, default_spacing="karras"),
    "heun": Solver(sample_heun, default_spacing="karras", evaluations_per_step=2),
    "midpoint": Solver(sample_midpoint, default_spacing="karras", evaluations_per_step=2),
}
SAMPLERS = tuple(SOLVERS)


def count_nfe(sampler: str, steps: int, starts_at_infinity: bool = False) -> int:
    """Network evaluations a solver spends on `steps` steps of a grid ending at 0.

    Heun and midpoint spend 2 per step, but their last step (to 0), and a first step from sigma = inf, are plain
    Euler steps of 1.
    """
    per_step = SOLVERS[sampler].evaluations_per_step
    euler_steps = min(steps, 1 + int(starts_at_infinity and steps > 1))
    return per_step * steps - (per_step - 1) * euler_steps


def is_stochastic(sampler: str, options: dict) -> bool:
    """Whether the solver draws fresh noise along the way (DDIM only with eta > 0)."""
    return SOLVERS[sampler].stochastic or (sampler == "ddim" and (options.get("eta") or 0) > 0)
