"""The DDPM U-Net: residual blocks told the timestep, self-attention at chosen resolutions, skips across."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import AttributeEmbedding, Condition, TextConditioning
from .layers import (
    CrossAttention,
    Downsample,
    ResidualBlock,
    SelfAttention,
    TimestepEmbedding,
    Upsample,
    group_norm,
    zero_init,
)

Context = tuple[torch.Tensor, torch.Tensor] | None  # text tokens (B, L, C) and their mask (B, L), or None


class ResidualAttentionLayer(nn.Module):
    """One residual block, then, at an attention resolution, self-attention and (with text) cross-attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        embedding_channels: int,
        dropout: float,
        attention_heads: int | None,
        context_channels: int = 0,
        scale_shift: bool = False,
    ):
        super().__init__()
        self.block = ResidualBlock(in_channels, out_channels, embedding_channels, dropout, scale_shift)
        self.attention = SelfAttention(out_channels, attention_heads) if attention_heads else nn.Identity()
        self.cross_attention = (
            CrossAttention(out_channels, context_channels, attention_heads)
            if attention_heads and context_channels
            else None
        )

    def forward(self, x: torch.Tensor, embedding: torch.Tensor, context: Context = None) -> torch.Tensor:
        h = self.attention(self.block(x, embedding))
        return self.cross_attention(h, *context) if self.cross_attention is not None else h


class UNet(nn.Module):
    """eps_theta(x_t, t): maps a noisy batch (B, C, H, W) and timesteps (B,) to a tensor of the same shape.

    Widths are base_channels * channel_mult[level]; each level has blocks_per_level residual layers on
    the way down and one more on the way up (it also takes the skip from the downsampling step).

    Conditional when attribute_count (attributes added to the timestep embedding) or text_channels (a
    text embedding: pooled vector added, tokens attended to at the attention resolutions) is set;
    forward then takes a Condition, and without one it is the unconditional model (every row null).

    patch_size p > 1 folds each p x p patch of pixels into channels first (space-to-depth, as a ViT's patch
    embedding or PixelUnshuffle) and unfolds at the end: the U-Net then runs at image_size / p with p^2 times the
    image channels, so a 64x64 image costs about what a 32x32 one does at p = 2.
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
        attribute_count: int = 0,
        text_channels: int = 0,
        scale_shift: bool = False,
        patch_size: int = 1,
    ):
        super().__init__()
        self.patch_size = patch_size
        image_channels, image_size = image_channels * patch_size**2, image_size // patch_size
        embedding_channels = 4 * base_channels
        context_channels = embedding_channels if text_channels else 0
        self.attribute_count, self.text_channels = attribute_count, text_channels
        self.time_embedding = TimestepEmbedding(base_channels, embedding_channels)
        self.attribute_embedding = AttributeEmbedding(attribute_count, embedding_channels) if attribute_count else None
        self.text_conditioning = (
            TextConditioning(text_channels, embedding_channels, context_channels) if text_channels else None
        )
        self.input_conv = nn.Conv2d(image_channels, base_channels, 3, padding=1)

        def layer(in_channels: int, out_channels: int, resolution: int) -> ResidualAttentionLayer:
            heads = attention_heads if resolution in attention_resolutions else None
            return ResidualAttentionLayer(
                in_channels, out_channels, embedding_channels, dropout, heads, context_channels, scale_shift
            )

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

        self.middle = nn.ModuleList(
            [layer(channels, channels, -1), SelfAttention(channels, attention_heads), layer(channels, channels, -1)]
        )

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

    @property
    def conditional(self) -> bool:
        return bool(self.attribute_count or self.text_channels)

    def null_condition(self, batch: int, device: torch.device) -> Condition:
        """A batch of "no condition" rows, shaped for this network."""
        null = torch.ones(batch, dtype=torch.bool, device=device)
        if self.attribute_count:
            return Condition(null, attributes=torch.zeros(batch, self.attribute_count, device=device))
        return Condition(
            null,
            tokens=torch.zeros(batch, 1, self.text_channels, device=device),
            token_mask=torch.ones(batch, 1, dtype=torch.bool, device=device),
            pooled=torch.zeros(batch, self.text_channels, device=device),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, condition: Condition | None = None) -> torch.Tensor:
        embedding = self.time_embedding(t)  # (B, 4 * base_channels)
        context: Context = None
        if self.conditional:
            condition = condition if condition is not None else self.null_condition(x.shape[0], x.device)
            if self.attribute_embedding is not None:
                embedding = embedding + self.attribute_embedding(condition)
            else:
                pooled, context = self.text_conditioning(condition)
                embedding = embedding + pooled
        elif condition is not None:
            raise ValueError("this network was built without a condition")
        h = self.input_conv(F.pixel_unshuffle(x, self.patch_size) if self.patch_size > 1 else x)
        skips = [h]
        for layer in self.down:
            h = layer(h) if isinstance(layer, Downsample) else layer(h, embedding, context)
            skips.append(h)
        h = self.middle[0](h, embedding, context)
        h = self.middle[1](h)
        h = self.middle[2](h, embedding, context)
        for layer in self.up:
            h = (
                layer(h)
                if isinstance(layer, Upsample)
                else layer(torch.cat([h, skips.pop()], dim=1), embedding, context)
            )
        out = self.output_conv(F.silu(self.output_norm(h)))
        return F.pixel_shuffle(out, self.patch_size) if self.patch_size > 1 else out
