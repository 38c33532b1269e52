"""Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023): straight paths from data to noise.

x_t = (1 - t) x_0 + t eps for t in [0, 1]; the network predicts the velocity v = dx_t/dt = eps - x_0. In the
noise-to-signal terms of the solvers, sigma = t / (1 - t): t = 1 is pure noise (sigma = inf).
"""

from __future__ import annotations

import math

import torch

from .process import coefficient


def flow_interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """x_t = (1 - t) x_0 + t eps."""
    return coefficient(1 - t, x0) * x0 + coefficient(t, x0) * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """v = eps - x_0, the constant velocity of the straight path."""
    return noise - x0


def x0_from_velocity(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """x_0 = x_t - t v."""
    return x_t - coefficient(t, x_t) * v


def time_of_sigma(sigma: float) -> float:
    """t = sigma / (1 + sigma); 1 at sigma = inf."""
    return sigma / (1 + sigma) if math.isfinite(sigma) else 1.0


def sigma_of_time(t: torch.Tensor) -> torch.Tensor:
    """sigma = t / (1 - t); inf at t = 1."""
    return t / (1 - t)


def logit_normal_time(normal: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """t = sigmoid(m + s n), n ~ N(0, 1): training times concentrated mid-path (Esser et al. 2024, SD3)."""
    return torch.sigmoid(mean + std * normal)


def uniform_time_grid(steps: int) -> torch.Tensor:
    """sigma(t) for t = 1, 1 - 1/K, ..., 0: K equal steps in t, from pure noise (sigma = inf) to the data."""
    return sigma_of_time(torch.linspace(1, 0, steps + 1, dtype=torch.float64))
