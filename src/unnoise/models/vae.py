"""A convolutional VAE (Kingma & Welling 2014): the encoder gives q(z|x) = N(mu, diag sigma^2), the decoder the mean of
p(x|z).

One of the two baselines diffusion replaced; the ELBO it is trained on lives in train/baseline_losses.py.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import group_norm


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """norm, SiLU, 3x3 convolution: the pre-activation unit both halves are made of."""
    return nn.Sequential(group_norm(in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1))


class ConvVAE(nn.Module):
    """Widths base_channels x channel_mult, halving the resolution between levels down to a small square, then a
    linear map to (mu, log sigma^2) of a latent_dim code; the decoder mirrors it with nearest upsampling."""

    def __init__(
        self,
        image_size: int,
        image_channels: int = 3,
        base_channels: int = 32,
        channel_mult: tuple[int, ...] = (1, 2, 2, 2),
        latent_dim: int = 128,
    ):
        super().__init__()
        widths = [base_channels * mult for mult in channel_mult]
        self.latent_dim = latent_dim
        side = image_size // 2 ** (len(widths) - 1)
        self.bottom = (widths[-1], side, side)
        flat = widths[-1] * side * side
        encoder: list[nn.Module] = [nn.Conv2d(image_channels, widths[0], 3, padding=1)]
        for here, below in zip(widths, widths[1:]):
            encoder += [
                conv_block(here, here),
                group_norm(here),
                nn.SiLU(),
                nn.Conv2d(here, below, 4, stride=2, padding=1),
            ]
        encoder += [group_norm(widths[-1]), nn.SiLU(), nn.Flatten(), nn.Linear(flat, 2 * latent_dim)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [nn.Linear(latent_dim, flat), nn.Unflatten(1, self.bottom)]
        for here, above in zip(reversed(widths), list(reversed(widths))[1:]):
            decoder += [conv_block(here, here), nn.Upsample(scale_factor=2, mode="nearest"), conv_block(here, above)]
        decoder += [conv_block(widths[0], widths[0]), conv_block(widths[0], image_channels)]
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of q(z|x), each (B, latent_dim)."""
        mu, log_variance = self.encoder(x).chunk(2, dim=1)
        return mu, log_variance.clamp(-30.0, 20.0)  # exp stays finite in any precision

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x|z), in the model's [-1, 1] image range."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction mean, mu, log sigma^2 for z = mu + sigma eps (the reparameterisation trick)."""
        mu, log_variance = self.encode(x)
        z = mu + torch.exp(0.5 * log_variance) * eps
        return self.decode(z), mu, log_variance

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images from prior draws z ~ N(0, I): the decoder's mean."""
        return self.decode(z)
