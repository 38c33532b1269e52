"""Improved precision and recall for generative models (Kynkaenniemi et al. 2019), in Inception feature space.

Each set's manifold is the union of balls around its points, each ball reaching the point's k-th nearest
neighbour in the same set. Precision: the fraction of generated samples inside the real manifold (are they
realistic?). Recall: the fraction of real samples inside the generated manifold (is the data's variety covered?).
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_K = 3  # the paper's choice


def knn_radii(features: torch.Tensor, k: int = DEFAULT_K, chunk: int = 1024) -> torch.Tensor:
    """r_i = distance from point i to its k-th nearest other point of the same set."""
    radii = []
    for start in range(0, len(features), chunk):
        distances = torch.cdist(features[start : start + chunk], features)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # the first is the point itself, at distance 0
    return torch.cat(radii)


def manifold_coverage(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> float:
    """The fraction of queries q with ||q - p_i|| <= r_i for some point p_i of the manifold."""
    inside = []
    for start in range(0, len(queries), chunk):
        distances = torch.cdist(queries[start : start + chunk], points)
        inside.append((distances <= radii[None, :]).any(dim=1))
    return torch.cat(inside).float().mean().item()


def precision_recall(
    real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int = DEFAULT_K
) -> tuple[float, float]:
    """(precision, recall) of fake features (M, D) against real features (N, D); use M = N, as the paper does."""
    real, fake = (torch.as_tensor(np.asarray(x), dtype=torch.float64) for x in (real, fake))
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} samples in each set")
    precision = manifold_coverage(fake, real, knn_radii(real, k))
    recall = manifold_coverage(real, fake, knn_radii(fake, k))
    return precision, recall
