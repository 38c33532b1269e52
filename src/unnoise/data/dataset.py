"""The dataset every reader returns: one uint8 tensor, so a batch is just an index.

Opened from the cache, the tensor is a memory map of the cache file (cache_file): its pages live once in the
operating system's page cache, shared by every process of a node, and a set larger than memory is read from disk.
"""

from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class ImageDataset:
    images: torch.Tensor  # (N, 3, H, W) uint8 RGB, already cropped and resized
    names: list[str]  # one per image: relative file path, or "builtin_000123"
    attribute_names: list[str]  # [] when the source has no attributes
    attributes: torch.Tensor | None  # (N, A) uint8 in {0, 1}, row i belongs to names[i]
    source: str  # the canonical spec it was opened from, e.g. "celeba:/abs/path"
    cache_file: Path | None = None  # the file images are memory-mapped from; None when they are in process memory
    # A folder's own captions (captions.py), [] for an image without; None where captions come from attributes
    captions: list[list[str]] | None = None

    def __post_init__(self):
        count = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        if len(self.names) != count:
            raise ValueError(f"{len(self.names)} names for {count} images")
        if self.captions is not None and len(self.captions) != count:
            raise ValueError(f"{len(self.captions)} caption lists for {count} images")
        if self.attributes is not None and self.attributes.shape != (count, len(self.attribute_names)):
            raise ValueError(
                f"attributes have shape {tuple(self.attributes.shape)}, expected ({count}, {len(self.attribute_names)})"
            )

    def __len__(self) -> int:
        return self.images.shape[0]
