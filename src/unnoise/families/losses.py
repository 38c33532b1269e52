"""The objectives of the baselines: the VAE's ELBO and the GAN's hinge losses, one function per equation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def kl_to_standard_normal(mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2), per row."""
    return 0.5 * (mu.square() + log_variance.exp() - 1 - log_variance).flatten(1).sum(dim=1)


def gaussian_nll_optimal_sigma(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, sigma*^2 I) = 1/2 (||x - mean||^2 / sigma*^2 + D log(2 pi sigma*^2)), per image, sigma*^2 = batch
    MSE.

    The decoder variance set to its maximum-likelihood value (Rybkin et al. 2021, "optimal sigma-VAE") makes the
    ELBO balance reconstruction against KL by itself, instead of by a hand-tuned weight on an MSE.
    """
    squared_errors = (x - mean).float().square().flatten(1).sum(dim=1)
    dimensions = x[0].numel()
    sigma_squared = (squared_errors.mean() / dimensions).clamp(min=1e-6)
    return 0.5 * (squared_errors / sigma_squared + dimensions * torch.log(2 * math.pi * sigma_squared))


def negative_elbo(
    x: torch.Tensor, mean: torch.Tensor, mu: torch.Tensor, log_variance: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """-ELBO = -E_q[log p(x|z)] + beta KL(q(z|x) || p(z)), per image, in nats (one-sample estimate of the first)."""
    return gaussian_nll_optimal_sigma(x, mean) + beta * kl_to_standard_normal(mu.float(), log_variance.float())


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real_scores.float()).mean() + F.relu(1 + fake_scores.float()).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_G = -E[D(G(z))]."""
    return -fake_scores.float().mean()


MASKED_LOGIT = -1e4  # far below any s cos (|s| <= 100): its exp is 0 in float32


def symmetric_info_nce(
    image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """(CE(s I T^T, diag) + CE(s T I^T, diag)) / 2 over a batch of pairs (B, d) x (B, d), unit rows, s = 1 / tau:
    each image told its own caption among the batch's, and each caption its image  (Radford et al. 2021, Fig. 3).

    keep (B,) bool: only those pairs count, as if the others were not in the batch (0 when fewer than two are kept).
    They leave the softmax by a masked logit and the mean by a zero weight, so no count ever waits for the device.
    """
    logits = logit_scale * image.float() @ text.float().T  # (B, B): row i, column j = image i against caption j
    labels = torch.arange(image.shape[0], device=image.device)
    if keep is None:
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    logits = logits.masked_fill(~(keep[:, None] & keep[None, :]), MASKED_LOGIT)
    rows = F.cross_entropy(logits, labels, reduction="none") + F.cross_entropy(logits.T, labels, reduction="none")
    weights = keep.float()
    return (rows * weights).sum() / (2 * weights.sum().clamp(min=1))
