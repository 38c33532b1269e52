"""The forward process as a picture: an image and the same noise at growing t."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..data.transforms import center_square_box, crop_and_resize, images_from_model_range, load_rgb, to_model_range
from ..diffusion.process import q_sample
from ..diffusion.schedules import NoiseSchedule, make_schedule
from ..errors import UserError
from . import labelled_rows


def noising_strip(
    image_path: str | Path,
    timesteps: Sequence[int] = (0, 50, 100, 200, 400, 700, 999),
    schedule: str = "linear",
    num_timesteps: int = 1000,
    size: int = 64,
    seed: int = 0,
) -> Image.Image:
    """The forward process as a picture: an image and one noise at growing t, x_t = sqrt(ab) x_0 + sqrt(1-ab) eps."""
    path = Path(image_path)
    try:
        picture = load_rgb(path)
    except FileNotFoundError:
        raise UserError(f"no such image: {path}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UserError(f"cannot read {path} as an image ({type(error).__name__})") from None
    return noising_strip_from_image(
        square_pixels(picture, size), timesteps, make_schedule(schedule, num_timesteps), seed
    )


def square_pixels(picture: Image.Image, size: int) -> torch.Tensor:
    """An RGB picture's centre square at size x size, as uint8 (3, size, size)."""
    return torch.from_numpy(np.array(crop_and_resize(picture, center_square_box(*picture.size), size))).permute(2, 0, 1)


def noising_strip_from_image(
    image: torch.Tensor,
    timesteps: Sequence[int] = (0, 50, 100, 200, 400, 700, 999),
    schedule: NoiseSchedule | None = None,
    seed: int = 0,
) -> Image.Image:
    """noising_strip for one uint8 image (3, H, W) already in memory, under `schedule` (default: linear, T = 1000)."""
    noise_schedule = schedule or make_schedule()
    num_timesteps = noise_schedule.timesteps
    bad = [t for t in timesteps if not 0 <= t < num_timesteps]
    if bad:
        raise UserError(
            f"timesteps must lie in 0..{num_timesteps - 1}; got {', '.join(map(str, bad))}", settings=("timesteps",)
        )
    x0 = to_model_range(image[None])  # (1, 3, H, W)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    t = torch.tensor(list(timesteps))
    x_t = q_sample(x0.expand(len(t), -1, -1, -1), noise_schedule.alpha_bar[t], noise.expand(len(t), -1, -1, -1))
    return labelled_rows(
        [images_from_model_range(x_t)], [f"t={step}" for step in timesteps], scale=max(1, 128 // image.shape[-1])
    )
