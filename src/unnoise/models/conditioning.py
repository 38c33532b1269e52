"""What a conditional network is told besides (x_t, t): attributes or a text embedding, or nothing.

A Condition row marked null stands for "no condition": the network swaps in a learned null
embedding there. Training marks a random fraction of rows null, which is what lets one network
give both eps(x_t, c) and eps(x_t) for classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

TEXT_CHANNELS = 384  # the width of all-MiniLM-L6-v2's embeddings (unnoise.text)
# Attribute values as the network reads them: present +1, absent -1, not asked for 0.
PRESENT, ABSENT, UNKNOWN = 1.0, -1.0, 0.0


@dataclass(frozen=True)
class Condition:
    """A batch of conditions: null (B,) bool, and the attribute or text tensors of the conditional kind.

    attributes: (B, A) float in {+1, -1, 0} (present, absent, unknown).
    tokens, token_mask, pooled: (B, L, D), (B, L) bool and (B, D) from the frozen text encoder (unCLIP's decoder: a
    CLIP image embedding as one token and as the pooled vector).
    caption, caption_null: unCLIP's prior: a CLIP text embedding (B, d), and True where the image has no caption.
    """

    null: torch.Tensor
    attributes: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    token_mask: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    caption: torch.Tensor | None = None
    caption_null: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def to(self, device: torch.device | str) -> Condition:
        return replace(self, **{name: tensor.to(device) for name, tensor in self.tensors().items()})

    def __getitem__(self, rows) -> Condition:
        return replace(self, **{name: tensor[rows] for name, tensor in self.tensors().items()})

    def with_null(self, null: torch.Tensor) -> Condition:
        """The same condition with rows marked null (the network ignores the rest of those rows)."""
        return replace(self, null=null)

    def cat(self, other: Condition) -> Condition:
        """This batch followed by other's (text padded to the longer of the two)."""
        mine, theirs = self.tensors(), other.tensors()
        if set(mine) != set(theirs):
            raise ValueError("cannot join conditions of different kinds")
        if "tokens" in mine:
            length = max(mine["tokens"].shape[1], theirs["tokens"].shape[1])
            for side in (mine, theirs):
                pad = length - side["tokens"].shape[1]
                side["tokens"] = nn.functional.pad(side["tokens"], (0, 0, 0, pad))
                side["token_mask"] = nn.functional.pad(side["token_mask"], (0, pad))
        return Condition(**{name: torch.cat([mine[name], theirs[name]]) for name in mine})


def null_condition_like(condition: Condition) -> Condition:
    """Every row null: the unconditional half of classifier-free guidance."""
    return condition.with_null(torch.ones_like(condition.null))


class AttributeEmbedding(nn.Module):
    """c (B, A) in {+1, -1, 0} -> W c + b (B, E); null rows get a learned vector instead."""

    def __init__(self, attributes: int, embedding_channels: int):
        super().__init__()
        self.projection = nn.Linear(attributes, embedding_channels)
        self.null = nn.Parameter(torch.zeros(embedding_channels))

    def forward(self, condition: Condition) -> torch.Tensor:
        embedded = self.projection(condition.attributes.to(self.projection.weight.dtype))
        return torch.where(condition.null[:, None], self.null.to(embedded.dtype), embedded)


class TextConditioning(nn.Module):
    """The text embedding as the U-Net uses it, Imagen-style: the pooled vector is projected and added
    to the timestep embedding; the tokens, projected to context_channels, are what cross-attention
    attends to. A null row becomes a learned pooled vector and a single learned token."""

    def __init__(self, text_channels: int, embedding_channels: int, context_channels: int):
        super().__init__()
        self.pooled_projection = nn.Linear(text_channels, embedding_channels)
        self.token_projection = nn.Sequential(nn.LayerNorm(text_channels), nn.Linear(text_channels, context_channels))
        self.null_pooled = nn.Parameter(torch.zeros(embedding_channels))
        self.null_token = nn.Parameter(torch.randn(context_channels) * 0.02)

    def forward(self, condition: Condition) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """-> (embedding (B, E), (context (B, L, C), mask (B, L) bool))."""
        null = condition.null
        pooled = self.pooled_projection(condition.pooled.to(self.pooled_projection.weight.dtype))
        embedding = torch.where(null[:, None], self.null_pooled.to(pooled.dtype), pooled)
        context = self.token_projection(condition.tokens.to(pooled.dtype))
        first = torch.zeros_like(condition.token_mask)
        first[:, 0] = True
        context = torch.where(null[:, None, None] & first[:, :, None], self.null_token.to(context.dtype), context)
        mask = torch.where(null[:, None], first, condition.token_mask)
        return embedding, (context, mask)
