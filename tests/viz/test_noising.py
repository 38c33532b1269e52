"""The forward-process strip of the Python API: the image as a person sees it, under the schedule it is given."""

import numpy as np
import torch
from PIL import Image

import unnoise
from tests.data.make_files import BLUE, RED, write_rotated_jpeg
from unnoise.diffusion.schedules import make_schedule
from unnoise.viz.noising import noising_strip, noising_timesteps

from .strips import strip_columns


def test_the_classic_timesteps_scale_with_T():
    assert noising_timesteps(1000) == [0, 50, 100, 200, 400, 700, 999]
    assert noising_timesteps(100) == [0, 5, 10, 20, 40, 70, 99]


def test_a_phone_photo_is_shown_upright_from_a_path_or_its_bytes(tmp_path):
    photo = write_rotated_jpeg(tmp_path / "phone.jpg")
    for given in (photo, photo.read_bytes()):
        first = strip_columns(unnoise.noising_strip(given, size=16), 16)[0].astype(int)  # t = 0: the image itself
        assert np.abs(first[8, 2] - BLUE).max() < 20 and np.abs(first[8, 13] - RED).max() < 20


def test_a_schedule_object_is_used_whole_with_its_own_timesteps(tmp_path):
    """x_t at the last step is exactly the noise under zero terminal SNR, and keeps the image otherwise."""
    picture = tmp_path / "face.png"
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(picture)
    noise = torch.randn((1, 3, 16, 16), generator=torch.Generator().manual_seed(0))[0].permute(1, 2, 0)
    pure_noise = ((noise.double() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    zero_snr = noising_strip(picture, schedule=make_schedule("linear", 100, zero_terminal_snr=True), size=16)
    columns = strip_columns(zero_snr, 16)
    assert len(columns) == 7 and np.abs(columns[-1].astype(int) - pure_noise).max() <= 1
    plain = strip_columns(noising_strip(picture, schedule=make_schedule("linear", 100), size=16), 16)
    assert np.abs(plain[-1].astype(int) - pure_noise).mean() > 10
