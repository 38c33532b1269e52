"""The one loader of pictures handed in (CLI, API, web upload): upright, RGB, and bounded in pixels before decoding."""

import warnings

import numpy as np
import pytest
from PIL import Image

from unnoise.data.decoding import open_image
from unnoise.errors import UserError

from .make_files import BLUE, RED, huge_png_bytes, write_image, write_rotated_jpeg


def close_to(colour, expected, tolerance=12) -> bool:
    return bool(np.abs(np.subtract(colour, expected)).max() <= tolerance)


@pytest.mark.parametrize("given_as", ["path", "bytes"])
def test_the_exif_orientation_is_applied_to_a_path_and_to_bytes(tmp_path, given_as):
    path = write_rotated_jpeg(tmp_path / "phone.jpg")
    stored = Image.open(path).convert("RGB")
    assert close_to(stored.getpixel((16, 4)), RED) and close_to(stored.getpixel((16, 28)), BLUE)  # as stored
    picture = open_image(path if given_as == "path" else path.read_bytes())
    assert picture.mode == "RGB" and picture.size == (32, 32)
    assert close_to(picture.getpixel((4, 16)), BLUE) and close_to(picture.getpixel((28, 16)), RED)  # upright


def test_transparency_and_greyscale_become_rgb_as_in_training(tmp_path):
    transparent = write_image(tmp_path / "clear.png", (0, 0, 0, 0), mode="RGBA")
    grey = write_image(tmp_path / "grey.png", 90, mode="L")
    assert open_image(transparent).getpixel((3, 3)) == (255, 255, 255)
    assert open_image(grey.read_bytes()).getpixel((3, 3)) == (90, 90, 90)


def test_more_pixels_than_the_limit_are_refused_from_the_header_before_decoding():
    # The pixel data is cut short: decoding would fail as 'not an image', so the limit's message shows that the
    # refusal came from the header alone.
    truncated = huge_png_bytes()[:2000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # PIL's own notice on opening; decoded never
        with pytest.raises(UserError) as refused:
            open_image(truncated, max_pixels=40_000_000)
    assert str(refused.value) == (
        "the image is 12000x12000 pixels (144 megapixels), more than the limit of 40 megapixels; make it smaller first"
    )
    assert open_image(huge_png_bytes(3000, 2000), max_pixels=6_000_000).size == (3000, 2000)  # at the limit: read


def test_missing_non_image_and_folder_paths_are_one_line_user_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(UserError, match=f"^no such image: {tmp_path / 'missing.png'}$"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(UserError, match=r"notes.txt is not an image Pillow can read \(PNG, JPEG, WebP, ...\)$"):
        open_image(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="^the file is not an image Pillow can read"):
        open_image(b"not an image")
    with pytest.raises(UserError, match=f"^cannot read {tmp_path}: Is a directory$"):
        open_image(tmp_path)
