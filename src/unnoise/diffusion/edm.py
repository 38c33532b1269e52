"""EDM (Karras et al. 2022): D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) on x = x_0 + sigma eps (eq. 7).

Each coefficient is one function named after it (Table 1, "Preconditioning"); sigma is a tensor (B,) or a 0-dim tensor.
"""

from __future__ import annotations

import torch

from .process import coefficient

SIGMA_DATA = 0.5  # sigma_d: the standard deviation of the data (images in [-1, 1])
P_MEAN, P_STD = -1.2, 1.2  # ln(sigma) ~ N(P_mean, P_std^2) in training
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # the sampling grid


def perturb(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """x = x_0 + sigma eps: the data at noise level sigma (EDM eq. 1's marginal, the variance-exploding form)."""
    return x0 + coefficient(sigma, x0) * noise


def c_skip(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """c_skip = sigma_d^2 / (sigma^2 + sigma_d^2)."""
    return sigma_data**2 / (sigma**2 + sigma_data**2)


def c_out(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """c_out = sigma sigma_d / sqrt(sigma^2 + sigma_d^2)."""
    return sigma * sigma_data / (sigma**2 + sigma_data**2).sqrt()


def c_in(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """c_in = 1 / sqrt(sigma^2 + sigma_d^2)."""
    return 1 / (sigma**2 + sigma_data**2).sqrt()


def c_noise(sigma: torch.Tensor) -> torch.Tensor:
    """c_noise = ln(sigma) / 4."""
    return sigma.log() / 4


def loss_weight(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def training_sigma(normal: torch.Tensor, p_mean: float = P_MEAN, p_std: float = P_STD) -> torch.Tensor:
    """sigma = exp(P_mean + P_std n), n ~ N(0, 1): the log-normal noise levels of training."""
    return (p_mean + p_std * normal).exp()


def network_target(
    x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor, sigma_data: float = SIGMA_DATA
) -> torch.Tensor:
    """F_target = (x_0 - c_skip (x_0 + sigma eps)) / c_out: the output that makes D exact (EDM eq. 8).

    Since lambda(sigma) c_out(sigma)^2 = 1, the weighted loss lambda ||D - x_0||^2 equals ||F - F_target||^2.
    """
    skip, out = (
        coefficient.reshape(-1, 1, 1, 1) for coefficient in (c_skip(sigma, sigma_data), c_out(sigma, sigma_data))
    )
    return (x0 - skip * (x0 + sigma.reshape(-1, 1, 1, 1) * noise)) / out
