"""The BERT encoder (Devlin et al. 2019) in plain torch: token ids -> one 384-vector per token.

Only what all-MiniLM-L6-v2 uses: absolute positions, one token type, post-LayerNorm blocks, exact
(erf) GELU, no dropout (it is never trained here). Parameter names are ours; `rename_bert_weights`
maps the Hugging Face names of the weight file onto them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    max_positions: int
    token_types: int
    layer_norm_eps: float

    @classmethod
    def from_huggingface(cls, config: dict) -> BertConfig:
        """Read a Hugging Face config.json; refuse variants this module does not implement."""
        unsupported = {
            "hidden_act": (config.get("hidden_act", "gelu"), "gelu"),
            "position_embedding_type": (config.get("position_embedding_type", "absolute"), "absolute"),
        }
        for field, (found, supported) in unsupported.items():
            if found != supported:
                raise ValueError(f"BERT config has {field}={found!r}; only {supported!r} is implemented")
        return cls(
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            layers=config["num_hidden_layers"],
            heads=config["num_attention_heads"],
            intermediate_size=config["intermediate_size"],
            max_positions=config["max_position_embeddings"],
            token_types=config["type_vocab_size"],
            layer_norm_eps=config["layer_norm_eps"],
        )


class BertEmbeddings(nn.Module):
    """LayerNorm(word + position + token type); every token here is of type 0."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.words = nn.Embedding(config.vocab_size, config.hidden_size)
        self.positions = nn.Embedding(config.max_positions, config.hidden_size)
        self.token_types = nn.Embedding(config.token_types, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        length = token_ids.shape[1]
        positions = torch.arange(length, device=token_ids.device)
        summed = self.words(token_ids) + self.positions(positions) + self.token_types.weight[0]
        return self.norm(summed)  # (n, L, D)


class BertLayer(nn.Module):
    """x = LN(x + Attention(x)); x = LN(x + W2 GELU(W1 x)): post-LayerNorm, as in the original Transformer."""

    def __init__(self, config: BertConfig):
        super().__init__()
        size = config.hidden_size
        self.heads = config.heads
        self.query = nn.Linear(size, size)
        self.key = nn.Linear(size, size)
        self.value = nn.Linear(size, size)
        self.attention_out = nn.Linear(size, size)
        self.attention_norm = nn.LayerNorm(size, eps=config.layer_norm_eps)
        self.mlp_in = nn.Linear(size, config.intermediate_size)
        self.mlp_out = nn.Linear(config.intermediate_size, size)
        self.mlp_norm = nn.LayerNorm(size, eps=config.layer_norm_eps)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, size = x.shape
        return x.view(batch, length, self.heads, size // self.heads).transpose(1, 2)  # (n, heads, L, D/heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (n, L, D); mask: (n, L) bool, True at real tokens; padding is never attended to."""
        query, key, value = (self.split_heads(project(x)) for project in (self.query, self.key, self.value))
        head_size = query.shape[-1]
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask[:, None, None, :], scale=1 / math.sqrt(head_size)
        )  # (n, heads, L, D/heads)
        attended = attended.transpose(1, 2).reshape(x.shape)
        x = self.attention_norm(x + self.attention_out(attended))
        return self.mlp_norm(x + self.mlp_out(F.gelu(self.mlp_in(x))))


class BertEncoder(nn.Module):
    """token ids (n, L) and mask (n, L) -> the last layer's hidden states (n, L, D)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.layers))

    def forward(self, token_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if token_ids.shape[1] > self.config.max_positions:
            raise ValueError(f"{token_ids.shape[1]} tokens exceed the {self.config.max_positions} positions")
        x = self.embeddings(token_ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x


# Hugging Face BertModel name fragments -> ours, applied in order.
HUGGINGFACE_RENAMES = [
    ("embeddings.word_embeddings.", "embeddings.words."),
    ("embeddings.position_embeddings.", "embeddings.positions."),
    ("embeddings.token_type_embeddings.", "embeddings.token_types."),
    ("embeddings.LayerNorm.", "embeddings.norm."),
    ("encoder.layer.", "layers."),
    (".attention.self.query.", ".query."),
    (".attention.self.key.", ".key."),
    (".attention.self.value.", ".value."),
    (".attention.output.dense.", ".attention_out."),
    (".attention.output.LayerNorm.", ".attention_norm."),
    (".intermediate.dense.", ".mlp_in."),
    (".output.dense.", ".mlp_out."),
    (".output.LayerNorm.", ".mlp_norm."),
]
# In the file but unused: the [CLS] pooler (sentence embeddings mean-pool instead) and a constant buffer.
HUGGINGFACE_UNUSED_PREFIXES = ("pooler.", "embeddings.position_ids")


def rename_bert_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face BertModel state dict -> BertEncoder's names (unused entries dropped)."""
    renamed = {}
    for name, tensor in weights.items():
        if name.startswith(HUGGINGFACE_UNUSED_PREFIXES):
            continue
        for old, new in HUGGINGFACE_RENAMES:
            name = name.replace(old, new)
        renamed[name] = tensor
    return renamed
