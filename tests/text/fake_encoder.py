"""A stand-in for the frozen text encoder: each text's embedding is a function of the text alone, in microseconds,
and without the text extra."""

import zlib

import torch

from unnoise.text.encoder import TextEmbedding

WIDTH = 4


def pooled_of(text: str) -> torch.Tensor:
    """(WIDTH,): the fake encoder's pooled vector of text."""
    return torch.randn(WIDTH, generator=torch.Generator().manual_seed(zlib.crc32(text.encode())))


class FakeEncoder:
    width = WIDTH
    model_sha256 = "fake"

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts: list[str], max_tokens: int = 32) -> TextEmbedding:
        """Text t has 1 + len(t) % 3 tokens, each equal to its pooled vector."""
        self.encoded.extend(texts)
        lengths = [1 + len(text) % 3 for text in texts]
        tokens = torch.zeros(len(texts), max(lengths, default=0), WIDTH)
        mask = torch.zeros(len(texts), max(lengths, default=0), dtype=torch.bool)
        for row, text in enumerate(texts):
            tokens[row, : lengths[row]] = pooled_of(text)
            mask[row, : lengths[row]] = True
        pooled = torch.stack([pooled_of(text) for text in texts]) if texts else torch.zeros(0, WIDTH)
        return TextEmbedding(tokens=tokens, mask=mask, pooled=pooled)
