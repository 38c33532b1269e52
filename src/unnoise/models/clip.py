"""CLIP (Radford et al. 2021): an image tower and a text tower that map into one d-dimensional unit sphere.

The image tower is a small residual CNN; the text tower reads the frozen MiniLM encoder's output (unnoise.text),
either its pooled sentence vector through an MLP (text_layers = 0) or its tokens through a few trained transformer
layers, mean-pooled over the real tokens (text_layers >= 1). Both end in a linear projection and L2 normalisation.
The temperature is learned as log(1 / tau), initialised to log(1 / 0.07) and capped at log(100), as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import TEXT_CHANNELS, Condition
from .layers import group_norm

INITIAL_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = math.log(100.0)


class ResidualConvBlock(nn.Module):
    """x + conv(SiLU(norm(conv(SiLU(norm(x)))))), with a 1x1 projection where the width changes."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            group_norm(in_channels),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            group_norm(out_channels),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class ImageTower(nn.Module):
    """Images (B, 3, H, W) in [-1, 1] -> unit embeddings (B, d): one residual block per level, halving between levels,
    then global average pooling and a linear projection."""

    def __init__(self, base_channels: int, channel_mult: tuple[int, ...], embedding_dim: int, image_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(image_channels, base_channels, 3, padding=1)]
        channels = base_channels
        for level, mult in enumerate(channel_mult):
            layers.append(ResidualConvBlock(channels, base_channels * mult))
            channels = base_channels * mult
            if level != len(channel_mult) - 1:
                layers.append(nn.AvgPool2d(2))
        layers += [group_norm(channels), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.projection = nn.Linear(channels, embedding_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(self.features(images)), dim=-1)


class TextTower(nn.Module):
    """The frozen text encoder's output (a Condition's tokens, token_mask and pooled) -> unit embeddings (B, d)."""

    def __init__(self, embedding_dim: int, layers: int = 0, width: int = 256, text_channels: int = TEXT_CHANNELS):
        super().__init__()
        self.layers = layers
        if layers == 0:
            self.head = nn.Sequential(nn.Linear(text_channels, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        else:
            self.input = nn.Sequential(nn.LayerNorm(text_channels), nn.Linear(text_channels, width))
            layer = nn.TransformerEncoderLayer(
                width, nhead=max(1, width // 64), dim_feedforward=2 * width, dropout=0.0, batch_first=True,
                norm_first=True,
            )  # fmt: skip
            self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.head = nn.LayerNorm(width)
        self.projection = nn.Linear(width, embedding_dim)

    def forward(self, condition: Condition) -> torch.Tensor:
        if self.layers == 0:
            features = self.head(condition.pooled.float())
        else:
            mask = condition.token_mask
            hidden = self.transformer(self.input(condition.tokens.float()), src_key_padding_mask=~mask)
            weights = mask.to(hidden.dtype).unsqueeze(-1)
            features = self.head((hidden * weights).sum(1) / weights.sum(1).clamp(min=1))
        return F.normalize(self.projection(features), dim=-1)


class CLIP(nn.Module):
    """The two towers and the learned temperature. forward(images, text) -> (image (B, d), text (B, d), logit scale)."""

    def __init__(
        self, base_channels: int, channel_mult: tuple[int, ...], embedding_dim: int = 64, text_layers: int = 0
    ):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.image = ImageTower(base_channels, channel_mult, embedding_dim)
        self.text = TextTower(embedding_dim, text_layers)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / INITIAL_TEMPERATURE)))

    def logit_scale(self) -> torch.Tensor:
        """1 / tau = exp(log scale), capped at 100 (Radford et al. 2021, 2.5)."""
        return self.log_logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image(images)

    def encode_text(self, text: Condition) -> torch.Tensor:
        return self.text(text)

    def forward(self, images: torch.Tensor, text: Condition) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.encode_image(images), self.encode_text(text), self.logit_scale()
