"""Decode a list of image files into one uint8 tensor, skipping the files that cannot be read."""

import struct
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import UserError
from .transforms import CropBox, crop_and_resize, load_rgb
from .warn import warn_with_examples

# What PIL raises for truncated, corrupt or non-image files; anything else is a bug and propagates.
UNREADABLE_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


def decode_images(
    root: Path, names: list[str], crop_box: CropBox, image_size: int, progress: bool
) -> tuple[torch.Tensor, list[str]]:
    """Decode root/name for each name, crop and resize; returns (N, 3, S, S) uint8 and the names kept."""
    pixels = np.empty((len(names), 3, image_size, image_size), dtype=np.uint8)  # (N, 3, S, S)
    kept: list[str] = []
    unreadable: list[str] = []
    upscaled: list[str] = []
    for name in tqdm(names, desc=f"decoding {root.name}", unit="image", disable=not progress, file=sys.stderr):
        try:
            image = load_rgb(root / name, crop_box, image_size)
        except UNREADABLE_IMAGE_ERRORS:
            unreadable.append(name)
            continue
        left, top, right, bottom = box = crop_box(*image.size)
        if min(right - left, bottom - top) < image_size:
            upscaled.append(name)
        pixels[len(kept)] = np.asarray(crop_and_resize(image, box, image_size)).transpose(2, 0, 1)
        kept.append(name)

    if not kept:
        raise UserError(
            f"none of the {len(names)} image files in {root} could be decoded (e.g. {', '.join(unreadable[:3])}); "
            "check that they are valid JPEG/PNG/WebP/BMP images"
        )
    if unreadable:
        warn_with_examples(f"image files in {root} could not be decoded", unreadable, "skipping them")
    if upscaled:
        warn_with_examples(
            f"images are smaller than {image_size}x{image_size} after cropping",
            upscaled,
            "upscaling them, which blurs them; use a smaller image size or larger images",
        )
    return torch.from_numpy(pixels[: len(kept)]), kept
