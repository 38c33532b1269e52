"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with k(x, y) = (x^T y / d + 1)^3, over subsets."""

from __future__ import annotations

import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x^T y / d + 1)^3 for every row pair: (m, d), (n, d) -> (m, n)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """MMD^2_u = sum_{i!=j} k(x_i, x_j) / m(m-1) + sum_{i!=j} k(y_i, y_j) / n(n-1) - 2 sum_{i,j} k(x_i, y_j) / mn."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * polynomial_kernel(x, y).mean())


def kernel_inception_distance(
    features1, features2, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0
) -> tuple[float, float | None]:
    """Mean and standard deviation of MMD^2_u over `subsets` random subsets of min(subset_size, n1, n2) rows each.

    The standard deviation is None where n1 = n2 <= subset_size: every subset is then both sets whole, so the
    estimates are one number and their spread (zero up to rounding) says nothing of the estimate's uncertainty.
    """
    x, y = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)  # (n1, d), (n2, d)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need features (n1, d) and (n2, d), got {x.shape} and {y.shape}")
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError(f"KID needs at least 2 feature rows on each side, got {x.shape[0]} and {y.shape[0]}")
    if size == x.shape[0] == y.shape[0]:
        return mmd2_unbiased(x, y), None  # every subset would be both sets whole: one estimate, no spread to measure
    generator = np.random.default_rng(seed)
    estimates = [
        mmd2_unbiased(
            x[generator.choice(x.shape[0], size, replace=False)], y[generator.choice(y.shape[0], size, replace=False)]
        )
        for _ in range(subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


def kid_std_text(std: float | None, scale: float = 1.0, decimals: int = 4) -> str:
    """KID's standard deviation (times scale) for a table or a log line: "n/a" where none could be measured."""
    return "n/a" if std is None else f"{scale * std:.{decimals}f}"
