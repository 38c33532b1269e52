"""Pictures people look at: sample grids, labelled strips, line charts, the forward process of an image."""

from .images import (
    captioned_rows,
    check_picture_path,
    display_scale,
    image_grid,
    labelled_rows,
    line_chart,
    save_grid,
    save_images,
    save_picture,
    save_png,
    titled_panels,
    to_pil,
)

__all__ = [
    "captioned_rows",
    "check_picture_path",
    "display_scale",
    "image_grid",
    "labelled_rows",
    "line_chart",
    "save_grid",
    "save_images",
    "save_picture",
    "save_png",
    "titled_panels",
    "to_pil",
]
