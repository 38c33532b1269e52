"""unCLIP (Ramesh et al. 2022, "DALL-E 2"): a frozen CLIP, a prior from its text embedding to its image embedding,
and a decoder (a U-Net) that draws an image from an image embedding. One module, so one weights file, one EMA and
one checkpoint hold all three; calling it is calling the decoder, so every formulation trains and samples it as it
does any conditional U-Net.

Embeddings cross between the parts scaled from the unit sphere to sqrt(d) (each coordinate about unit variance),
the scale a diffusion model in embedding space and the decoder's LayerNorm-free pooled projection expect.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .clip import CLIP
from .conditioning import Condition
from .prior import EmbeddingPrior
from .unet import UNet


def spread(unit: torch.Tensor) -> torch.Tensor:
    """Unit embeddings (B, d) -> sqrt(d) times them: coordinates of about unit variance."""
    return unit * math.sqrt(unit.shape[-1])


def to_unit(embedding: torch.Tensor) -> torch.Tensor:
    """Back onto the unit sphere (a prior's sample has about, not exactly, the norm sqrt(d))."""
    return F.normalize(embedding.float(), dim=-1)


def image_embedding_condition(unit: torch.Tensor, null: torch.Tensor | None = None) -> Condition:
    """The decoder's condition from CLIP image embeddings (B, d): the embedding as its pooled vector and as one token
    for cross-attention (DALL-E 2 adds it to the time embedding and projects it into extra context tokens)."""
    scaled = spread(unit.float())
    if null is None:
        null = torch.zeros(unit.shape[0], dtype=torch.bool, device=unit.device)
    mask = torch.ones(unit.shape[0], 1, dtype=torch.bool, device=unit.device)
    return Condition(null, tokens=scaled[:, None, :], token_mask=mask, pooled=scaled)


def caption_condition(unit: torch.Tensor, null: torch.Tensor | None = None) -> Condition:
    """The prior's condition from CLIP text embeddings (B, d)."""
    if null is None:
        null = torch.zeros(unit.shape[0], dtype=torch.bool, device=unit.device)
    return Condition(null, pooled=spread(unit.float()))


class UnCLIP(nn.Module):
    """decoder (a conditional UNet on image embeddings), prior (EmbeddingPrior) and clip (frozen: requires_grad off,
    always in eval mode). forward(x_t, t, condition) is the decoder's."""

    def __init__(self, decoder: UNet, prior: EmbeddingPrior, clip: CLIP):
        super().__init__()
        self.decoder, self.prior, self.clip = decoder, prior, clip.requires_grad_(False)

    def train(self, mode: bool = True) -> UnCLIP:
        super().train(mode)
        self.clip.eval()
        return self

    @property
    def embedding_dim(self) -> int:
        return self.clip.embedding_dim

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        condition: Condition | None = None,
        prior: tuple[torch.Tensor, torch.Tensor, Condition] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The decoder's output for (x_t, t, condition); with prior = (z_t, t, caption condition) also the prior's,
        in the same call, so that one forward pass (one DDP reduction) trains both."""
        decoded = self.decoder(x, t, condition)
        return decoded if prior is None else (decoded, self.prior(*prior))
