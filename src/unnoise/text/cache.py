"""On-disk cache of prompt embeddings, so training embeds each distinct caption once, not every step.

One safetensors file per (encoder weights, max_tokens, text), named by the sha256 of the three, in
<cache>/text-embeddings/<2 hex>/<key>.safetensors, holding that text's unpadded tokens (L, D) and
pooled vector (D,): about 1.5 KB per token, some 20 KB for a 12-token caption.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import safe_open

from ..data.cache import cache_directory
from ..storage.atomic import WriteError, atomic_path
from ..storage.weights import save_tensors
from .encoder import DEFAULT_MAX_TOKENS, TextEmbedding, TextEncoder

logger = logging.getLogger("unnoise")

# Bump whenever the forward pass, tokenisation or cutting changes, so older embeddings stop matching.
TEXT_CACHE_FORMAT_VERSION = 1


def embedding_key(model_sha256: str, max_tokens: int, text: str) -> str:
    fields = {"model": model_sha256, "max_tokens": max_tokens, "text": text, "format": TEXT_CACHE_FORMAT_VERSION}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def embedding_path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.safetensors"


def read_cached(path: Path, key: str) -> dict[str, torch.Tensor] | None:
    """{'tokens': (L, D), 'pooled': (D,)} stored at path, or None when missing or damaged."""
    if not path.exists():
        return None
    try:
        with safe_open(path, framework="pt") as file:
            if file.metadata().get("key") != key:
                raise ValueError("its key does not match its name")
            tensors = {name: file.get_tensor(name) for name in ("tokens", "pooled")}
    except Exception as error:  # a cache is disposable: any damage just means embedding again
        logger.warning(
            f"text embedding cache file {path} is unreadable ({type(error).__name__}: {error}); re-embedding"
        )
        return None
    return tensors


def write_cached(path: Path, key: str, text: str, tokens: torch.Tensor, pooled: torch.Tensor) -> bool:
    """Write atomically (the text rides along for people reading the cache); False, after a warning, when unwritable."""
    tensors = {"tokens": tokens.contiguous(), "pooled": pooled.contiguous()}
    try:
        with atomic_path(path) as temporary:
            save_tensors(tensors, temporary, metadata={"key": key, "text": text})
    except WriteError as error:
        logger.warning(f"could not write text embedding cache ({error}); set UNNOISE_CACHE to a writable folder")
        return False
    return True


def stack_padded(rows: list[dict[str, torch.Tensor]], width: int) -> TextEmbedding:
    """Per-text (L_i, D) tokens and (D,) pooled -> one TextEmbedding padded with zeros to the longest."""
    longest = max((row["tokens"].shape[0] for row in rows), default=0)
    tokens = torch.zeros(len(rows), longest, width)
    mask = torch.zeros(len(rows), longest, dtype=torch.bool)
    for index, row in enumerate(rows):
        length = row["tokens"].shape[0]
        tokens[index, :length] = row["tokens"]
        mask[index, :length] = True
    pooled = torch.stack([row["pooled"] for row in rows]) if rows else torch.zeros(0, width)
    return TextEmbedding(tokens=tokens, mask=mask, pooled=pooled)


def embed_texts_cached(
    texts: list[str],
    encoder: TextEncoder,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    cache_dir: str | Path | None = None,
) -> TextEmbedding:
    """encoder.encode(texts, max_tokens) on the CPU, running the encoder only for texts not cached before.

    Each distinct text is embedded once (duplicates share the work); the result is padded to the
    longest text, like encode's. cache_dir as for the data cache ($UNNOISE_CACHE, ...).
    """
    directory = cache_directory(cache_dir) / "text-embeddings"
    distinct = list(dict.fromkeys(texts))
    keys = {text: embedding_key(encoder.model_sha256, max_tokens, text) for text in distinct}
    found = {}
    for text in distinct:
        row = read_cached(embedding_path(directory, keys[text]), keys[text])
        if row is not None:
            found[text] = row
    missing = [text for text in distinct if text not in found]
    if missing:
        fresh = encoder.encode(missing, max_tokens).to("cpu")
        writable = True
        for index, text in enumerate(missing):
            row = {"tokens": fresh.tokens[index, fresh.mask[index]], "pooled": fresh.pooled[index].clone()}
            found[text] = row
            if writable:  # one warning, not one per text, when the cache folder is read-only
                writable = write_cached(embedding_path(directory, keys[text]), keys[text], text, **row)
    return stack_padded([found[text] for text in texts], encoder.width)
