"""Editing pictures with a trained denoiser: image-to-image, inpainting, inversion, reconstruction, interpolation.

Each tool runs the run's own solver on its own grid, guided like plain sampling, and draws every noise of output
image k from the generator of (seed, k) (generation.py), so results do not depend on batching. Inputs arrive as
uint8 images (N, 3, H, W) at the run's size (pictures.py converts what people hand in); output k uses input k mod N.

    Meng et al. 2022 (SDEdit), Lugmayr et al. 2022 (RePaint), Song et al. 2021 (DDIM inversion, interpolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..data.transforms import to_model_range
from ..diffusion.denoiser import DenoiserLike, alpha_bar_of_sigma
from ..diffusion.grids import partial_grid, sigma_of_strength
from ..diffusion.inpainting import sample_repaint
from ..diffusion.inversion import invert
from ..diffusion.process import q_sample
from ..diffusion.samplers import SOLVERS, StepCallback
from ..errors import check
from ..models.conditioning import Condition
from .generation import PerImageNoise, denoiser_of_rows, in_batches
from .settings import SampleSettings, is_integer


@dataclass(frozen=True)
class Chain:
    """What every tool needs: the network, how its formulation reads it, the grid, the settings and the request.

    condition (one row per output image) and baseline as generation.generate takes them.
    """

    model: nn.Module
    denoiser_for: Callable[[Callable], DenoiserLike]
    grid: torch.Tensor
    image_shape: tuple[int, int, int]
    settings: SampleSettings
    condition: Condition | None = None
    baseline: Condition | None = None

    def denoiser(self, rows: slice) -> DenoiserLike:
        return denoiser_of_rows(self.model, self.denoiser_for, rows, self.settings, self.condition, self.baseline)

    @property
    def solver(self) -> Callable[..., torch.Tensor]:
        return SOLVERS[self.settings.solver_name].function

    def inputs(self, images: torch.Tensor, rows: slice) -> torch.Tensor:
        """Input k mod N for each output k of rows, on the model's device (uint8 in, [-1, 1] float32 out)."""
        picked = images[torch.arange(rows.start, rows.stop) % len(images)]
        return to_model_range(picked).to(next(self.model.parameters()).device)


def edit_images(
    chain: Chain, images: torch.Tensor, strength: float, on_step: StepCallback | None = None
) -> torch.Tensor:
    """SDEdit: x = sqrt(ab) x_0 + sqrt(1 - ab) eps at the level strength names, then the solver from there.

    images: uint8 (N, 3, H, W). strength in [0, 1] (diffusion.grids.sigma_of_strength): 0 returns the input, 1 starts
    from pure noise at the top of the grid, exactly as plain sampling with the same seed. Returns uint8 (n, 3, H, W).
    Raises UserError naming strength outside [0, 1].
    """
    sigma_start = sigma_of_strength(strength)
    levels = partial_grid(chain.grid, sigma_start)
    options = chain.settings.solver_options()

    def draw(rows: slice, noise: PerImageNoise) -> torch.Tensor:
        eps = noise.draw(chain.image_shape)
        x0 = chain.inputs(images, rows)
        x = eps if math.isinf(sigma_start) else q_sample(x0, alpha_bar_of_sigma(levels[0].item()), eps)
        return chain.solver(chain.denoiser(rows), x, levels, noise, on_step, **options)

    return in_batches(chain.model, chain.settings, draw)


def edit_steps(grid: torch.Tensor, strength: float) -> int:
    """Solver steps of an edit at this strength (0 at strength 0, the whole grid at 1)."""
    return len(partial_grid(grid, sigma_of_strength(strength))) - 1


def inpaint_images(
    chain: Chain,
    images: torch.Tensor,
    redraw: torch.Tensor,
    jump_length: int,
    resample: int,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """RePaint: the pixels where redraw is True are drawn anew, the others kept exactly (diffusion/inpainting.py).

    images: uint8 (N, 3, H, W); redraw: bool (N or 1, 1, H, W). Returns uint8 (n, 3, H, W). Raises UserError naming
    the settings for another number of masks, or a jump_length / resample that cannot resample (check_resampling).
    """
    check_resampling(len(chain.grid) - 1, jump_length, resample)
    check(
        len(redraw) in (1, len(images)),
        f"give one mask for all pictures or one per picture: {len(redraw)} masks for {len(images)} pictures",
        "mask",
    )
    options = chain.settings.solver_options()

    def draw(rows: slice, noise: PerImageNoise) -> torch.Tensor:
        x = noise.draw(chain.image_shape)
        known = chain.inputs(images, rows)
        keep = ~redraw[torch.arange(rows.start, rows.stop) % len(redraw)].to(known.device)
        denoiser = chain.denoiser(rows)
        return sample_repaint(
            chain.solver, denoiser, x, chain.grid, known, keep, noise, on_step, jump_length, resample, **options
        )

    return in_batches(chain.model, chain.settings, draw)


def check_resampling(steps: int, jump_length: int, resample: int) -> None:
    """UserError naming the settings unless jump_length and resample are integers of at least 1 and, when resample
    asks for resampling (> 1), a jump back fits in the grid: RePaint jumps only from a level jump_length below the
    top, so jump_length >= steps would walk the plain chain once while resampling was asked for."""
    check(
        is_integer(jump_length) and jump_length >= 1,
        f"jump_length must be at least 1, got {jump_length!r}",
        "jump_length",
    )
    check(is_integer(resample) and resample >= 1, f"resample must be at least 1, got {resample!r}", "resample")
    check(
        resample == 1 or jump_length < steps,
        f"resample {resample} needs jump_length below the number of steps: with {steps} solver steps and "
        f"jump_length {jump_length} no jump back fits, so nothing would be resampled; lower jump_length below "
        f"{steps}, sample with more than {jump_length} steps, or set resample 1 (no resampling)",
        "jump_length",
        "resample",
    )


def invert_images(chain: Chain, images: torch.Tensor, on_step: StepCallback | None = None) -> torch.Tensor:
    """The noise (N, 3, H, W) float32 at the grid's top that the chain's deterministic solver turns into each image."""
    settings = chain.settings.replace(n=len(images))
    options = settings.solver_options()

    def draw(rows: slice, noise: PerImageNoise) -> torch.Tensor:
        x0 = chain.inputs(images, rows)
        multistep = SOLVERS[settings.solver_name].multistep
        return invert(chain.solver, chain.denoiser(rows), x0, chain.grid, on_step, multistep=multistep, **options)

    return in_batches(chain.model, settings, draw, as_images=False)


def reconstruct_images(chain: Chain, noise_start: torch.Tensor, on_step: StepCallback | None = None) -> torch.Tensor:
    """The chain's solver from given noise (N, 3, H, W) at the grid's top: uint8 (N, 3, H, W)."""
    settings = chain.settings.replace(n=len(noise_start))
    options = settings.solver_options()
    device = next(chain.model.parameters()).device

    def draw(rows: slice, noise: PerImageNoise) -> torch.Tensor:
        x = noise_start[rows].to(device=device, dtype=torch.float32)
        return chain.solver(chain.denoiser(rows), x, chain.grid, noise, on_step, **options)

    return in_batches(chain.model, settings, draw)


def slerp(a: torch.Tensor, b: torch.Tensor, weight: float) -> torch.Tensor:
    """sin((1 - w) theta) / sin(theta) a + sin(w theta) / sin(theta) b, theta the angle between a and b.

    Spherical interpolation (Shoemake 1985), as DDIM interpolates noise (Song et al. 2021, sec. 5.3): the direction
    moves along the great circle and the norm moves linearly from |a| to |b|, so equal norms are kept all the way.
    The ends are a and b exactly; falls back to straight interpolation when a and b point the same way.
    """
    if weight in (0, 1):
        return (a if weight == 0 else b).clone()
    norm_a, norm_b = a.norm(), b.norm()
    unit_a, unit_b = a / norm_a, b / norm_b
    theta = torch.arccos((unit_a * unit_b).sum().clamp(-1, 1)).item()
    if theta < 1e-6:
        direction = (1 - weight) * unit_a + weight * unit_b
    else:
        direction = (math.sin((1 - weight) * theta) * unit_a + math.sin(weight * theta) * unit_b) / math.sin(theta)
    return direction / direction.norm() * ((1 - weight) * norm_a + weight * norm_b)


def interpolation_weights(count: int) -> list[float]:
    """count weights from 0 to 1, both ends included."""
    check(isinstance(count, int) and count >= 2, f"n must be at least 2 to interpolate, got {count}", "n")
    return [k / (count - 1) for k in range(count)]


def slerp_frames(a: torch.Tensor, b: torch.Tensor, count: int) -> torch.Tensor:
    """count noises (count, C, H, W) along the great circle from a to b (C, H, W), both ends included."""
    return torch.stack([slerp(a, b, weight) for weight in interpolation_weights(count)])


def seed_noise(seed: int, image_shape: tuple[int, int, int], device: torch.device) -> torch.Tensor:
    """The starting noise of image 0 of a seed on a device: what plain sampling with that seed starts from (C, H, W)."""
    return PerImageNoise(seed, slice(0, 1), device).draw(image_shape)[0]
