"""A DCGAN-style generator and a spectrally normalised discriminator (Radford et al. 2016; Miyato et al. 2018).

One of the two baselines diffusion replaced; the hinge losses it is trained with live in train/baseline_losses.py.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class Generator(nn.Module):
    """z -> linear -> the smallest square at the widest width, then (upsample, 3x3 conv, BatchNorm, ReLU) per level,
    tanh.
    """

    def __init__(self, image_size: int, image_channels: int, widths: list[int], latent_dim: int):
        super().__init__()
        side = image_size // 2 ** (len(widths) - 1)
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, widths[-1] * side * side),
            nn.Unflatten(1, (widths[-1], side, side)),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(),
        ]
        for here, above in zip(reversed(widths), list(reversed(widths))[1:]):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(here, above, 3, padding=1),
                nn.BatchNorm2d(above),
                nn.ReLU(),
            ]
        layers += [nn.Conv2d(widths[0], image_channels, 3, padding=1), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class Discriminator(nn.Module):
    """Spectrally normalised convolutions (3x3, then 4x4 stride 2 per level), LeakyReLU, a linear score per image."""

    def __init__(self, image_size: int, image_channels: int, widths: list[int]):
        super().__init__()
        side = image_size // 2 ** (len(widths) - 1)
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(image_channels, widths[0], 3, padding=1)), nn.LeakyReLU(0.1)]
        for here, below in zip(widths, widths[1:]):
            layers += [
                spectral_norm(nn.Conv2d(here, below, 4, stride=2, padding=1)),
                nn.LeakyReLU(0.1),
                spectral_norm(nn.Conv2d(below, below, 3, padding=1)),
                nn.LeakyReLU(0.1),
            ]
        layers += [nn.Flatten(), spectral_norm(nn.Linear(widths[-1] * side * side, 1))]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One real-valued score per image, (B,): high means "looks real"."""
        return self.layers(x).squeeze(1)


class GAN(nn.Module):
    """The two players in one module, so that one checkpoint and one EMA hold both; sampling uses the generator."""

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
        self.generator = Generator(image_size, image_channels, widths, latent_dim)
        self.discriminator = Discriminator(image_size, image_channels, widths)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] from prior draws z ~ N(0, I)."""
        return self.generator(z)
