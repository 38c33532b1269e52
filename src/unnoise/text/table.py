"""The embedded captions of a whole dataset, made once and kept in one cache file.

Training draws one of each image's K captions per step; running the text encoder every step would
cost as much as the U-Net itself on a CPU, so every caption is embedded up front. Tokens are kept
ragged (no padding) in float16, each distinct caption once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from tqdm import tqdm

from ..data.cache import cache_directory
from ..storage.atomic import WriteError, atomic_path
from ..storage.weights import save_tensors
from .captions import captions_for_dataset
from .encoder import TextEncoder

logger = logging.getLogger("unnoise")

TABLE_FORMAT_VERSION = 2
CHUNK = 256
TABLE_TENSORS = ("tokens", "offsets", "pooled", "texts")
UNCAPTIONED = ""  # what an image without a caption holds in a table; never shown to the network (its rows are null)


@dataclass
class CaptionTable:
    """K captions per image, embedded: caption k of image i is distinct text texts[i * K + k].

    tokens: (total tokens, D) float16, each distinct text's real tokens one after another; offsets: (distinct + 1,)
    long; pooled: (distinct, D) float32; texts: (images * K,) long.
    """

    tokens: torch.Tensor
    offsets: torch.Tensor
    pooled: torch.Tensor
    texts: torch.Tensor
    per_image: int

    def gather(self, images: torch.Tensor, choices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Caption choices[b] of image images[b] -> tokens (B, L, D) float32 zero-padded, mask (B, L), pooled (B, D)."""
        rows = self.texts[images.cpu() * self.per_image + choices.cpu()].tolist()
        starts, ends = self.offsets[rows].tolist(), self.offsets[[row + 1 for row in rows]].tolist()
        longest = max(end - start for start, end in zip(starts, ends))
        tokens = torch.zeros(len(rows), longest, self.tokens.shape[1])
        mask = torch.zeros(len(rows), longest, dtype=torch.bool)
        for b, (start, end) in enumerate(zip(starts, ends)):
            tokens[b, : end - start] = self.tokens[start:end]
            mask[b, : end - start] = True
        return tokens, mask, self.pooled[rows]


def table_key(encoder: TextEncoder, max_tokens: int, captions: list[list[str]]) -> str:
    fields = {
        "model": encoder.model_sha256,
        "max_tokens": max_tokens,
        "captions": captions,
        "format": TABLE_FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def embed_table(
    encoder: TextEncoder, captions: list[list[str]], max_tokens: int, per_image: int, progress: bool
) -> CaptionTable:
    texts = [text for image_captions in captions for text in image_captions]
    distinct = list(dict.fromkeys(texts))
    where = {text: index for index, text in enumerate(distinct)}
    lengths, pooled, pieces = [], torch.zeros(len(distinct), encoder.width), []
    bar = tqdm(total=len(distinct), desc="embedding captions", unit="caption", disable=not progress, file=sys.stderr)
    for start in range(0, len(distinct), CHUNK):
        chunk = distinct[start : start + CHUNK]
        embedded = encoder.encode(chunk, max_tokens).to("cpu")
        for row in range(len(chunk)):
            pieces.append(embedded.tokens[row, embedded.mask[row]].half())
            lengths.append(pieces[-1].shape[0])
        pooled[start : start + len(chunk)] = embedded.pooled
        bar.update(len(chunk))
    bar.close()
    offsets = torch.tensor([0] + lengths).cumsum(0)
    return CaptionTable(torch.cat(pieces), offsets, pooled, torch.tensor([where[text] for text in texts]), per_image)


def caption_table(
    attribute_names: list[str],
    attributes: torch.Tensor,
    encoder: TextEncoder,
    seed: int,
    per_image: int,
    max_tokens: int,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> CaptionTable:
    """per_image captions for each image (captions_for_dataset), embedded; read from the cache when made before."""
    captions = captions_for_dataset(attribute_names, attributes, seed, per_image)
    return cached_table(captions, encoder, per_image, max_tokens, cache_dir, progress)


def given_caption_table(
    captions: list[list[str]],
    encoder: TextEncoder,
    per_image: int,
    max_tokens: int,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> CaptionTable:
    """Each image's own captions (a folder's), embedded: its first per_image, repeated in turn when it has fewer.

    An image without a caption gets per_image copies of UNCAPTIONED, a placeholder whose rows a run must always
    mark null.
    """
    rows = [[own[k % len(own)] for k in range(per_image)] if own else [UNCAPTIONED] * per_image for own in captions]
    return cached_table(rows, encoder, per_image, max_tokens, cache_dir, progress)


def cached_table(
    captions: list[list[str]],
    encoder: TextEncoder,
    per_image: int,
    max_tokens: int,
    cache_dir: str | Path | None,
    progress: bool,
) -> CaptionTable:
    """per_image captions of each image, embedded; read from the cache when made before, written to it after."""
    key = table_key(encoder, max_tokens, captions)
    path = cache_directory(cache_dir) / "caption-tables" / f"{key}.safetensors"
    if path.exists():
        try:
            with safe_open(path, framework="pt") as file:
                return CaptionTable(*(file.get_tensor(name) for name in TABLE_TENSORS), per_image)
        except Exception as error:  # a cache is disposable: damage means embedding again
            logger.warning(f"caption table {path} is unreadable ({type(error).__name__}: {error}); embedding again")
    table = embed_table(encoder, captions, max_tokens, per_image, progress)
    try:
        with atomic_path(path) as temporary:
            save_tensors({name: getattr(table, name) for name in TABLE_TENSORS}, temporary)
    except WriteError as error:
        logger.warning(f"could not write caption table cache ({error}); set UNNOISE_CACHE to a writable folder")
    return table
