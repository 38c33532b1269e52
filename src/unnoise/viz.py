"""Pictures people look at: sample grids, labelled strips (noising, trajectories) and loss curves, as PNG.

Images come in as uint8 tensors (N, 3, H, W); everything here is drawn with Pillow.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_path

BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)


def to_pil(image: torch.Tensor) -> Image.Image:
    """One uint8 image (3, H, W) as a PIL image."""
    return Image.fromarray(image.permute(1, 2, 0).cpu().numpy())


def display_scale(image_size: int, target: int = 64) -> int:
    """An integer upscale so that small images (32x32) are comfortable to look at."""
    return max(1, target // image_size)


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2, scale: int = 1) -> Image.Image:
    """Tile (N, 3, H, W) uint8 images into a near-square grid, each upscaled `scale` times (nearest)."""
    count, _, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    cell_h, cell_w = height * scale, width * scale
    grid = Image.new("RGB", (columns * (cell_w + padding) + padding, rows * (cell_h + padding) + padding), BACKGROUND)
    for index in range(count):
        row, column = divmod(index, columns)
        tile = to_pil(images[index]).resize((cell_w, cell_h), Image.Resampling.NEAREST)
        grid.paste(tile, (padding + column * (cell_w + padding), padding + row * (cell_h + padding)))
    return grid


def labelled_rows(rows: Sequence[torch.Tensor], labels: Sequence[str], scale: int = 1, padding: int = 2) -> Image.Image:
    """Rows of images (each (K, 3, H, W)) with one label under each column, e.g. 't=500'."""
    font = ImageFont.load_default()
    columns = len(labels)
    height, width = rows[0].shape[-2] * scale, rows[0].shape[-1] * scale
    label_height = 14
    canvas = Image.new(
        "RGB", (columns * (width + padding) + padding, len(rows) * (height + padding) + padding + label_height), BACKGROUND
    )
    for row_index, row in enumerate(rows):
        for column in range(columns):
            tile = to_pil(row[column]).resize((width, height), Image.Resampling.NEAREST)
            canvas.paste(tile, (padding + column * (width + padding), padding + row_index * (height + padding)))
    draw = ImageDraw.Draw(canvas)
    label_top = padding + len(rows) * (height + padding)
    for column, label in enumerate(labels):
        left = padding + column * (width + padding)
        text_width = draw.textlength(label, font=font)
        draw.text((left + (width - text_width) / 2, label_top), label, fill=INK, font=font)
    return canvas


def line_plot(xs: Sequence[float], ys: Sequence[float], title: str, size: tuple[int, int] = (640, 360)) -> Image.Image:
    """A minimal line chart (log-scale y when the values span more than a decade), e.g. loss against step."""
    font = ImageFont.load_default()
    width, height = size
    left, right, top, bottom = 60, 20, 28, 36
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 8), title, fill=INK, font=font)
    xs_array, ys_array = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    keep = np.isfinite(ys_array)
    xs_array, ys_array = xs_array[keep], ys_array[keep]
    if len(xs_array) < 2:
        return canvas
    log_scale = ys_array.min() > 0 and ys_array.max() / ys_array.min() > 10
    values = np.log10(ys_array) if log_scale else ys_array
    x_low, x_high = xs_array.min(), max(xs_array.max(), xs_array.min() + 1)
    y_low, y_high = values.min(), max(values.max(), values.min() + 1e-12)

    def position(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x_low) / (x_high - x_low) * (width - left - right),
            height - bottom - (y - y_low) / (y_high - y_low) * (height - top - bottom),
        )

    draw.rectangle([left, top, width - right, height - bottom], outline=INK)
    for fraction in (0.0, 0.5, 1.0):
        y_value = y_low + fraction * (y_high - y_low)
        shown = 10**y_value if log_scale else y_value
        _, y_pixel = position(x_low, y_value)
        draw.text((4, y_pixel - 6), f"{shown:.3g}", fill=INK, font=font)
        x_value = x_low + fraction * (x_high - x_low)
        x_pixel, _ = position(x_value, y_low)
        draw.text((x_pixel - 12, height - bottom + 6), f"{x_value:.0f}", fill=INK, font=font)
    draw.line([position(x, y) for x, y in zip(xs_array, values)], fill=(200, 60, 40), width=2)
    return canvas


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write a PNG atomically (the folder is created if needed); returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as temporary:
        image.save(temporary, format="PNG")
    return path


def save_grid(images: torch.Tensor, path: str | Path, columns: int | None = None) -> Path:
    """Save (N, 3, H, W) uint8 images as one PNG grid, small images upscaled for viewing."""
    return save_png(image_grid(images, columns, scale=display_scale(images.shape[-1])), path)


def save_images(images: torch.Tensor, folder: str | Path, prefix: str = "sample") -> list[Path]:
    """Save each image as its own PNG: folder/sample_00000.png, ..."""
    return [save_png(to_pil(image), Path(folder) / f"{prefix}_{index:05d}.png") for index, image in enumerate(images)]
