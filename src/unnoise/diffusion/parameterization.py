"""What the network predicts: the noise eps (DDPM), the clean image x_0, or the velocity v (Salimans & Ho 2022).

Whatever it predicts, samplers need the pair (eps, x_0); these functions convert exactly, given x_t
and alpha_bar_t, using x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps.
"""

from __future__ import annotations

import torch

from ..errors import UserError
from .process import coefficient, predict_eps_from_x0, predict_x0_from_eps

PREDICTIONS = ("eps", "x0", "v")


def velocity(x0: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor | float) -> torch.Tensor:
    """v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0."""
    return coefficient(alpha_bar_t**0.5, x0) * eps - coefficient((1 - alpha_bar_t) ** 0.5, x0) * x0


def predict_x0_from_v(x_t: torch.Tensor, v: torch.Tensor, alpha_bar_t: torch.Tensor | float) -> torch.Tensor:
    """x_0 = sqrt(alpha_bar_t) x_t - sqrt(1 - alpha_bar_t) v."""
    return coefficient(alpha_bar_t**0.5, x_t) * x_t - coefficient((1 - alpha_bar_t) ** 0.5, x_t) * v


def predict_eps_from_v(x_t: torch.Tensor, v: torch.Tensor, alpha_bar_t: torch.Tensor | float) -> torch.Tensor:
    """eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v."""
    return coefficient((1 - alpha_bar_t) ** 0.5, x_t) * x_t + coefficient(alpha_bar_t**0.5, x_t) * v


def training_target(
    prediction: str, x0: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor | float
) -> torch.Tensor:
    """What the network should output for this (x_0, eps, t)."""
    check_prediction(prediction)
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    return velocity(x0, eps, alpha_bar_t)


def eps_and_x0(
    prediction: str, output: torch.Tensor, x_t: torch.Tensor, alpha_bar_t: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's output read as `prediction`, converted to (eps, x_0)."""
    check_prediction(prediction)
    if prediction == "eps":
        return output, predict_x0_from_eps(x_t, output, alpha_bar_t)
    if prediction == "x0":
        return predict_eps_from_x0(x_t, output, alpha_bar_t), output
    return predict_eps_from_v(x_t, output, alpha_bar_t), predict_x0_from_v(x_t, output, alpha_bar_t)


def check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise UserError(f"unknown prediction target {prediction!r}; choose one of {', '.join(PREDICTIONS)}")
