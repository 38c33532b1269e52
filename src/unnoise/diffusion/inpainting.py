"""Inpainting with an unconditionally trained denoiser: RePaint (Lugmayr et al. 2022), on any solver and grid.

Every step down, the known pixels are replaced by the input noised to the new level (eq. 8), and the unknown ones
come from the solver's step; a jump goes back up `jump_length` levels through the forward process, `resample`
times per stretch of the grid, so the two parts are harmonised before the chain moves on (sec. 4.2). Each step
down is the solver on the two-level grid [sigma_i, sigma_{i+1}], so every solver inpaints; multistep solvers
(DPM-Solver++(2M)) therefore take first-order steps. At the last level, sigma = 0, the known pixels are the input
itself, exactly.
"""

from __future__ import annotations

from typing import Callable

import torch

from .denoiser import DenoiserLike, alpha_bar_of_sigma
from .process import q_sample
from .samplers import NoiseSampler, StepCallback

DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE = 10, 10  # the paper's j = 10, r = 10


def repaint_schedule(steps: int, jump_length: int, resample: int) -> list[int]:
    """Grid indices the chain visits, from 0 (the noisiest level) to `steps` (the data).

    At indices steps - 1, steps - 1 - j, steps - 1 - 2j, ... (those at least j from the start) the chain jumps back
    j levels, r - 1 times, so those stretches are walked r times, the one next to the data included (RePaint's
    get_schedule_jump, its jumps made in one move); resample = 1 is the plain chain.
    """
    jumps = {index: resample - 1 for index in range(steps - 1, jump_length - 1, -jump_length)}
    path, index = [0], 0
    while index < steps:
        index += 1
        path.append(index)
        if jumps.get(index, 0) > 0:
            jumps[index] -= 1
            index -= jump_length
            path.append(index)
    return path


def steps_down(steps: int, jump_length: int, resample: int) -> int:
    """Solver steps (the calls on_step sees) of a RePaint chain."""
    path = repaint_schedule(steps, jump_length, resample)
    return sum(1 for a, b in zip(path, path[1:]) if b > a)


def renoise(x: torch.Tensor, sigma: float, sigma_up: float, noise: torch.Tensor) -> torch.Tensor:
    """x_up = sqrt(ab_up / ab) x + sqrt(1 - ab_up / ab) z: a draw from q(x_up | x) for sigma_up > sigma (DDPM eq. 2)."""
    ratio = alpha_bar_of_sigma(sigma_up) / alpha_bar_of_sigma(sigma)
    return ratio**0.5 * x + (1 - ratio) ** 0.5 * noise


@torch.no_grad()
def sample_repaint(
    solver: Callable[..., torch.Tensor],
    denoiser: DenoiserLike,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    known: torch.Tensor,
    keep: torch.Tensor,
    noise: NoiseSampler,
    on_step: StepCallback | None = None,
    jump_length: int = DEFAULT_JUMP_LENGTH,
    resample: int = DEFAULT_RESAMPLE,
    **options,
) -> torch.Tensor:
    """x_{i+1} = keep * q_sample(known, sigma_{i+1}) + (1 - keep) * solver step from x_i  (Lugmayr et al. 2022, eq. 8).

    x: standard normal noise (B, C, H, W) at sigmas[0]; known: the input (B, C, H, W) in [-1, 1]; keep: bool (B, 1,
    H, W), True where the input is kept. noise(x) draws every fresh noise (per image). on_step(i, sigma, x, x0_hat)
    sees each step down, i counting them.
    """
    levels = sigmas.tolist()
    path = repaint_schedule(len(levels) - 1, jump_length, resample)
    step, predicted = 0, {}

    def remember(i: int, sigma: float, state: torch.Tensor, x0: torch.Tensor) -> None:
        predicted["x0"] = x0

    for index, next_index in zip(path, path[1:]):
        if next_index < index:
            x = renoise(x, levels[index], levels[next_index], noise(x))
            continue
        sigma_next = levels[next_index]
        x = solver(denoiser, x, sigmas[index : next_index + 1], noise, remember, **options)
        known_now = known if sigma_next == 0 else q_sample(known, alpha_bar_of_sigma(sigma_next), noise(x))
        x = torch.where(keep, known_now, x)
        if on_step:
            on_step(step, sigma_next, x, predicted["x0"])
        step += 1
    return x
