"""The training objective: a regression of the network onto eps, x_0 or v, uniformly, min-SNR or uncertainty
weighted."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UserError
from .parameterization import training_target
from .process import q_sample

LOSS_NAMES = ("l2", "l1", "huber")
# uniform and min_snr weigh DDPM's loss; uncertainty (a learned weight per noise level) the EDM and flow losses.
WEIGHTINGS = ("uniform", "min_snr", "uncertainty")


def prediction_loss(predicted: torch.Tensor, target: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Per-sample loss (B,): mean over pixels of (d^2 | |d| | smooth-L1 with delta 1), d = prediction - target."""
    if kind == "l2":
        elementwise = F.mse_loss(predicted, target, reduction="none")
    elif kind == "l1":
        elementwise = F.l1_loss(predicted, target, reduction="none")
    elif kind == "huber":
        elementwise = F.smooth_l1_loss(predicted, target, reduction="none", beta=1.0)
    else:
        raise UserError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_NAMES)}")
    return elementwise.flatten(1).mean(dim=1)


def uncertainty_weighted_loss(per_sample: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """mean_i L_i / e^(u_i) + u_i: each sample's loss L_i (B,) weighed by the learned log-variance u_i (B,) of its noise
    level  (EDM2, Karras et al. 2024, eq. 21). Minimised over u at u = ln E[L | noise level], it evens out how much
    each noise level contributes."""
    log_variance = log_variance.to(per_sample.dtype)
    return (per_sample / log_variance.exp() + log_variance).mean()


def min_snr_weight(snr: torch.Tensor, gamma: float, prediction: str) -> torch.Tensor:
    """w_t = min(SNR_t, gamma) / SNR_t for eps, min(SNR_t, gamma) for x_0, min(SNR_t, gamma) / (SNR_t + 1) for v   (Hang
    et al. 2023).

    Each is min(SNR, gamma) in x_0-space, rewritten for the space the network's loss lives in.
    """
    clipped = snr.clamp(max=gamma)
    if prediction == "eps":
        return clipped / snr
    if prediction == "x0":
        return clipped
    return clipped / (snr + 1)


def denoising_loss(
    network,
    alpha_bar: torch.Tensor,
    x0: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    kind: str = "l2",
    prediction: str = "eps",
    weighting: str = "uniform",
    min_snr_gamma: float = 5.0,
) -> torch.Tensor:
    """mean_i w_t loss(target_i, network(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)), with t ~ U{1..T}, eps ~
    N(0, I) drawn by the caller  (DDPM Alg. 1).

    With prediction eps, weighting uniform and kind l2 this is DDPM's L_simple.
    """
    alpha_bar_t = alpha_bar[t]
    x_t = q_sample(x0, alpha_bar_t, noise)
    per_sample = prediction_loss(network(x_t, t), training_target(prediction, x0, noise, alpha_bar_t), kind)
    if weighting == "min_snr":
        per_sample = per_sample * min_snr_weight(alpha_bar_t / (1 - alpha_bar_t), min_snr_gamma, prediction).to(
            per_sample.dtype
        )
    elif weighting != "uniform":
        raise UserError(f"unknown loss weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
    return per_sample.mean()
