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

from ..errors import UserError
from ..storage.atomic import atomic_path, refuse_unwritable_folder

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
        "RGB",
        (columns * (width + padding) + padding, len(rows) * (height + padding) + padding + label_height),
        BACKGROUND,
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


def captioned_rows(
    rows: Sequence[torch.Tensor], captions: Sequence[str], scale: int = 1, padding: int = 2
) -> Image.Image:
    """Rows of images (each (K, 3, H, W)), each row with its caption on the left, e.g. the prompt that made it."""
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = int(max(measure.textlength(caption, font=font) for caption in captions)) + 3 * padding
    height, width = rows[0].shape[-2] * scale, rows[0].shape[-1] * scale
    columns = max(len(row) for row in rows)
    canvas = Image.new(
        "RGB",
        (text_width + columns * (width + padding) + padding, len(rows) * (height + padding) + padding),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    for row_index, (row, caption) in enumerate(zip(rows, captions)):
        top = padding + row_index * (height + padding)
        draw.text((padding, top + height / 2 - 6), caption, fill=INK, font=font)
        for column in range(len(row)):
            tile = to_pil(row[column]).resize((width, height), Image.Resampling.NEAREST)
            canvas.paste(tile, (text_width + column * (width + padding), top))
    return canvas


def titled_panels(panels: Sequence[Image.Image], titles: Sequence[str], padding: int = 8) -> Image.Image:
    """Pictures side by side, each with its title above, e.g. one sample grid per model."""
    font = ImageFont.load_default()
    title_height = 16
    width = sum(panel.width for panel in panels) + padding * (len(panels) + 1)
    height = max(panel.height for panel in panels) + title_height + 2 * padding
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    left = padding
    for panel, title in zip(panels, titles):
        draw.text((left + (panel.width - draw.textlength(title, font=font)) / 2, padding), title, fill=INK, font=font)
        canvas.paste(panel, (left, padding + title_height))
        left += panel.width + padding
    return canvas


PALETTE = [
    (200, 60, 40),
    (40, 100, 200),
    (40, 150, 60),
    (150, 60, 170),
    (230, 140, 20),
    (20, 160, 170),
    (120, 120, 120),
    (180, 40, 120),
    (90, 60, 20),
    (0, 0, 0),
]


def tick_label(value: float, spacing: float) -> str:
    """A linear axis's tick with the decimals its spacing needs to tell neighbours apart (26.05, 26.10, 26.15, not
    26.1 three times); a flat axis (spacing ~0) gets 4 significant digits."""
    if not spacing > 1e-8 * max(1.0, abs(value)):
        return f"{value:.4g}"
    decimals = min(6, max(0, -math.floor(math.log10(spacing))))
    return f"{value:.{decimals}f}"


def line_chart(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    x_label: str = "",
    log_x: bool = False,
    log_y: bool | None = None,
    size: tuple[int, int] = (720, 420),
) -> Image.Image:
    """Lines (name -> (xs, ys)) on shared axes with a legend; log_y=None picks log when y spans over a decade."""
    font = ImageFont.load_default()
    width, height = size
    legend_width = 150 if len(series) > 1 else 0
    left, right, top, bottom = 60, 20 + legend_width, 28, 40
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 8), title, fill=INK, font=font)
    cleaned = {}
    for name, (xs, ys) in series.items():
        xs_array, ys_array = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        keep = np.isfinite(xs_array) & np.isfinite(ys_array) & ((xs_array > 0) if log_x else True)
        if keep.any():
            cleaned[name] = (xs_array[keep], ys_array[keep])
    if not cleaned:
        return canvas
    all_x = np.concatenate([xs for xs, _ in cleaned.values()])
    all_y = np.concatenate([ys for _, ys in cleaned.values()])
    if log_y is None:
        log_y = bool(all_y.min() > 0 and all_y.max() / all_y.min() > 10)
    fx = np.log10 if log_x else (lambda v: v)
    fy = np.log10 if log_y else (lambda v: v)
    x_low, x_high = fx(all_x).min(), fx(all_x).max()
    y_low, y_high = fy(all_y).min(), fy(all_y).max()
    x_high, y_high = max(x_high, x_low + 1e-9), max(y_high, y_low + 1e-9)

    def position(x: float, y: float) -> tuple[float, float]:
        return (
            left + (fx(x) - x_low) / (x_high - x_low) * (width - left - right),
            height - bottom - (fy(y) - y_low) / (y_high - y_low) * (height - top - bottom),
        )

    draw.rectangle([left, top, width - right, height - bottom], outline=INK)
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y_value = 10 ** (y_low + fraction * (y_high - y_low)) if log_y else y_low + fraction * (y_high - y_low)
        label = f"{y_value:.3g}" if log_y else tick_label(y_value, (y_high - y_low) / 4)
        draw.text((4, position(all_x.min(), y_value)[1] - 6), label, fill=INK, font=font)
    x_ticks = (
        np.unique(all_x)
        if log_x and len(np.unique(all_x)) <= 12
        else [10 ** (x_low + f * (x_high - x_low)) if log_x else x_low + f * (x_high - x_low) for f in (0.0, 0.5, 1.0)]
    )
    for x_value in x_ticks:
        x_pixel = position(x_value, all_y.min())[0]
        label = f"{x_value:.4g}" if log_x else tick_label(x_value, (x_high - x_low) / 2)
        draw.text((x_pixel - 10, height - bottom + 6), label, fill=INK, font=font)
    if x_label:
        draw.text((left + (width - left - right) / 2 - 20, height - 16), x_label, fill=INK, font=font)
    for index, (name, (xs, ys)) in enumerate(cleaned.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = [position(x, y) for x, y in zip(xs, ys)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points if len(points) < 30 else []:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        if legend_width:
            legend_y = top + 4 + 14 * index
            draw.line(
                [(width - legend_width, legend_y + 6), (width - legend_width + 16, legend_y + 6)], fill=colour, width=3
            )
            draw.text((width - legend_width + 22, legend_y), name, fill=INK, font=font)
    return canvas


# The formats a user's file name may ask for; JPEG at high quality, since these are pictures people look at.
PICTURE_FORMATS = {".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 95}), ".jpeg": ("JPEG", {"quality": 95})}
PICTURE_FORMATS[".webp"] = ("WEBP", {"lossless": True})


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write a PNG atomically (the folder is created if needed); returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as temporary:
        image.save(temporary, format="PNG")
    return path


def save_picture(image: Image.Image, path: str | Path) -> Path:
    """Write an image atomically in the format its name asks for (.png, .jpg/.jpeg, .webp); returns the path.

    Raises UserError (setting `out`) for any other suffix, rather than writing PNG bytes under a misleading name.
    """
    path = check_picture_path(path)
    format_name, options = PICTURE_FORMATS[path.suffix.lower()]
    with atomic_path(path, suffix=path.suffix) as temporary:
        image.save(temporary, format=format_name, **options)
    return path


def check_picture_path(path: str | Path) -> Path:
    """path, if save_picture can write there: a picture suffix, and not a device, folder or empty name. Call it
    before the work whose result it will hold. Raises UserError (setting `out`) or WriteError naming the path."""
    refuse_unwritable_folder(path)
    path = Path(path)
    if path.suffix.lower() not in PICTURE_FORMATS:
        raise UserError(
            f"out {path} names no picture format unnoise writes; end it in {', '.join(PICTURE_FORMATS)}",
            settings=("out",),
        )
    return path


def save_grid(images: torch.Tensor, path: str | Path, columns: int | None = None) -> Path:
    """Save (N, 3, H, W) uint8 images as one grid picture (PNG, or JPEG/WebP as path's suffix says; UserError for
    another suffix), small images upscaled for viewing."""
    return save_picture(image_grid(images, columns, scale=display_scale(images.shape[-1])), path)


def save_images(images: torch.Tensor, folder: str | Path, prefix: str = "sample") -> list[Path]:
    """Save each image as its own PNG: folder/sample_00000.png, ..."""
    return [save_png(to_pil(image), Path(folder) / f"{prefix}_{index:05d}.png") for index, image in enumerate(images)]
