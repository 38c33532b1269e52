import numpy as np
import pytest
import torch
from PIL import Image

from unnoise.data.transforms import (
    celeba_crop_box,
    center_square_box,
    crop_and_resize,
    load_rgb,
    random_horizontal_flip,
    to_model_range,
    to_rgb,
    to_uint8,
)

from .make_files import write_image


def pixel(image: Image.Image) -> tuple[int, int, int]:
    assert image.mode == "RGB"
    return image.getpixel((0, 0))


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("RGB", (10, 20, 30), (10, 20, 30)),
        ("L", 77, (77, 77, 77)),
        ("1", 1, (255, 255, 255)),
        ("RGBA", (10, 20, 30, 0), (255, 255, 255)),  # fully transparent -> white
        ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
        ("RGBA", (0, 0, 0, 128), (127, 127, 127)),  # half black over white
        ("LA", (0, 0), (255, 255, 255)),
        ("LA", (40, 255), (40, 40, 40)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
        ("I;16", 257 * 100, (100, 100, 100)),  # scaled, not clipped at 255
        ("F", 0.5, (128, 128, 128)),  # float in 0..1, not black
        ("F", 1.0, (255, 255, 255)),
        ("F", 77.0, (77, 77, 77)),  # float beyond 1: already 0..255
        ("F", 300.0, (255, 255, 255)),
    ],
)
def test_to_rgb_converts_each_mode(mode, value, expected):
    assert pixel(to_rgb(Image.new(mode, (2, 2), value))) == expected


def test_a_float_tiff_in_0_to_1_is_read_as_its_grey_levels(tmp_path):
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    Image.fromarray(ramp).save(tmp_path / "float.tif")
    grey = np.asarray(load_rgb(tmp_path / "float.tif"))[..., 0]
    assert np.array_equal(grey, np.rint(ramp * 255).astype(np.uint8))


def test_float_images_in_minus_one_to_one_and_with_nan_or_infinity_are_read_by_their_finite_values():
    signed = Image.fromarray(np.array([[-1.0, 0.0], [0.5, 1.0]], dtype=np.float32))
    assert np.asarray(to_rgb(signed))[..., 0].tolist() == [[0, 128], [191, 255]]
    broken = Image.fromarray(np.array([[np.nan, np.inf], [0.5, -np.inf]], dtype=np.float32))
    assert np.asarray(to_rgb(broken))[..., 0].tolist() == [[0, 255], [128, 0]]  # one inf does not darken the rest


def test_palette_images_with_and_without_transparency(tmp_path):
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    palette.save(tmp_path / "opaque.png")
    palette.save(tmp_path / "transparent.png", transparency=1)
    assert pixel(load_rgb(tmp_path / "opaque.png")) == (200, 30, 40)
    assert pixel(load_rgb(tmp_path / "transparent.png")) == (255, 255, 255)


def test_sixteen_bit_png_and_cmyk_jpeg_files(tmp_path):
    Image.fromarray(np.full((4, 4), 257 * 60, dtype=np.uint16)).save(tmp_path / "deep.png")
    write_image(tmp_path / "print.jpg", (0, 255, 255, 0), mode="CMYK", quality=100)
    assert pixel(load_rgb(tmp_path / "deep.png")) == (60, 60, 60)
    assert np.abs(np.subtract(pixel(load_rgb(tmp_path / "print.jpg")), (255, 0, 0))).max() <= 3


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    write_image(tmp_path / "phone.jpg", size=(40, 20), exif=exif)
    assert load_rgb(tmp_path / "phone.jpg").size == (20, 40)


def test_big_jpeg_is_decoded_smaller_but_resizes_to_nearly_the_same(tmp_path):
    pixels = np.zeros((1200, 1600, 3), dtype=np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, 1600, dtype=np.uint8)  # smooth, so scaled decoding barely differs
    pixels[:, :, 1] = np.linspace(0, 255, 1200, dtype=np.uint8)[:, None]
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=95)
    full = load_rgb(tmp_path / "big.jpg")
    drafted = load_rgb(tmp_path / "big.jpg", center_square_box, 32)
    assert full.size == (1600, 1200)
    assert 4 * 32 <= min(drafted.size) < 1200
    small_full = np.asarray(crop_and_resize(full, center_square_box(*full.size), 32), dtype=float)
    small_drafted = np.asarray(crop_and_resize(drafted, center_square_box(*drafted.size), 32), dtype=float)
    assert np.abs(small_full - small_drafted).mean() < 2


def test_center_square_box():
    assert center_square_box(100, 60) == (20, 0, 80, 60)
    assert center_square_box(60, 100) == (0, 20, 60, 80)
    assert center_square_box(5, 2) == (1.5, 0, 3.5, 2)


def test_celeba_crop_box_scales_with_the_image():
    assert celeba_crop_box(178, 218) == (19, 39, 159, 179)
    assert celeba_crop_box(89, 109) == (9.5, 19.5, 79.5, 89.5)


def test_crop_and_resize_equals_crop_then_resize_for_integer_boxes_except_at_the_border():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    box = (5, 3, 37, 35)
    for size in (8, 16, 20, 32):
        ours = np.asarray(crop_and_resize(image, box, size))
        cropped_first = np.asarray(image.crop(box).resize((size, size), Image.Resampling.BILINEAR))
        assert np.array_equal(ours[1:-1, 1:-1], cropped_first[1:-1, 1:-1])
        # On the outer ring the filter reads the true pixels beyond the box, where a crop has none.
        assert size == 32 or not np.array_equal(ours[0], cropped_first[0])


def test_crop_and_resize_averages_when_shrinking():
    stripes = Image.fromarray(np.tile(np.array([0, 255], dtype=np.uint8), (64, 32))).convert("RGB")  # 1 px stripes
    small = np.asarray(crop_and_resize(stripes, (0, 0, 64, 64), 8), dtype=float)
    assert np.abs(small[:, 1:-1] - 127.5).max() <= 1  # without antialiasing it would alias to 0 or 255
    assert np.abs(small - 127.5).max() < 8  # the edge columns see only part of the filter


def asymmetric_batch(count: int) -> torch.Tensor:
    return torch.arange(count * 3 * 2 * 4, dtype=torch.float32).reshape(count, 3, 2, 4)


def test_flip_mirrors_exactly_the_chosen_images():
    batch = asymmetric_batch(64)
    flipped = random_horizontal_flip(batch, torch.Generator().manual_seed(0))
    mirrored = (flipped == batch.flip(-1)).flatten(1).all(1)
    untouched = (flipped == batch).flatten(1).all(1)
    assert torch.all(mirrored ^ untouched)  # every image is either fully mirrored or untouched
    assert 0 < mirrored.sum() < 64


def test_flip_is_reproducible_and_depends_on_the_generator():
    batch = asymmetric_batch(64)

    def flip(seed):
        return random_horizontal_flip(batch, torch.Generator().manual_seed(seed))

    assert torch.equal(flip(1), flip(1))
    assert not torch.equal(flip(1), flip(2))
    generator = torch.Generator().manual_seed(1)
    first, second = random_horizontal_flip(batch, generator), random_horizontal_flip(batch, generator)
    assert not torch.equal(first, second)  # the generator advances, so batches get fresh flips


def test_flip_flips_about_half_and_keeps_dtype():
    batch = asymmetric_batch(2000).to(torch.uint8)
    flipped = random_horizontal_flip(batch, torch.Generator().manual_seed(3))
    fraction = (flipped != batch).flatten(1).any(1).float().mean().item()
    assert flipped.dtype == torch.uint8
    assert 0.45 < fraction < 0.55


def test_model_range_round_trip_and_ends():
    pixels = torch.arange(256, dtype=torch.uint8)
    scaled = to_model_range(pixels)
    assert scaled.dtype == torch.float32
    assert scaled[0] == -1 and scaled[-1] == 1
    assert torch.equal(to_uint8(scaled), pixels)


def test_to_uint8_rounds_and_clamps():
    values = torch.tensor([-3.0, 3.0, 0.0, 127.6 / 127.5 - 1, 127.4 / 127.5 - 1])
    assert to_uint8(values).tolist() == [0, 255, 128, 128, 127]
