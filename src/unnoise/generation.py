"""From a trained network to images: noise in, a sampler, uint8 pictures out."""

from __future__ import annotations

import torch
from torch import nn

from .data.transforms import to_uint8
from .diffusion.denoiser import Denoiser
from .diffusion.guidance import GuidedNetwork
from .diffusion.samplers import StepCallback, run_sampler
from .diffusion.schedules import NoiseSchedule
from .models.conditioning import null_condition_like


def images_from_model_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to uint8 pixels on the CPU, ready to save."""
    return to_uint8(x.float()).cpu()


@torch.no_grad()
def generate(
    model: nn.Module,
    schedule: NoiseSchedule,
    count: int,
    image_size: int,
    steps: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    on_step: StepCallback | None = None,
    sampler: str = "ddpm",
    prediction: str = "eps",
    image_channels: int = 3,
    condition=None,
    baseline=None,
    guidance: float = 1.0,
    **sampler_options,
) -> torch.Tensor:
    """`count` images (count, C, H, W) uint8 from `sampler` with `steps` steps, in batches of batch_size.

    With a condition (one row per image) the network is guided with scale `guidance` away from
    `baseline` (a negative prompt), or by default from the null condition (classifier-free guidance).
    """
    def draw(rows: slice, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        size = rows.stop - rows.start
        x_T = torch.randn((size, image_channels, image_size, image_size), generator=generator, device=device)
        network = model
        if condition is not None:
            away = baseline[rows] if baseline is not None else null_condition_like(condition[rows])
            network = GuidedNetwork(model, condition[rows], away, guidance)
        denoiser = Denoiser(network, schedule, prediction)
        return run_sampler(sampler, denoiser, x_T, steps, generator, on_step, **sampler_options)

    return in_batches(model, count, seed, batch_size, draw)


@torch.no_grad()
def generate_from_prior(model: nn.Module, count: int, seed: int = 0, batch_size: int = 64) -> torch.Tensor:
    """`count` images (count, C, H, W) uint8 from a VAE's decoder or a GAN's generator: z ~ N(0, I), one network pass."""
    def draw(rows: slice, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return model.generate(torch.randn((rows.stop - rows.start, model.latent_dim), generator=generator, device=device))

    return in_batches(model, count, seed, batch_size, draw)


def in_batches(model: nn.Module, count: int, seed: int, batch_size: int, draw) -> torch.Tensor:
    """uint8 images from draw(rows, generator, device) -> [-1, 1] images, batch by batch, the model in eval mode.

    One generator, seeded once, serves every batch in turn.
    """
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    batches = [images_from_model_range(draw(slice(start, min(start + batch_size, count)), generator, device))
               for start in range(0, count, batch_size)]
    model.train(was_training)
    return torch.cat(batches)
