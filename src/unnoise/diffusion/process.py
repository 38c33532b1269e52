"""The forward process and its posterior, written as the equations of DDPM.

Coefficients arrive as per-sample tensors of shape (B,) (gathered from a NoiseSchedule by the
caller), so the same functions serve the full chain and any respaced subsequence of it.
"""

from __future__ import annotations

import torch


def broadcast_to_image(coefficient: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1) in x's dtype, so per-sample coefficients scale whole images."""
    return coefficient.to(device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))


def q_sample(x0: torch.Tensor, alpha_bar_t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,  i.e. a draw from q(x_t | x_0)."""
    return broadcast_to_image(alpha_bar_t.sqrt(), x0) * x0 + broadcast_to_image((1 - alpha_bar_t).sqrt(), x0) * noise


def predict_x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    return (x_t - broadcast_to_image((1 - alpha_bar_t).sqrt(), x_t) * eps) / broadcast_to_image(alpha_bar_t.sqrt(), x_t)


def predict_eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
    return (x_t - broadcast_to_image(alpha_bar_t.sqrt(), x_t) * x0) / broadcast_to_image((1 - alpha_bar_t).sqrt(), x_t)


def q_posterior(
    x0: torch.Tensor, x_t: torch.Tensor, alpha_bar_t: torch.Tensor, alpha_bar_s: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """q(x_s | x_t, x_0) = N(mu, beta_tilde I) for s < t  (DDPM eq. 6-7, with alpha_t = alpha_bar_t / alpha_bar_s).

    mu = sqrt(alpha_bar_s) beta / (1 - alpha_bar_t) x_0 + sqrt(alpha) (1 - alpha_bar_s) / (1 - alpha_bar_t) x_t,
    beta_tilde = (1 - alpha_bar_s) / (1 - alpha_bar_t) beta,  where alpha = alpha_bar_t / alpha_bar_s, beta = 1 - alpha.
    With s = t - 1 this is the paper's posterior; with s further back it is the respaced chain.
    Returns the mean (shaped like x_t) and the variance (B,).
    """
    alpha = alpha_bar_t / alpha_bar_s
    beta = 1 - alpha
    x0_coefficient = alpha_bar_s.sqrt() * beta / (1 - alpha_bar_t)
    x_t_coefficient = alpha.sqrt() * (1 - alpha_bar_s) / (1 - alpha_bar_t)
    mean = broadcast_to_image(x0_coefficient, x_t) * x0 + broadcast_to_image(x_t_coefficient, x_t) * x_t
    variance = (1 - alpha_bar_s) / (1 - alpha_bar_t) * beta
    return mean, variance
