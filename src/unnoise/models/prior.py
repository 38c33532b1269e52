"""The unCLIP prior's network (Ramesh et al. 2022, 2.2): a denoiser in CLIP embedding space, told the caption.

DALL-E 2's prior is a decoder-only transformer over [text tokens, text embedding, time, noisy image embedding]; at
our sizes (d = 64) a residual MLP over the noisy embedding, with the time and the caption's CLIP text embedding
added to every block, does the same job with a fraction of the compute. The caption arrives as a Condition whose
`pooled` row is the CLIP text embedding; null rows (classifier-free guidance) get a learned vector instead.
"""

from __future__ import annotations

import torch
from torch import nn

from .conditioning import Condition
from .layers import TimestepEmbedding, zero_init


class PriorBlock(nn.Module):
    """h + W2 SiLU(W1 LayerNorm(h) + e): the embedding e (time and caption) enters every block."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, 2 * width)
        self.outer = zero_init(nn.Linear(2 * width, width))

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return h + self.outer(nn.functional.silu(self.inner(self.norm(h)) + embedding))


class EmbeddingPrior(nn.Module):
    """(z_t (B, d), t (B,), caption Condition) -> (B, d): what the formulation asks of a denoiser (flow: velocity)."""

    def __init__(self, embedding_dim: int, width: int = 256, blocks: int = 4):
        super().__init__()
        self.input = nn.Linear(embedding_dim, width)
        self.time_embedding = TimestepEmbedding(64, 2 * width)
        self.caption_projection = nn.Linear(embedding_dim, 2 * width)
        self.null_caption = nn.Parameter(torch.zeros(2 * width))
        self.blocks = nn.ModuleList(PriorBlock(width) for _ in range(blocks))
        self.output = nn.Sequential(nn.LayerNorm(width), zero_init(nn.Linear(width, embedding_dim)))

    def forward(self, z: torch.Tensor, t: torch.Tensor, condition: Condition) -> torch.Tensor:
        caption = self.caption_projection(condition.pooled.to(z.dtype))
        embedding = self.time_embedding(t) + torch.where(condition.null[:, None], self.null_caption, caption)
        h = self.input(z)
        for block in self.blocks:
            h = block(h, embedding)
        return self.output(h)
