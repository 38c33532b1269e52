"""The DDPM U-Net: residual blocks told the timestep, self-attention at chosen resolutions, skips across."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Downsample, ResidualBlock, SelfAttention, TimestepEmbedding, Upsample, group_norm, zero_init


class ResidualAttentionLayer(nn.Module):
    """One residual block, followed by self-attention when the layer sits at an attention resolution."""

    def __init__(self, in_channels: int, out_channels: int, embedding_channels: int, dropout: float, attention_heads: int | None):
        super().__init__()
        self.block = ResidualBlock(in_channels, out_channels, embedding_channels, dropout)
        self.attention = SelfAttention(out_channels, attention_heads) if attention_heads else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.attention(self.block(x, embedding))


class UNet(nn.Module):
    """eps_theta(x_t, t): maps a noisy batch (B, C, H, W) and timesteps (B,) to a tensor of the same shape.

    Widths are base_channels * channel_mult[level]; each level has blocks_per_level residual layers on
    the way down and one more on the way up (it also takes the skip from the downsampling step).
    """

    def __init__(
        self,
        image_size: int,
        image_channels: int = 3,
        base_channels: int = 128,
        channel_mult: tuple[int, ...] = (1, 2, 2, 2),
        blocks_per_level: int = 2,
        attention_resolutions: tuple[int, ...] = (16,),
        attention_heads: int = 1,
        dropout: float = 0.1,
    ):
        super().__init__()
        embedding_channels = 4 * base_channels
        self.time_embedding = TimestepEmbedding(base_channels, embedding_channels)
        self.input_conv = nn.Conv2d(image_channels, base_channels, 3, padding=1)

        def layer(in_channels: int, out_channels: int, resolution: int) -> ResidualAttentionLayer:
            heads = attention_heads if resolution in attention_resolutions else None
            return ResidualAttentionLayer(in_channels, out_channels, embedding_channels, dropout, heads)

        self.down = nn.ModuleList()
        skip_channels = [base_channels]
        channels, resolution = base_channels, image_size
        for level, mult in enumerate(channel_mult):
            for _ in range(blocks_per_level):
                self.down.append(layer(channels, base_channels * mult, resolution))
                channels = base_channels * mult
                skip_channels.append(channels)
            if level != len(channel_mult) - 1:
                self.down.append(Downsample(channels))
                skip_channels.append(channels)
                resolution //= 2

        self.middle = nn.ModuleList([layer(channels, channels, -1), SelfAttention(channels, attention_heads), layer(channels, channels, -1)])

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for _ in range(blocks_per_level + 1):
                self.up.append(layer(channels + skip_channels.pop(), base_channels * mult, resolution))
                channels = base_channels * mult
            if level != 0:
                self.up.append(Upsample(channels))
                resolution *= 2

        self.output_norm = group_norm(channels)
        self.output_conv = zero_init(nn.Conv2d(channels, image_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        embedding = self.time_embedding(t)  # (B, 4 * base_channels)
        h = self.input_conv(x)
        skips = [h]
        for layer in self.down:
            h = layer(h) if isinstance(layer, Downsample) else layer(h, embedding)
            skips.append(h)
        h = self.middle[0](h, embedding)
        h = self.middle[1](h)
        h = self.middle[2](h, embedding)
        for layer in self.up:
            h = layer(h) if isinstance(layer, Upsample) else layer(torch.cat([h, skips.pop()], dim=1), embedding)
        return self.output_conv(F.silu(self.output_norm(h)))
