"""Reading the columns back out of a noising strip (labelled_rows: 2-pixel padding, small images upscaled)."""

import numpy as np
from PIL import Image

PADDING = 2


def strip_columns(strip: Image.Image, size: int) -> list[np.ndarray]:
    """The images of a one-row strip of size x size pictures, back at size x size: uint8 (size, size, 3) each."""
    pixels = np.asarray(strip.convert("RGB"))
    scale = max(1, 128 // size)
    shown = size * scale
    count = (pixels.shape[1] - PADDING) // (shown + PADDING)
    return [
        pixels[PADDING : PADDING + shown : scale, left : left + shown : scale]
        for left in (PADDING + column * (shown + PADDING) for column in range(count))
    ]
