"""Per-image preprocessing (decode to RGB, crop, resize) and per-batch transforms for training."""

import math
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps

from ..errors import UserError

# The 140x140 face crop that is standard for 64x64 CelebA, in the 178x218 aligned images.
CELEBA_WIDTH, CELEBA_HEIGHT = 178, 218
CELEBA_CROP = (19, 39, 159, 179)

# A JPEG is decoded at a reduced scale only while its crop keeps this many times the target
# resolution, so big photos decode fast and the final antialiased resize still has detail.
DRAFT_OVERSAMPLING = 4

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in pixels
CropBox = Callable[[int, int], Box]  # (width, height) -> box


def load_rgb(
    path: Path | BinaryIO,
    crop_box: CropBox | None = None,
    target_size: int | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Decode one image file (a path or an open binary file) to 8-bit RGB, upright, transparency composited onto white.

    Given the crop it is for, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (nearly free in the
    decoder) while its crop keeps DRAFT_OVERSAMPLING x target_size pixels across. max_pixels refuses a
    larger image from its header, before any pixel is decoded (UserError naming the limit); PIL's errors
    for missing, damaged or non-image files propagate.
    """
    with Image.open(path) as image:
        refuse_above(max_pixels, *image.size)
        if crop_box is not None and target_size is not None and image.format == "JPEG":
            left, top, right, bottom = crop_box(*image.size)
            scale = DRAFT_OVERSAMPLING * target_size / min(right - left, bottom - top)
            if scale <= 0.5:
                image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # phone photos store their rotation as a tag
        return to_rgb(image)


def refuse_above(max_pixels: int | None, width: int, height: int) -> None:
    """Raise UserError when width x height exceeds max_pixels (None: no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise UserError(
            f"the image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more than the limit of "
            f"{max_pixels / 1e6:g} megapixels; make it smaller first"
        )


SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def eight_bit_gray(image: Image.Image) -> Image.Image:
    """A single-channel 16-bit, 32-bit or float image as 8-bit gray (mode L); any other mode as it is.

    PIL's own conversion clips such values at 255, so 16-bit values are scaled by 1/257 instead, and a float image
    (scientific TIFFs) is read as 0..1 where its finite values lie in 0..1, as -1..1 where they lie there and some are
    negative, else as 0..255; NaN is 0 and infinities clip.
    """
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float64) / 257.0
    elif image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        if -1 <= low < 0 and high <= 1:
            values = (values + 1) * 127.5
        elif 0 <= low and high <= 1:
            values = values * 255.0
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
    else:
        return image
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; alpha is composited onto white, 16-bit and float as eight_bit_gray says."""
    image = eight_bit_gray(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def center_square_box(width: int, height: int) -> Box:
    """The largest centred square, as a (left, top, right, bottom) box in pixels."""
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def celeba_crop_box(width: int, height: int) -> Box:
    """The standard CelebA face crop (140x140 at left 19, top 39 of 178x218), scaled to the image."""
    left, top, right, bottom = CELEBA_CROP
    x_scale, y_scale = width / CELEBA_WIDTH, height / CELEBA_HEIGHT
    return (left * x_scale, top * y_scale, right * x_scale, bottom * y_scale)


def crop_and_resize(image: Image.Image, box: Box, size: int) -> Image.Image:
    """Crop box and resize it to size x size in one antialiased bilinear pass (float boxes allowed)."""
    return image.resize((size, size), Image.Resampling.BILINEAR, box=box)


def random_horizontal_flip(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image of a (B, C, H, W) batch with probability 1/2, drawing only from generator."""
    flip = torch.rand(batch.shape[0], generator=generator, device=generator.device) < 0.5
    return horizontal_flip(batch, flip)


def horizontal_flip(batch: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror the images of a (B, C, H, W) batch where the boolean mask (B,) is True."""
    return torch.where(mask.to(batch.device).view(-1, 1, 1, 1), batch.flip(-1), batch)


def to_model_range(batch: torch.Tensor) -> torch.Tensor:
    """uint8 pixels in [0, 255] -> float32 in [-1, 1]."""
    return batch.to(torch.float32) / 127.5 - 1.0


def to_uint8(batch: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 pixels in [0, 255], rounded to nearest and clamped."""
    return ((batch + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def images_from_model_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats (any dtype, any device) to uint8 pixels on the CPU, ready to save."""
    return to_uint8(x.float()).cpu()
