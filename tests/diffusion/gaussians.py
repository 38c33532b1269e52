"""The exact denoiser of Gaussian data, in noise levels sigma: what every solver and editing tool is checked against."""

import torch

from unnoise.diffusion.denoiser import alpha_bar_of_sigma


class GaussianDenoiser:
    """D(x; sigma) = E[x_0 | x] = mu + alpha Sigma (alpha^2 Sigma + s^2 I)^-1 (x - alpha mu) for x_0 ~ N(mu, Sigma)
    over the flattened image and x = alpha x_0 + s eps (alpha^2 = 1 / (1 + sigma^2), s^2 = 1 - alpha^2).

    Any sigma works, 0 (D = x) and inf (D = mu) included; `evaluations` counts calls as a network's would be.
    """

    def __init__(self, mean: torch.Tensor, covariance: torch.Tensor):
        self.mean, self.covariance = mean.double(), covariance.double()
        self.evaluations = 0

    @classmethod
    def isotropic(cls, dimension: int, mean: float = 0.3, std: float = 0.2) -> "GaussianDenoiser":
        return cls(torch.full((dimension,), mean), std**2 * torch.eye(dimension))

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        self.evaluations += 1
        alpha_bar = alpha_bar_of_sigma(sigma)
        alpha = alpha_bar**0.5
        precision = alpha_bar * self.covariance + (1 - alpha_bar) * torch.eye(len(self.mean), dtype=torch.float64)
        gain = alpha * self.covariance @ torch.linalg.inv(precision)  # (D, D)
        flat = x.flatten(1).double()
        return (self.mean + (flat - alpha * self.mean) @ gain.T).reshape(x.shape).to(x.dtype)

    def sample(self, count: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
        """count draws of the data (count, *shape), float64."""
        normal = torch.randn(count, len(self.mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return (self.mean + normal @ torch.linalg.cholesky(self.covariance).T).reshape(count, *shape)


def correlated(dimension: int = 4, seed: int = 0) -> GaussianDenoiser:
    """A Gaussian with strongly correlated pixels (so that the known ones tell something about the unknown ones)."""
    generator = torch.Generator().manual_seed(seed)
    factor = torch.randn(dimension, dimension, generator=generator, dtype=torch.float64) * 0.3
    covariance = factor @ factor.T + 0.01 * torch.eye(dimension, dtype=torch.float64)
    return GaussianDenoiser(torch.linspace(-0.3, 0.3, dimension, dtype=torch.float64), covariance)
