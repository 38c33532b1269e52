"""From a trained network to images: per-image noise, any solver on any grid, uint8 pictures out.

Image k of seed s draws its starting noise and every later noise from its own generator, seeded by (s, k)
(as EDM's per-seed generators): the same seed gives the same image whatever n, batch size or caller.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..data.transforms import images_from_model_range
from ..diffusion.denoiser import DenoiserLike
from ..diffusion.guidance import GuidedNetwork
from ..diffusion.samplers import SOLVERS, StepCallback
from ..models.conditioning import Condition, null_condition_like
from ..seeds import derived_seed
from .settings import SampleSettings

DrawBatch = Callable[[slice, "PerImageNoise"], torch.Tensor]


def image_seed(seed: int, index: int) -> int:
    """The seed of image `index` of a request with seed `seed`."""
    return derived_seed(seed, "image", index)


class PerImageNoise:
    """Standard normal noise for a batch, row k from the generator of image first + k."""

    def __init__(self, seed: int, rows: slice, device: torch.device):
        self.generators = [
            torch.Generator(device=device).manual_seed(image_seed(seed, index))
            for index in range(rows.start, rows.stop)
        ]
        self.device = device

    def draw(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(len(rows), *shape) noise."""
        return torch.stack(
            [torch.randn(shape, generator=generator, device=self.device, dtype=dtype) for generator in self.generators]
        )

    def __call__(self, like: torch.Tensor) -> torch.Tensor:
        return self.draw(tuple(like.shape[1:]), like.dtype)


@torch.no_grad()
def in_batches(model: nn.Module, settings: SampleSettings, draw: DrawBatch, as_images: bool = True) -> torch.Tensor:
    """draw(rows, noise) -> [-1, 1] images for each batch of settings.n, joined as uint8 (n, C, H, W), the model in
    eval mode; as_images=False joins the raw float32 outputs instead (on the CPU)."""
    device = next(model.parameters()).device
    finish = images_from_model_range if as_images else (lambda x: x.float().cpu())
    was_training = model.training
    model.eval()
    try:
        batches = [
            finish(draw(rows, PerImageNoise(settings.seed, rows, device)))
            for rows in batch_slices(settings.n, settings.batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(batches)


def batch_slices(count: int, batch_size: int) -> list[slice]:
    return [slice(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]


def generate(
    model: nn.Module,
    denoiser_for: Callable[[Callable], DenoiserLike],
    grid: torch.Tensor,
    image_shape: tuple[int, int, int],
    settings: SampleSettings,
    condition: Condition | None = None,
    baseline: Condition | None = None,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """settings.n images (n, C, H, W) uint8 from a denoising network with the settings' solver on `grid`.

    denoiser_for(network) wraps a (x_t, t) network as the formulation's denoiser D(x; sigma). With a condition
    (one row per image) the network is guided with scale settings.guidance away from `baseline` (a negative
    prompt), or by default from the null condition (classifier-free guidance).
    """
    solver = SOLVERS[settings.solver_name]

    def draw(rows: slice, noise: PerImageNoise) -> torch.Tensor:
        denoiser = denoiser_of_rows(model, denoiser_for, rows, settings, condition, baseline)
        return solver.function(denoiser, noise.draw(image_shape), grid, noise, on_step, **settings.solver_options())

    return in_batches(model, settings, draw)


def denoiser_of_rows(
    model: nn.Module,
    denoiser_for: Callable[[Callable], DenoiserLike],
    rows: slice,
    settings: SampleSettings,
    condition: Condition | None = None,
    baseline: Condition | None = None,
) -> DenoiserLike:
    """The denoiser D(x; sigma) for images `rows`: the model guided by their rows of the condition (if any)."""
    network = model
    if condition is not None:
        away = baseline[rows] if baseline is not None else null_condition_like(condition[rows])
        network = GuidedNetwork(model, condition[rows], away, settings.guidance)
    return denoiser_for(network)


def generate_from_prior(model: nn.Module, settings: SampleSettings) -> torch.Tensor:
    """settings.n images (n, C, H, W) uint8 from a VAE's decoder or a GAN's generator: z ~ N(0, I), one network pass."""
    return in_batches(model, settings, lambda rows, noise: model.generate(noise.draw((model.latent_dim,))))
