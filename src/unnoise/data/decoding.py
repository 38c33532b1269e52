"""Decode image files: one image at every entry point (open_image); a reader's plan of files, one at a time."""

import io
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import UserError
from .dataset import ImageDataset
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


def available_memory() -> int | None:
    """Bytes of memory free for new pages now (Linux's MemAvailable), or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def refuse_beyond_memory(needed: int, what: str, image_size: int, advice: str) -> None:
    """UserError saying what `what` needs and what is free, then `advice`, when needed bytes exceed the free memory
    (nothing where the free memory cannot be read)."""
    free = available_memory()
    if free is not None and needed > free:
        raise UserError(
            f"{what} need {needed / 1e9:.2f} GB at {image_size}x{image_size}, more than the {free / 1e9:.2f} GB of "
            f"memory free{advice}"
        )


@dataclass
class DecodePlan:
    """What a reader decodes: root/name for each name, in this order, cropped by crop_box and resized to image_size.

    A plan is cheap (names and attribute rows, no pixels), so the cache can stream it to disk a file at a time.
    """

    root: Path
    names: list[str]
    crop_box: CropBox
    image_size: int
    source: str
    attribute_names: list[str] = field(default_factory=list)
    attribute_rows: dict[str, np.ndarray] | None = None  # file name -> (A,) uint8 in {0, 1}
    # (kept, undecodable) -> the reader's own warning line for what it left out; None: the usual line for undecodable
    report_left_out: Callable[[list[str], list[str]], None] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of uint8 pixels the plan decodes to, at most (every file kept): N x 3 x S x S."""
        return len(self.names) * 3 * self.image_size * self.image_size


@dataclass
class Decoded:
    name: str
    pixels: np.ndarray | None  # (3, S, S) uint8; None when the file could not be decoded
    upscaled: bool = False  # the crop was smaller than the target size


def decode_each(plan: DecodePlan, start: int = 0) -> Iterator[Decoded]:
    """Decode plan.names[start:] one file at a time: memory stays at one image whatever the number of files."""
    for name in plan.names[start:]:
        try:
            image = load_rgb(plan.root / name, plan.crop_box, plan.image_size)
        except UNREADABLE_IMAGE_ERRORS:
            yield Decoded(name, None)
            continue
        left, top, right, bottom = box = plan.crop_box(*image.size)
        pixels = np.asarray(crop_and_resize(image, box, plan.image_size)).transpose(2, 0, 1)
        yield Decoded(name, pixels, upscaled=min(right - left, bottom - top) < plan.image_size)


def progress_bar(plan: DecodePlan, progress: bool, done: int = 0) -> tqdm:
    """The decoding bar: files done of all, images/s and the time left (done > 0 when a build resumes)."""
    return tqdm(
        total=len(plan.names),
        initial=done,
        desc=f"decoding {plan.root.name}",
        unit="image",
        disable=not progress,
        file=sys.stderr,
    )


def finish_decoding(plan: DecodePlan, kept: list[str], unreadable: list[str], upscaled: list[str]) -> np.ndarray | None:
    """Warn about what was left out or upscaled; the attribute rows (N, A) of the kept images, None without.

    Raises UserError when no file could be decoded.
    """
    if not kept:
        raise UserError(
            f"none of the {len(plan.names)} image files in {plan.root} could be decoded "
            f"(e.g. {', '.join(unreadable[:3])}); check that they are valid JPEG/PNG/WebP/BMP images"
        )
    if unreadable and plan.report_left_out is None:
        warn_with_examples(f"image files in {plan.root} could not be decoded", unreadable, "skipping them")
    if upscaled:
        warn_with_examples(
            f"images are smaller than {plan.image_size}x{plan.image_size} after cropping",
            upscaled,
            "upscaling them, which blurs them; use a smaller image size or larger images",
        )
    if plan.report_left_out is not None:
        plan.report_left_out(kept, unreadable)
    if plan.attribute_rows is None:
        return None
    return np.stack([plan.attribute_rows[name] for name in kept]).astype(np.uint8)


def decode_in_memory(plan: DecodePlan, progress: bool) -> ImageDataset:
    """Decode every file of the plan into one in-memory uint8 tensor (the cache streams to disk instead).

    Raises UserError, before decoding anything, when the images need more memory than the machine has free.
    """
    refuse_beyond_memory(
        plan.nbytes,
        f"the {len(plan.names)} images of {plan.source}",
        plan.image_size,
        ", and the data cache that would map them from disk could not be written: give it a folder with room "
        "(UNNOISE_CACHE)",
    )
    pixels = np.empty((len(plan.names), 3, plan.image_size, plan.image_size), dtype=np.uint8)  # (N, 3, S, S)
    kept: list[str] = []
    unreadable: list[str] = []
    upscaled: list[str] = []
    with progress_bar(plan, progress) as bar:
        for decoded in decode_each(plan):
            bar.update()
            if decoded.pixels is None:
                unreadable.append(decoded.name)
                continue
            pixels[len(kept)] = decoded.pixels
            kept.append(decoded.name)
            if decoded.upscaled:
                upscaled.append(decoded.name)
    attributes = finish_decoding(plan, kept, unreadable, upscaled)
    return ImageDataset(
        images=torch.from_numpy(pixels[: len(kept)]),
        names=kept,
        attribute_names=plan.attribute_names if attributes is not None else [],
        attributes=None if attributes is None else torch.from_numpy(attributes),
        source=plan.source,
    )


def decode_images(
    root: Path, names: list[str], crop_box: CropBox, image_size: int, progress: bool, report_unreadable: bool = True
) -> tuple[torch.Tensor, list[str]]:
    """Decode root/name for each name, crop and resize; returns (N, 3, S, S) uint8 and the names kept.

    Files that cannot be decoded are skipped with a warning, or silently with report_unreadable=False, for a caller
    that reports them in its own line (they are the names not kept). Raises UserError when none can be decoded.
    """
    plan = DecodePlan(root, names, crop_box, image_size, source="")
    if not report_unreadable:
        plan.report_left_out = lambda kept, unreadable: None
    dataset = decode_in_memory(plan, progress)
    return dataset.images, dataset.names
