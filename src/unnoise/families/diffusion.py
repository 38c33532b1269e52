"""Diffusion (DDPM, discrete variance-preserving) as an objective: the denoising loss in training, any solver in
sampling.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..diffusion.denoiser import Denoiser
from ..diffusion.grids import noise_level_grid
from ..diffusion.losses import denoising_loss
from ..diffusion.samplers import count_nfe
from ..diffusion.schedules import schedule_of
from ..sampling.generation import generate
from ..sampling.requests import request_condition
from ..sampling.settings import SampleSettings
from .base import Objective


class DiffusionObjective(Objective):
    name = "diffusion"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.schedule = schedule_of(config.diffusion)
        self.network_name = "U-Net" if config.model.architecture == "unet" else "toy U-Net"
        self._alpha_bar: dict[torch.device, torch.Tensor] = {}

    def alpha_bar_on(self, device: torch.device) -> torch.Tensor:
        # float64 where the device has it (Apple's MPS does not); q_sample casts to the images' dtype anyway.
        if device not in self._alpha_bar:
            self._alpha_bar[device] = self.schedule.alpha_bar.to(
                device, torch.float32 if device.type == "mps" else torch.float64
            )
        return self._alpha_bar[device]

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        """t ~ U{0..T-1} and eps ~ N(0, I) for each image (DDPM Alg. 1)."""
        t = torch.randint(0, self.schedule.timesteps, (count,), generator=generator, device=device)
        noise = torch.randn((count, *self.image_shape), generator=generator, device=device)
        return {"t": t, "noise": noise}

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        d = self.config.diffusion
        network = network if condition is None else partial(network, condition=condition)
        return denoising_loss(
            network,
            self.alpha_bar_on(x0.device),
            x0,
            draws["t"],
            draws["noise"],
            d.loss,
            d.prediction,
            d.weighting,
            d.min_snr_gamma,
        )

    def grid(self, settings: SampleSettings) -> torch.Tensor:
        """The noise levels the settings ask for on this run's schedule (UserError for steps outside 1..T)."""
        return noise_level_grid(self.schedule, settings.steps, settings.grid_spacing, settings.grid_rho)

    def denoiser_for(self, network) -> Denoiser:
        return Denoiser(network, self.schedule, self.config.diffusion.prediction)

    def generate(self, model: nn.Module, settings: SampleSettings, on_step=None, condition=None) -> torch.Tensor:
        settings.validate()
        grid = self.grid(settings)
        baseline = None
        if condition is None:
            device = next(model.parameters()).device
            condition, baseline = request_condition(
                self.config.condition, settings.n, device, settings.attrs, settings.prompt, settings.negative_prompt
            )
        return generate(model, self.denoiser_for, grid, self.image_shape, settings, condition, baseline, on_step)

    def preview(self, model: nn.Module, condition=None) -> torch.Tensor:
        """train.sample_count images with DDPM at train.sample_steps steps (at most T), guided where conditional."""
        train = self.config.train
        settings = SampleSettings(
            n=train.sample_count, seed=train.seed, steps=min(train.sample_steps, self.schedule.timesteps)
        )
        return self.generate(model, settings, condition=condition)

    def solver_steps(self, settings: SampleSettings) -> int:
        return len(self.grid(settings)) - 1

    def nfe(self, settings: SampleSettings) -> int:
        return count_nfe(settings.solver_name, self.solver_steps(settings))

    def noise_level_label(self, sigma: float) -> str:
        return f"t={round(self.schedule.timestep_of_sigma(torch.tensor(sigma, dtype=torch.float64)).item())}"

    def describe_sampling(self, settings: SampleSettings) -> str:
        return f"{settings.solver_name}, {self.solver_steps(settings)} steps, {settings.grid_spacing} spacing"
