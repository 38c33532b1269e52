"""Building blocks of the U-Net: timestep embedding, residual block, self-attention, resampling."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """emb(t)_i = sin(t / P^(2i/d)) for the first half, cos(...) for the second   (Vaswani et al. 2017)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies[None, :]  # (B, half)
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        embedding = F.pad(embedding, (0, 1))
    return embedding  # (B, dim)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups at the widths of the DDPM network, fewer (>= 4 channels each) for narrow ones."""
    groups = math.gcd(channels, max(1, min(32, channels // 4)))
    return nn.GroupNorm(groups, channels)


def zero_init(module: nn.Module) -> nn.Module:
    """Start a residual branch's last layer at zero, so every block begins as the identity."""
    for parameter in module.parameters():
        nn.init.zeros_(parameter)
    return module


class TimestepEmbedding(nn.Module):
    """Sinusoidal features of t followed by a two-layer MLP, as in DDPM."""

    def __init__(self, base_channels: int, embedding_channels: int):
        super().__init__()
        self.base_channels = base_channels
        self.mlp = nn.Sequential(
            nn.Linear(base_channels, embedding_channels), nn.SiLU(), nn.Linear(embedding_channels, embedding_channels)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.base_channels))


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv, plus the projected timestep embedding, then GroupNorm-SiLU-dropout-conv; a skip around it.

    scale_shift: the embedding scales and shifts the second GroupNorm's output, h -> norm(h) (1 + s) + b, instead
    of being added before it (Dhariwal & Nichol 2021). A multiplicative path: conditions take hold sooner.
    """

    def __init__(
        self, in_channels: int, out_channels: int, embedding_channels: int, dropout: float, scale_shift: bool = False
    ):
        super().__init__()
        self.scale_shift = scale_shift
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embedding_projection = nn.Linear(embedding_channels, 2 * out_channels if scale_shift else out_channels)
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_init(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        projected = self.embedding_projection(F.silu(embedding))[:, :, None, None]
        if self.scale_shift:
            scale, shift = projected.chunk(2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h + projected)
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, through scaled_dot_product_attention."""

    def __init__(self, channels: int, heads: int = 1):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} attention heads")
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.projection = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        qkv = self.qkv(self.norm(x)).reshape(batch, 3, self.heads, channels // self.heads, height * width)
        q, k, v = qkv.transpose(-1, -2).unbind(dim=1)  # each (B, heads, HW, C/heads)
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = attended.transpose(-1, -2).reshape(batch, channels, height, width)
        return x + self.projection(attended)


class CrossAttention(nn.Module):
    """The pixels of a feature map attend to a sequence of context vectors (text tokens), padding masked out."""

    def __init__(self, channels: int, context_channels: int, heads: int = 1):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} attention heads")
        self.heads = heads
        self.norm = group_norm(channels)
        self.query = nn.Conv2d(channels, channels, 1)
        self.key_value = nn.Linear(context_channels, 2 * channels)
        self.projection = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W), context (B, L, context_channels), mask (B, L) True at real tokens."""
        batch, channels, height, width = x.shape
        head_channels = channels // self.heads
        q = self.query(self.norm(x)).reshape(batch, self.heads, head_channels, height * width).transpose(-1, -2)
        k, v = self.key_value(context).reshape(batch, -1, 2, self.heads, head_channels).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k.to(q.dtype), v.to(q.dtype), attn_mask=mask[:, None, None, :])
        attended = attended.transpose(-1, -2).reshape(batch, channels, height, width)
        return x + self.projection(attended)


class Downsample(nn.Module):
    """Halve the resolution with a strided 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


# Nearest-neighbour upsampling followed by a 3x3 convolution equals, for each of the four output
# phases (row parity a, column parity b), a 2x2 convolution of the low-resolution input whose taps
# are sums of the 3x3 taps: rows [w0, w1 + w2] for a = 0 and [w0 + w1, w2] for a = 1 (columns alike).
PHASE_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # (parity, 2, 3)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour, then a 3x3 convolution (avoids checkerboard artefacts).

    Computed without materialising the upsampled image: four 2x2 convolutions at the low resolution,
    interleaved (sub-pixel). Same function and parameters, 16/36 of the multiply-adds.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        weight = self.conv.weight  # (out, in, 3, 3)
        taps = PHASE_TAPS.to(device=weight.device, dtype=weight.dtype)
        # phase_weight[a, b, o, i, p, q] = sum_{u, v} taps[a, p, u] weight[o, i, u, v] taps[b, q, v]
        phase_weight = torch.einsum("apu,oiuv,bqv->aboipq", taps, weight, taps)
        out_channels = weight.shape[0]
        phases = F.conv2d(
            F.pad(x, (1, 1, 1, 1)), phase_weight.reshape(4 * out_channels, -1, 2, 2)
        )  # (B, 4 out, H+1, W+1)
        phases = phases.view(batch, 2, 2, out_channels, height + 1, width + 1)
        rows = [
            torch.stack([phases[:, a, b, :, a : a + height, b : b + width] for b in (0, 1)], dim=-1) for a in (0, 1)
        ]
        interleaved = torch.stack(rows, dim=-3)  # (B, out, H, 2, W, 2)
        return interleaved.reshape(batch, out_channels, 2 * height, 2 * width) + self.conv.bias[None, :, None, None]
