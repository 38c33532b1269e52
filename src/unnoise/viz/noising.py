"""The forward process as a picture: an image and the same noise at growing t."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..data.decoding import open_image
from ..data.transforms import center_square_box, crop_and_resize, images_from_model_range, to_model_range
from ..diffusion.process import q_sample
from ..diffusion.schedules import NoiseSchedule, make_schedule
from ..errors import UserError
from . import labelled_rows


def noising_timesteps(total: int) -> list[int]:
    """Seven timesteps from the data to pure noise, spread as the classic strip is: 0, T/20, T/10, T/5, 2T/5, 7T/10,
    T-1 (for T = 1000: 0, 50, 100, 200, 400, 700, 999)."""
    return sorted({0, total // 20, total // 10, total // 5, 2 * total // 5, 7 * total // 10, total - 1})


def noising_strip(
    image: str | Path | bytes,
    timesteps: Sequence[int] | None = None,
    schedule: str | NoiseSchedule = "linear",
    num_timesteps: int = 1000,
    size: int = 64,
    seed: int = 0,
    max_pixels: int | None = None,
) -> Image.Image:
    """The forward process as a picture: an image and one noise at growing t, x_t = sqrt(ab) x_0 + sqrt(1-ab) eps.

    image: a path or an image file's bytes, read by data.decoding.open_image (EXIF orientation applied; larger than
    max_pixels refused before decoding). schedule: a run's own NoiseSchedule (run.schedule), or a schedule's name
    with num_timesteps T and the default betas. timesteps: default noising_timesteps(T). The image's centre square
    is shown at size x size. Raises UserError for an unreadable image or a timestep outside 0..T-1.
    """
    noise_schedule = schedule if isinstance(schedule, NoiseSchedule) else make_schedule(schedule, num_timesteps)
    picture = open_image(image, max_pixels)
    return noising_strip_from_image(square_pixels(picture, size), timesteps, noise_schedule, seed)


def square_pixels(picture: Image.Image, size: int) -> torch.Tensor:
    """An RGB picture's centre square at size x size, as uint8 (3, size, size)."""
    return torch.from_numpy(np.array(crop_and_resize(picture, center_square_box(*picture.size), size))).permute(2, 0, 1)


def ddpm_noising_frames(
    schedule: NoiseSchedule, x0: torch.Tensor, noise: torch.Tensor, timesteps: Sequence[int] | None = None
) -> tuple[torch.Tensor, list[str]]:
    """q(x_t | x_0) for x_0 and one noise (1, C, H, W) at `timesteps` (default noising_timesteps(T)): (K, C, H, W) in
    the model range, labelled t=. Raises UserError for a timestep outside 0..T-1."""
    total = schedule.timesteps
    timesteps = noising_timesteps(total) if timesteps is None else [int(t) for t in timesteps]
    bad = [t for t in timesteps if not 0 <= t < total]
    if bad:
        raise UserError(
            f"timesteps must lie in 0..{total - 1}; got {', '.join(map(str, bad))}", settings=("timesteps",)
        )
    count = len(timesteps)
    x_t = q_sample(
        x0.expand(count, -1, -1, -1), schedule.alpha_bar[torch.tensor(timesteps)], noise.expand(count, -1, -1, -1)
    )
    return x_t, [f"t={step}" for step in timesteps]


def strip_of_frames(image: torch.Tensor, frames, seed: int = 0) -> Image.Image:
    """One uint8 image (3, H, W) and one noise drawn from seed, through frames(x_0, noise) -> (x (K, 3, H, W) in the
    model range, labels): the labelled strip, small images upscaled."""
    x0 = to_model_range(image[None].to(torch.uint8))  # (1, 3, H, W)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    x, labels = frames(x0, noise)
    return labelled_rows([images_from_model_range(x)], labels, scale=max(1, 128 // image.shape[-1]))


def noising_strip_from_image(
    image: torch.Tensor,
    timesteps: Sequence[int] | None = None,
    schedule: NoiseSchedule | None = None,
    seed: int = 0,
) -> Image.Image:
    """noising_strip for one uint8 image (3, H, W) already in memory, under `schedule` (default: linear, T = 1000),
    at `timesteps` (default noising_timesteps(T))."""
    noise_schedule = schedule or make_schedule()
    return strip_of_frames(image, lambda x0, noise: ddpm_noising_frames(noise_schedule, x0, noise, timesteps), seed)
