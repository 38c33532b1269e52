"""Deterministic inversion: an image back to the noise a deterministic solver turns into it.

The grid walked backwards, from the data (sigma = 0) to its noisiest level. Each step up starts as the solver's own
step up the probability-flow ODE (DDIM inversion when the solver is DDIM: Song et al. 2021, sec. 4.3; Dhariwal &
Nichol 2021, app. F), then is refined by fixed-point iteration until the solver's step down lands where it came
from (Pan et al. 2023, "accelerated iterative diffusion inversion"), so that reconstruction undoes inversion
instead of adding the two directions' discretisation errors. Two ends need care:

- from the data: the solver's last step is x_0 = D(x; sigma_min), whose slope at sigma = 0 is 0/0; the guess is
  alpha x_0 and the iteration x <- x + alpha (x_0 - D(x; sigma_min)) solves it (x = alpha x_0 + s eps_hat(x)).
- to sigma = inf (flow matching, zero terminal SNR): the guess is an Euler step, x = eps_hat.

A multistep solver (DPM-Solver++(2M)) steps down using predictions from levels above, unknown on the way up: it
runs on the reversed grid as it is, with the fixed point at the data end only.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .denoiser import DenoiserLike, alpha_bar_of_sigma
from .process import predict_eps_from_x0
from .samplers import StepCallback, noise_scale

FIXED_POINT_ITERATIONS = 3


def two_levels(sigma: float, sigma_next: float) -> torch.Tensor:
    return torch.tensor([sigma, sigma_next], dtype=torch.float64)


def step_up_guess(solver, denoiser: DenoiserLike, x: torch.Tensor, sigma: float, sigma_up: float, **options):
    """The solver's step from sigma up to sigma_up: alpha_up x_0 from the data, eps_hat up to sigma = inf."""
    if sigma == 0:
        return alpha_bar_of_sigma(sigma_up) ** 0.5 * x
    if math.isinf(sigma_up):
        return predict_eps_from_x0(x, denoiser(x, sigma), alpha_bar_of_sigma(sigma))
    return solver(denoiser, x, two_levels(sigma, sigma_up), None, None, **options)


def invert_step(
    solver, denoiser: DenoiserLike, x: torch.Tensor, sigma: float, sigma_up: float, iterations: int, **options
) -> torch.Tensor:
    """x_up with solver(x_up; sigma_up -> sigma) = x, by x_up <- x_up + rate (x - solver(x_up)) from the step up.

    rate = alpha_up / alpha, the inverse of the step's largest slope (alpha / alpha_up), so each iterate moves towards
    the solution without overshooting it; up to sigma = inf, where x = s x_up + alpha D, rate = 1 / s.
    """
    if sigma == 0 and math.isinf(sigma_up):
        raise ValueError("a grid of one step from sigma = inf cannot be inverted")
    x_up = step_up_guess(solver, denoiser, x, sigma, sigma_up, **options)
    if math.isinf(sigma_up):
        rate = 1 / noise_scale(sigma)
    else:
        rate = (alpha_bar_of_sigma(sigma_up) / alpha_bar_of_sigma(sigma)) ** 0.5
    for _ in range(iterations):
        x_up = x_up + rate * (x - solver(denoiser, x_up, two_levels(sigma_up, sigma), None, None, **options))
    return x_up


@torch.no_grad()
def invert(
    solver: Callable[..., torch.Tensor],
    denoiser: DenoiserLike,
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    on_step: StepCallback | None = None,
    iterations: int = FIXED_POINT_ITERATIONS,
    multistep: bool = False,
    **options,
) -> torch.Tensor:
    """The noise x at sigmas[0] that `solver` on `sigmas` turns into x0 (B, C, H, W), on the variance-preserving scale.

    solver: a deterministic solver of diffusion/samplers.py (multistep: whether it is a multistep one); sigmas: its
    grid, decreasing to 0 (two steps at least when it starts at sigma = inf). on_step(i, sigma, x, x0) sees each
    step up. Each step costs 1 + iterations solver steps of network evaluations (the first guess, alpha x_0, none).
    """
    levels = sigmas.flip(0).tolist()  # 0, sigma_min, ..., sigma_max
    x = x0
    if multistep:
        x = invert_step(solver, denoiser, x, 0.0, levels[1], iterations, **options)
        if on_step:
            on_step(0, levels[1], x, x0)
        finite = [level for level in levels[1:] if math.isfinite(level)]
        if len(finite) > 1:
            shifted = (lambda i, sigma, state, x0_hat: on_step(1 + i, sigma, state, x0)) if on_step else None
            x = solver(denoiser, x, torch.tensor(finite, dtype=torch.float64), None, shifted, **options)
        if len(finite) < len(levels) - 1:
            x = invert_step(solver, denoiser, x, finite[-1], math.inf, 0, **options)
            if on_step:
                on_step(len(finite), math.inf, x, x0)
        return x
    for i, (sigma, sigma_up) in enumerate(zip(levels, levels[1:])):
        x = invert_step(solver, denoiser, x, sigma, sigma_up, iterations, **options)
        if on_step:
            on_step(i, sigma_up, x, x0)
    return x
