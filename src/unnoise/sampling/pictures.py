"""What people hand the editing tools, as the tensors the tools take: pictures and masks at the run's size.

Converted where the intent is clear, refused with one line (UserError naming the setting) where it is not:
- a picture (a path, a file's bytes, a PIL image, uint8 pixels (3, H, W) / (N, 3, H, W) as a tensor, or a uint8
  numpy array (H, W), (H, W, 3), (H, W, 4) as PIL and numpy lay pictures out) of any size or shape: its centre
  square, resized to the run's size; read upright and as RGB as training data is (data.decoding).
- a mask (a path, bytes or PIL image, or a bool / uint8 / float tensor or numpy array (H, W), (1, H, W),
  (N, 1, H, W)): white (or True, or 1) marks the pixels to redraw. Read upright (its EXIF orientation applied, as a
  picture's). Grayscale, RGBA (strokes on a transparent background: composited onto black), palette and
  16-bit masks are thresholded at 50%; a colour picture or a mask that marks nothing is refused.
- noise to reconstruct from: a float tensor (N, 3, H, W) at the run's size, finite.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps

from ..data.decoding import UNREADABLE_IMAGE_ERRORS, open_image
from ..data.transforms import center_square_box, crop_and_resize, eight_bit_gray, to_rgb
from ..errors import UserError, check

Picture = Union[str, Path, bytes, Image.Image, torch.Tensor, np.ndarray]
PICTURE_KINDS = "a path, a file's bytes, a PIL image, uint8 pixels (a tensor or numpy array), or a list of those"
COLOUR_TOLERANCE = 48  # a mask pixel whose channels differ more than this is colour, not gray
MAX_COLOURED_SHARE = 0.01  # antialiased edges of a drawn mask may tint a few pixels
MAX_MASK_PIXELS = 40_000_000  # as the web page's uploads: refused from the header, before decoding


def square(picture: Image.Image, size: int) -> Image.Image:
    """The picture's centre square, resized to size x size."""
    return crop_and_resize(picture, center_square_box(*picture.size), size)


def pictures_for_run(
    pictures: Picture | Sequence[Picture], size: int, setting: str = "image", max_pixels: int | None = None
) -> torch.Tensor:
    """uint8 (N, 3, size, size) from one picture or a list of them (see the module's docstring for the kinds)."""
    if isinstance(pictures, (list, tuple)):
        check(len(pictures) > 0, f"{setting} names no picture", setting)
        return torch.cat([pictures_for_run(picture, size, setting, max_pixels) for picture in pictures])
    if isinstance(pictures, torch.Tensor):
        return pixels_for_run(pictures, size, setting)
    if isinstance(pictures, np.ndarray):
        pictures = image_of_array(pictures, setting)
    check(
        isinstance(pictures, (str, Path, bytes, bytearray, Image.Image)),
        f"{setting} must be {PICTURE_KINDS}, got {type(pictures).__name__}",
        setting,
    )
    picture = pictures if isinstance(pictures, Image.Image) else open_image(pictures, max_pixels)
    rgb = np.array(square(to_rgb(picture), size))
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


def image_of_array(pixels: np.ndarray, setting: str) -> Image.Image:
    """A uint8 numpy picture as PIL and numpy lay them out: (H, W) gray, (H, W, 3) RGB, (H, W, 4) RGBA."""
    check(
        pixels.dtype == np.uint8 and (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))),
        f"{setting} as a numpy array must be uint8 pixels (H, W), (H, W, 3) or (H, W, 4), got {pixels.dtype} "
        f"{pixels.shape} (a tensor takes (3, H, W))",
        setting,
    )
    check(min(pixels.shape[:2]) > 0, f"{setting} has no pixels (shape {pixels.shape})", setting)
    return Image.fromarray(np.ascontiguousarray(pixels))


def pixels_for_run(pixels: torch.Tensor, size: int, setting: str) -> torch.Tensor:
    """uint8 (3, H, W) or (N, 3, H, W) pixels of any size -> (N, 3, size, size)."""
    check(
        pixels.dtype == torch.uint8,
        f"{setting} must hold uint8 pixels in [0, 255], got {pixels.dtype} (from [-1, 1]: ((x + 1) * 127.5).round()"
        ".to(torch.uint8))",
        setting,
    )
    batch = pixels[None] if pixels.dim() == 3 else pixels
    check(
        batch.dim() == 4 and batch.shape[1] == 3 and batch.shape[0] >= 1,
        f"{setting} must have shape (3, H, W) or (N, 3, H, W), got {tuple(pixels.shape)}",
        setting,
    )
    check(min(batch.shape[-2:]) > 0, f"{setting} has no pixels (shape {tuple(pixels.shape)})", setting)
    if batch.shape[-2:] == (size, size):
        return batch.cpu().contiguous()
    resized = [square(Image.fromarray(image.permute(1, 2, 0).cpu().numpy()), size) for image in batch]
    return torch.stack([torch.from_numpy(np.array(image)).permute(2, 0, 1) for image in resized])


def masks_for_run(mask: Picture | Sequence[Picture], size: int, setting: str = "mask") -> torch.Tensor:
    """bool (N, 1, size, size), True where pixels are to be redrawn. UserError naming `setting` for a mask that is not
    one (a colour picture, an unreadable file) or that marks nothing."""
    if isinstance(mask, (list, tuple)):
        check(len(mask) > 0, f"{setting} names no mask", setting)
        return torch.cat([masks_for_run(one, size, setting) for one in mask])
    if isinstance(mask, np.ndarray):
        check(mask.dtype.kind in "buif", f"{setting} must hold bool, uint8 or float values, got {mask.dtype}", setting)
        mask = torch.from_numpy(np.ascontiguousarray(mask))
    if isinstance(mask, torch.Tensor):
        redraw = mask_tensor_for_run(mask, size, setting)
    else:
        check(
            isinstance(mask, (str, Path, bytes, bytearray, Image.Image)),
            f"{setting} must be a path, a file's bytes, a PIL image, a bool, uint8 or float tensor or numpy array, "
            f"or a list of those, got {type(mask).__name__}",
            setting,
        )
        gray = gray_mask(mask if isinstance(mask, Image.Image) else open_mask(mask, setting), setting)
        redraw = torch.from_numpy(np.array(square(gray, size)) >= 128)[None, None]
    check(
        bool(redraw.flatten(1).any(dim=1).all()),
        f"{setting} marks no pixel to redraw: white marks what to redraw, black what to keep",
        setting,
    )
    return redraw


def open_mask(source: str | Path | bytes, setting: str) -> Image.Image:
    """A mask file as PIL decoded it, in its own mode (open_image would make it RGB on white), upright as a picture
    is read (its EXIF orientation applied). UserError naming `setting` for a missing, unreadable or too large file."""
    from_bytes = isinstance(source, (bytes, bytearray))
    name = f"{setting} upload" if from_bytes else f"{setting} {source}"
    try:
        with Image.open(io.BytesIO(source) if from_bytes else Path(source)) as image:
            width, height = image.size
            check(
                width * height <= MAX_MASK_PIXELS,
                f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more than the limit of "
                f"{MAX_MASK_PIXELS / 1e6:g} megapixels for a mask; make it smaller first",
                setting,
            )
            image.load()
            return ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise UserError(f"{name} does not exist", settings=(setting,)) from None
    except IsADirectoryError:
        raise UserError(f"{name} is a folder, not an image", settings=(setting,)) from None
    except Image.DecompressionBombError:  # over twice PIL's own limit, refused while reading the header
        raise UserError(
            f"{name} has too many pixels to decode (more than {Image.MAX_IMAGE_PIXELS * 2:,})", settings=(setting,)
        ) from None
    except UNREADABLE_IMAGE_ERRORS:
        raise UserError(f"{name} is not an image Pillow can read (PNG, JPEG, ...)", settings=(setting,)) from None


def gray_mask(image: Image.Image, setting: str) -> Image.Image:
    """Any mask picture as 8-bit gray: transparency over black, 16-bit and float as eight_bit_gray reads them, colour
    refused."""
    image = eight_bit_gray(image)
    if image.mode == "1" or image.mode == "L":
        return image.convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    rgb = np.asarray(image.convert("RGB")).astype(np.int16)
    coloured = (rgb.max(axis=2) - rgb.min(axis=2) > COLOUR_TOLERANCE).mean()
    check(
        coloured <= MAX_COLOURED_SHARE,
        f"{setting} must be black and white (white marks what to redraw); this one is a colour picture "
        f"({coloured:.0%} of its pixels are coloured)",
        setting,
    )
    return Image.fromarray(rgb.mean(axis=2).round().astype(np.uint8))


def mask_tensor_for_run(mask: torch.Tensor, size: int, setting: str) -> torch.Tensor:
    """bool, uint8 (>= 128) or float (>= 0.5, values in [0, 1]) masks (H, W), (1, H, W), (N, 1, H, W) -> bool."""
    batch = mask.reshape(1, 1, *mask.shape) if mask.dim() == 2 else mask[None] if mask.dim() == 3 else mask
    check(
        batch.dim() == 4 and batch.shape[1] == 1,
        f"{setting} must have shape (H, W), (1, H, W) or (N, 1, H, W), got {tuple(mask.shape)}",
        setting,
    )
    if mask.dtype == torch.bool:
        level = batch.to(torch.uint8) * 255
    elif mask.dtype == torch.uint8:
        level = batch
    elif mask.is_floating_point():
        check(
            bool(((batch >= 0) & (batch <= 1)).all()),
            f"{setting} as floats must lie in [0, 1] (1 marks what to redraw)",
            setting,
        )
        level = (batch * 255).round().to(torch.uint8)
    else:
        raise UserError(f"{setting} must be a bool, uint8 or float tensor, got {mask.dtype}", settings=(setting,))
    grays = [square(Image.fromarray(one[0].cpu().numpy()), size) for one in level]
    return torch.stack([torch.from_numpy(np.array(gray) >= 128)[None] for gray in grays])


def noise_for_run(noise: torch.Tensor, image_shape: tuple[int, int, int], setting: str = "noise") -> torch.Tensor:
    """Starting noise float (N, C, H, W) at the run's image shape, finite (an Inversion's noise); UserError naming
    `setting` for anything else."""
    check(
        isinstance(noise, torch.Tensor) and noise.is_floating_point(),
        f"{setting} must be a float tensor (N, {', '.join(map(str, image_shape))}), got "
        f"{type(noise).__name__ if not isinstance(noise, torch.Tensor) else noise.dtype}",
        setting,
    )
    check(
        noise.dim() == 4 and tuple(noise.shape[1:]) == tuple(image_shape) and len(noise) >= 1,
        f"{setting} must have shape (N, {', '.join(map(str, image_shape))}) for this run, got {tuple(noise.shape)}",
        setting,
    )
    check(bool(torch.isfinite(noise).all()), f"{setting} holds values that are not finite (nan or inf)", setting)
    return noise
