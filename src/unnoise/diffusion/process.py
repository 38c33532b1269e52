"""The forward process and its posterior, written as the equations of DDPM.

Coefficients arrive as per-sample tensors of shape (B,) (gathered from a NoiseSchedule by the
caller) or as one number for the whole batch (a sampler's step), so the same functions serve
training, the full chain and any grid of noise levels. `coefficient` shapes them once at entry.
"""

from __future__ import annotations

import torch


def coefficient(value: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor | float:
    """A schedule coefficient ready to scale images like x: (B,) -> (B, 1, 1, 1) in x's dtype and device; a number
    (or a 0-dim CPU tensor) stays a Python number, so a sampler's step never copies to the device or waits for it."""
    if isinstance(value, (int, float)):
        return float(value)
    if value.dim() == 0 and value.device.type == "cpu":
        return value.item()
    return value.to(device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def q_sample(x0: torch.Tensor, alpha_bar_t: torch.Tensor | float, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,  i.e. a draw from q(x_t | x_0)."""
    return coefficient(alpha_bar_t**0.5, x0) * x0 + coefficient((1 - alpha_bar_t) ** 0.5, x0) * noise


def predict_x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor | float) -> torch.Tensor:
    """x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    return (x_t - coefficient((1 - alpha_bar_t) ** 0.5, x_t) * eps) / coefficient(alpha_bar_t**0.5, x_t)


def predict_eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, alpha_bar_t: torch.Tensor | float) -> torch.Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
    return (x_t - coefficient(alpha_bar_t**0.5, x_t) * x0) / coefficient((1 - alpha_bar_t) ** 0.5, x_t)


def q_posterior(
    x0: torch.Tensor, x_t: torch.Tensor, alpha_bar_t: torch.Tensor | float, alpha_bar_s: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor | float]:
    """q(x_s | x_t, x_0) = N(mu, beta_tilde I) for s < t  (DDPM eq. 6-7, with alpha_t = alpha_bar_t / alpha_bar_s).

    mu = sqrt(alpha_bar_s) beta / (1 - alpha_bar_t) x_0 + sqrt(alpha) (1 - alpha_bar_s) / (1 - alpha_bar_t) x_t,
    beta_tilde = (1 - alpha_bar_s) / (1 - alpha_bar_t) beta,  where alpha = alpha_bar_t / alpha_bar_s, beta = 1 - alpha.
    With s = t - 1 this is the paper's posterior; with s further back it is the respaced chain.
    Returns the mean (shaped like x_t) and the variance (B,) (a number for numbers).
    """
    alpha = alpha_bar_t / alpha_bar_s
    beta = 1 - alpha
    x0_coefficient = alpha_bar_s**0.5 * beta / (1 - alpha_bar_t)
    x_t_coefficient = alpha**0.5 * (1 - alpha_bar_s) / (1 - alpha_bar_t)
    mean = coefficient(x0_coefficient, x_t) * x0 + coefficient(x_t_coefficient, x_t) * x_t
    return mean, (1 - alpha_bar_s) / (1 - alpha_bar_t) * beta
