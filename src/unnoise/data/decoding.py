"""Decode image files: one image at every entry point (open_image), a list of them into one uint8 tensor."""

import io
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


def open_image(source: str | Path | bytes, max_pixels: int | None = None) -> Image.Image:
    """The one loader for a picture a person hands in (CLI, API, web upload): a path, or a file's bytes.

    Decoded as training data is (load_rgb): upright (its EXIF orientation applied), 8-bit RGB, transparency on
    white. max_pixels refuses a larger image from its header, before decoding it. Raises UserError for a missing,
    unreadable, non-image or too large file.
    """
    from_bytes = isinstance(source, (bytes, bytearray))
    name = "the file" if from_bytes else str(source)
    try:
        return load_rgb(io.BytesIO(source) if from_bytes else Path(source), max_pixels=max_pixels)
    except FileNotFoundError:
        raise UserError(f"no such image: {name}") from None
    except Image.DecompressionBombError:  # over twice PIL's own limit, refused while reading the header
        raise UserError(f"{name} has too many pixels to decode (more than {Image.MAX_IMAGE_PIXELS * 2:,})") from None
    except OSError as error:
        if error.errno is None:  # PIL's own complaint (not an image, truncated): the bytes, not the system
            raise UserError(f"{name} is not an image Pillow can read (PNG, JPEG, WebP, ...)") from None
        raise UserError(f"cannot read {name}: {error.strerror}") from None
    except UNREADABLE_IMAGE_ERRORS:
        raise UserError(f"{name} is not an image Pillow can read (PNG, JPEG, WebP, ...)") from None


def decode_images(
    root: Path, names: list[str], crop_box: CropBox, image_size: int, progress: bool, report_unreadable: bool = True
) -> tuple[torch.Tensor, list[str]]:
    """Decode root/name for each name, crop and resize; returns (N, 3, S, S) uint8 and the names kept.

    Files that cannot be decoded are skipped with a warning, or silently with report_unreadable=False, for a caller
    that reports them in its own line (they are the names not kept). Raises UserError when none can be decoded.
    """
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
    if unreadable and report_unreadable:
        warn_with_examples(f"image files in {root} could not be decoded", unreadable, "skipping them")
    if upscaled:
        warn_with_examples(
            f"images are smaller than {image_size}x{image_size} after cropping",
            upscaled,
            "upscaling them, which blurs them; use a smaller image size or larger images",
        )
    return torch.from_numpy(pixels[: len(kept)]), kept
