"""EDM (Karras et al. 2022) as an objective: log-normal noise levels, the preconditioned network, Heun on rho = 7."""

from __future__ import annotations

import torch
from torch import nn

from ..diffusion.denoiser import TIME_SCALE, EDMDenoiser
from ..diffusion.edm import c_in, c_noise, network_target, perturb, training_sigma
from ..diffusion.grids import karras_grid
from ..errors import check
from .denoising import DenoisingObjective

# Noise levels of the forward-process picture, from the image to sigma_max's pure noise.
PICTURE_SIGMAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.5, 80.0)


class EDMObjective(DenoisingObjective):
    spacings = ("karras",)
    default_sampler, default_steps = "heun", 18  # the paper's 35 NFE

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        """sigma = exp(P_mean + P_std n) and eps ~ N(0, I) for each image."""
        d = self.config.diffusion
        sigma = training_sigma(torch.randn(count, generator=generator, device=device), d.p_mean, d.p_std)
        noise = torch.randn((count, *self.image_shape), generator=generator, device=device)
        return {"sigma": sigma, "noise": noise}

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        """mean lambda(sigma) ||D(x_0 + sigma eps; sigma) - x_0||^2, computed as ||F - F_target||^2 (EDM eq. 2, 8)."""
        d, sigma, noise = self.config.diffusion, draws["sigma"], draws["noise"]
        x = c_in(sigma, d.sigma_data).reshape(-1, 1, 1, 1) * perturb(x0, noise, sigma)
        target = network_target(x0, noise, sigma, d.sigma_data)
        return self.regression_loss(network, condition, x, TIME_SCALE * c_noise(sigma), target)

    def denoiser_for(self, network) -> EDMDenoiser:
        return EDMDenoiser(network, self.config.diffusion.sigma_data)

    def levels(self, steps: int | None, spacing: str, rho: float) -> torch.Tensor:
        d = self.config.diffusion
        steps = self.default_steps if steps is None else steps
        check(steps >= 1, f"steps must be at least 1, got {steps}", "steps")
        return karras_grid(d.sigma_min, d.sigma_max, steps, rho)

    def forward_process(self, x0, noise, levels=None):
        """x = x_0 + sigma eps at noise levels `levels` >= 0 (default PICTURE_SIGMAS), labelled sigma=; shown divided
        by sqrt(1 + sigma^2), as the solvers hold it, since x_0 + 80 eps would only show clipped noise."""
        sigmas = list(PICTURE_SIGMAS if levels is None else levels)
        check(all(sigma >= 0 for sigma in sigmas), f"EDM noise levels sigma are >= 0, got {sigmas}", "timesteps")
        sigma = torch.tensor(sigmas, dtype=x0.dtype)
        x = perturb(x0.expand(len(sigmas), -1, -1, -1), noise.expand(len(sigmas), -1, -1, -1), sigma)
        return x / torch.sqrt(1 + sigma**2).reshape(-1, 1, 1, 1), [f"sigma={value:g}" for value in sigmas]
