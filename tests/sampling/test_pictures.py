"""What people hand the editing tools, converted where the intent is clear and refused in one line where not."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from unnoise.errors import UserError
from unnoise.sampling.pictures import masks_for_run, noise_for_run, pictures_for_run

SIZE = 16


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def square_mask_pixels(side=32, low=0, high=255):
    pixels = np.full((side, side), low, np.uint8)
    pixels[: side // 2] = high  # the top half is to be redrawn
    return pixels


def test_pictures_of_any_size_and_kind_become_the_runs_size():
    wide = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 60, 3), dtype=np.uint8))
    from_pil = pictures_for_run(wide, SIZE)
    assert from_pil.shape == (1, 3, SIZE, SIZE) and from_pil.dtype == torch.uint8
    assert torch.equal(pictures_for_run(png_bytes(wide), SIZE), from_pil)  # a file's bytes read the same way
    pixels = torch.from_numpy(np.array(wide)).permute(2, 0, 1)
    assert torch.equal(pictures_for_run(pixels, SIZE), from_pil)  # uint8 tensors of any size too
    exact = torch.randint(0, 256, (2, 3, SIZE, SIZE), dtype=torch.uint8)
    assert torch.equal(pictures_for_run(exact, SIZE), exact)  # the run's size: untouched
    assert pictures_for_run([wide, exact[0]], SIZE).shape == (2, 3, SIZE, SIZE)
    gray = Image.fromarray(np.full((20, 20), 77, np.uint8))
    assert (pictures_for_run(gray, SIZE) == 77).all()  # grayscale as RGB


def test_pictures_that_cannot_be_meant_are_refused_naming_the_setting():
    for bad, message in [
        (torch.rand(3, SIZE, SIZE), "uint8 pixels"),
        (torch.zeros(4, SIZE, SIZE, dtype=torch.uint8), "shape"),
        (b"not an image", "not an image"),
        ([], "names no picture"),
    ]:
        with pytest.raises(UserError, match=message) as refused:
            pictures_for_run(bad, SIZE)
        assert refused.value.settings in ((), ("image",))


def test_grayscale_rgba_palette_and_16_bit_masks_are_thresholded_at_half():
    expected = torch.zeros(1, 1, SIZE, SIZE, dtype=torch.bool)
    expected[..., : SIZE // 2, :] = True
    pixels = square_mask_pixels()
    strokes = np.zeros((32, 32, 4), np.uint8)  # white strokes on a transparent background, as a drawing program saves
    strokes[:16] = 255
    kinds = {
        "L": Image.fromarray(pixels),
        "L, soft edges": Image.fromarray(square_mask_pixels(high=200)),  # 200 > 50%: redraw
        "1": Image.fromarray(pixels).convert("1"),
        "RGB": Image.fromarray(pixels).convert("RGB"),
        "RGBA strokes": Image.fromarray(strokes, "RGBA"),
        "P": Image.fromarray(pixels).convert("P"),
        "I;16": Image.fromarray(pixels.astype(np.uint16) * 257),
    }
    for name, mask in kinds.items():
        assert torch.equal(masks_for_run(mask, SIZE), expected), name
        assert torch.equal(masks_for_run(png_bytes(mask), SIZE), expected), name
    for tensor in [torch.from_numpy(pixels) > 127, torch.from_numpy(pixels), torch.from_numpy(pixels) / 255.0]:
        assert torch.equal(masks_for_run(tensor, SIZE), expected)
        assert torch.equal(masks_for_run(tensor[None, None], SIZE), expected)


def test_masks_that_are_not_masks_are_refused_naming_the_setting():
    colour = Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8))
    for bad, message in [
        (colour, "must be black and white"),
        (Image.fromarray(np.zeros((20, 20), np.uint8)), "marks no pixel to redraw"),
        (Image.fromarray(square_mask_pixels(high=100)), "marks no pixel to redraw"),  # 100 < 50%: nothing
        (b"not an image", "is not an image"),
        (torch.full((SIZE, SIZE), 2.0), "must lie in \\[0, 1\\]"),
        (torch.ones(2, 3, SIZE, SIZE), "shape"),
    ]:
        with pytest.raises(UserError, match=message) as refused:
            masks_for_run(bad, SIZE)
        assert refused.value.settings == ("mask",)


def test_a_mask_is_read_upright_as_a_picture_is():
    pixels = np.zeros((64, 64), np.uint8)
    pixels[:8] = 255  # a band along the top, stored sideways: EXIF orientation 6 turns it into a band at one side
    exif = Image.Exif()
    exif[0x0112] = 6
    for format_name in ("PNG", "JPEG"):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=format_name, exif=exif)
        redraw = masks_for_run(buffer.getvalue(), SIZE)[0, 0]
        upright = np.array(ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue())))) >= 128
        assert upright[:, -8:].all() and not upright[:8, :8].any()
        assert redraw[:, -2:].all() and not redraw[:2, :4].any(), format_name


def test_numpy_pictures_and_masks_are_taken_as_numpy_lays_them_out():
    picture = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    assert torch.equal(pictures_for_run(picture, SIZE), torch.from_numpy(picture).permute(2, 0, 1)[None])
    mask = square_mask_pixels(SIZE)
    assert torch.equal(masks_for_run(mask, SIZE), masks_for_run(torch.from_numpy(mask), SIZE))
    assert torch.equal(masks_for_run(mask > 0, SIZE), masks_for_run(torch.from_numpy(mask > 0), SIZE))
    for bad, message in (
        (np.zeros((3, SIZE, SIZE), np.uint8), "as a numpy array must be uint8 pixels (H, W), (H, W, 3)"),
        (np.zeros((SIZE, SIZE, 3), np.float32), "as a numpy array must be uint8 pixels"),
        (3, "image must be a path, a file's bytes, a PIL image, uint8 pixels"),
        (torch.zeros(3, 0, SIZE, dtype=torch.uint8), "image has no pixels"),
    ):
        with pytest.raises(UserError, match=re.escape(message)):
            pictures_for_run(bad, SIZE)
    with pytest.raises(UserError, match="mask must be a path, a file's bytes, a PIL image, a bool"):
        masks_for_run(3.5, SIZE)


def test_mask_files_get_messages_that_say_mask(monkeypatch):
    with pytest.raises(UserError, match=r"^mask upload is not an image Pillow can read"):
        masks_for_run(b"not a picture", SIZE)
    monkeypatch.setattr("unnoise.sampling.pictures.MAX_MASK_PIXELS", 100)
    with pytest.raises(UserError, match=r"^mask upload is 32x32 pixels \(0 megapixels\), more than the limit .* mask"):
        masks_for_run(png_bytes(Image.fromarray(square_mask_pixels())), SIZE)


def test_noise_to_reconstruct_from_is_checked():
    assert noise_for_run(torch.zeros(2, 3, SIZE, SIZE), (3, SIZE, SIZE)).shape == (2, 3, SIZE, SIZE)
    for bad, message in (
        ([torch.zeros(3, SIZE, SIZE)], "noise must be a float tensor (N, 3, 16, 16), got list"),
        (torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8), "noise must be a float tensor"),
        (torch.zeros(3, SIZE, SIZE), "noise must have shape (N, 3, 16, 16) for this run, got (3, 16, 16)"),
        (torch.zeros(1, 3, 8, 8), "got (1, 3, 8, 8)"),
        (torch.full((1, 3, SIZE, SIZE), float("nan")), "noise holds values that are not finite"),
    ):
        with pytest.raises(UserError, match=re.escape(message)) as refused:
            noise_for_run(bad, (3, SIZE, SIZE))
        assert refused.value.settings == ("noise",)
