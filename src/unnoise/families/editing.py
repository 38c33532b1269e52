"""The editing tools on a diffusion run: each takes the run's grid, denoiser and request from its objective.

Image-to-image and inpainting take any sampler; inversion, reconstruction and interpolation need a deterministic one
(the same noise must give the same image): the settings' sampler when it is one, else DDIM on the run's grid, which
makes a DDPM run's inversion DDIM inversion. A VAE or GAN run has no chain to edit with (UserError).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..diffusion.inpainting import steps_down
from ..diffusion.samplers import is_stochastic
from ..errors import UserError, check
from ..sampling.editing import (
    Chain,
    check_resampling,
    edit_images,
    edit_steps,
    inpaint_images,
    interpolation_weights,
    invert_images,
    reconstruct_images,
    seed_noise,
    slerp_frames,
)
from ..sampling.settings import SampleSettings, is_integer
from .base import Objective

INVERSION_SAMPLER = "ddim"  # a stochastic run default gives way to DDIM: DDIM inversion (Song et al. 2021)


@dataclass
class Inversion:
    """An image inverted into noise, and the image that noise turns back into.

    noise: float32 (N, 3, H, W) at the grid's top level, on the variance-preserving scale (about unit variance).
    reconstruction: uint8 (N, 3, H, W). error: root mean square difference from the input per image, in pixel
    values 0..255.
    """

    noise: torch.Tensor
    reconstruction: torch.Tensor
    error: torch.Tensor

    @property
    def psnr(self) -> torch.Tensor:
        """Peak signal-to-noise ratio of each reconstruction in dB: 20 log10(255 / error); inf where it is exact."""
        return 20 * torch.log10(255 / self.error)


def require_chain(objective: Objective) -> None:
    if objective.draws_in_one_pass:
        raise UserError(
            f"a {objective.network_name} run draws in one network pass: editing, inpainting, inversion and "
            "interpolation need a diffusion run"
        )


def chain_for(objective, model: nn.Module, settings: SampleSettings, count: int) -> Chain:
    """The run's chain for resolved settings, its request made for `count` images."""
    require_chain(objective)
    settings = objective.resolve(settings).validate()
    condition, baseline = objective.request(model, settings, count)
    grid = objective.grid(settings)
    return Chain(model, objective.denoiser_for, grid, objective.image_shape, settings, condition, baseline)


def deterministic(objective: Objective, settings: SampleSettings) -> SampleSettings:
    """The settings resolved with a deterministic sampler: theirs if it is one, else DDIM (UserError if one was asked
    for that draws noise)."""
    require_chain(objective)
    resolved = objective.resolve(settings)
    if not is_stochastic(resolved.solver_name, resolved.solver_options()):
        return resolved
    if settings.sampler is None:
        return objective.resolve(settings.replace(sampler=INVERSION_SAMPLER))
    raise UserError(
        f"inversion and interpolation need a deterministic sampler (ddim, dpmpp_2m, euler, heun, midpoint); "
        f"sampler {resolved.solver_name}{' with eta > 0' if resolved.solver_name == 'ddim' else ''} draws fresh noise",
        settings=("sampler", "eta") if resolved.solver_name == "ddim" else ("sampler",),
    )


def edit(objective, model, images: torch.Tensor, strength: float, settings: SampleSettings, on_step=None):
    """SDEdit on uint8 images (N, 3, H, W): settings.n outputs, output k from input k mod N (sampling.editing)."""
    return edit_images(chain_for(objective, model, settings, settings.n), images, strength, on_step)


def inpaint(objective, model, images, redraw, settings: SampleSettings, jump_length, resample, on_step=None):
    """RePaint on uint8 images (N, 3, H, W) where redraw (N or 1, 1, H, W) is True: settings.n outputs."""
    chain = chain_for(objective, model, settings, settings.n)
    return inpaint_images(chain, images, redraw, jump_length, resample, on_step)


def invert(objective, model, images: torch.Tensor, settings: SampleSettings, on_step=None) -> Inversion:
    """The noise of each image (N, 3, H, W) under a deterministic solver, the reconstruction from it, and its error."""
    chain = invertible_chain(objective, model, settings, len(images))
    steps = len(chain.grid) - 1

    def shifted(i, sigma, x, x0):
        on_step(steps + i, sigma, x, x0)

    noise = invert_images(chain, images, on_step)
    reconstruction = reconstruct_images(chain, noise, shifted if on_step else None)
    error = (reconstruction.float() - images.float()).pow(2).flatten(1).mean(1).sqrt()
    return Inversion(noise, reconstruction, error)


def invertible_chain(objective, model: nn.Module, settings: SampleSettings, count: int) -> Chain:
    """The chain of a deterministic solver (UserError for a grid of one step from pure noise: nothing to solve for)."""
    chain = chain_for(objective, model, deterministic(objective, settings), count)
    check(
        len(chain.grid) > 2 or math.isfinite(chain.grid[0].item()),
        "inverting takes at least 2 steps on a grid that starts from pure noise",
        "steps",
    )
    return chain


def reconstruct(objective, model, noise: torch.Tensor, settings: SampleSettings, on_step=None) -> torch.Tensor:
    """The images (N, 3, H, W) uint8 a deterministic solver makes from given noise (an Inversion's)."""
    chain = chain_for(objective, model, deterministic(objective, settings), len(noise))
    return reconstruct_images(chain, noise, on_step)


def interpolate(objective, model, ends, settings: SampleSettings, on_step=None) -> torch.Tensor:
    """settings.n frames (n, 3, H, W) uint8 from one end to the other, their noises slerped.

    ends: two seeds (the first image of each, as plain sampling draws it) or uint8 images (2, 3, H, W), inverted
    first (their frames then end at their reconstructions). The same request guides every frame.
    """
    settings = deterministic(objective, settings)
    device = next(model.parameters()).device
    interpolation_weights(settings.n)  # n >= 2, before any work
    steps_first = 0
    if isinstance(ends, torch.Tensor):
        check(len(ends) == 2, f"interpolation takes two images, got {len(ends)}", "images")
        chain = invertible_chain(objective, model, settings, 2)
        noises = invert_images(chain, ends, on_step)
        steps_first = len(chain.grid) - 1
    else:
        check(
            len(ends) == 2 and all(is_integer(seed) and 0 <= seed < 2**63 for seed in ends),
            f"interpolation takes two seeds (integers in [0, 2^63)), got {ends!r}",
            "seeds",
        )
        noises = torch.stack([seed_noise(seed, objective.image_shape, device) for seed in ends])
    frames = slerp_frames(noises[0], noises[1], settings.n)

    def shifted(i, sigma, x, x0):
        on_step(steps_first + i, sigma, x, x0)

    return reconstruct_images(chain_for(objective, model, settings, settings.n), frames, shifted if on_step else None)


def tool_steps(objective, tool: str, settings: SampleSettings, **options) -> int:
    """The steps on_step sees for a tool (a progress bar's total): edit (strength), inpaint (jump_length, resample),
    invert, interpolate (images: whether the ends are pictures, inverted first)."""
    if tool in ("invert", "interpolate"):
        settings = deterministic(objective, settings)
    grid = objective.grid(objective.resolve(settings))
    steps = len(grid) - 1
    if tool == "edit":
        return edit_steps(grid, options["strength"])
    if tool == "inpaint":
        check_resampling(steps, options["jump_length"], options["resample"])
        return steps_down(steps, options["jump_length"], options["resample"])
    if tool == "invert" or options.get("images"):
        return 2 * steps
    return steps
