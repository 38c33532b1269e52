"""The toy U-Net of the article the project grew from: plain conv blocks, the time embedding added per block.

Kept so that the DDPM U-Net (unet.py) can be compared with it on equal terms. Its shape follows the
article: BatchNorm and ReLU, strided 4x4 convolutions down, transposed ones up, no attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import sinusoidal_embedding

TIME_EMBEDDING_CHANNELS = 32  # the article's choice


class ToyBlock(nn.Module):
    """conv-ReLU-BN, add the time embedding, conv-ReLU-BN, then halve (down) or double (up) the resolution."""

    def __init__(self, in_channels: int, out_channels: int, up: bool):
        super().__init__()
        # Up blocks see the skip concatenated to their input, hence twice the channels.
        self.conv1 = nn.Conv2d(2 * in_channels if up else in_channels, out_channels, 3, padding=1)
        self.time_projection = nn.Linear(TIME_EMBEDDING_CHANNELS, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.norm2 = nn.BatchNorm2d(out_channels)
        resample = nn.ConvTranspose2d if up else nn.Conv2d
        self.resample = resample(out_channels, out_channels, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.norm1(F.relu(self.conv1(x)))
        h = h + F.relu(self.time_projection(embedding))[:, :, None, None]
        h = self.norm2(F.relu(self.conv2(h)))
        return self.resample(h)


class ToyUNet(nn.Module):
    """The article's SimpleUnet with widths base_channels * channel_mult (the article: 64 * (1, 2, 4, 8, 16))."""

    def __init__(
        self, image_channels: int = 3, base_channels: int = 64, channel_mult: tuple[int, ...] = (1, 2, 4, 8, 16)
    ):
        super().__init__()
        widths = [base_channels * mult for mult in channel_mult]
        self.time_mlp = nn.Sequential(nn.Linear(TIME_EMBEDDING_CHANNELS, TIME_EMBEDDING_CHANNELS), nn.ReLU())
        self.input_conv = nn.Conv2d(image_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(ToyBlock(widths[i], widths[i + 1], up=False) for i in range(len(widths) - 1))
        self.up = nn.ModuleList(ToyBlock(widths[i], widths[i - 1], up=True) for i in range(len(widths) - 1, 0, -1))
        self.output_conv = nn.Conv2d(widths[0], image_channels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        embedding = self.time_mlp(sinusoidal_embedding(t, TIME_EMBEDDING_CHANNELS))
        h = self.input_conv(x)
        skips = []
        for block in self.down:
            h = block(h, embedding)
            skips.append(h)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), embedding)
        return self.output_conv(h)
