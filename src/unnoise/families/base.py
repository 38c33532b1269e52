"""The interface every model family (diffusion, VAE, GAN) offers the trainer and a run: one object, no branching on
names.

An Objective says what it draws per training image, its loss on a micro-batch, its optimizer settings and
whether it trains across processes; and how its network turns SampleSettings into images, at what NFE.
"""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import UserError
from ..sampling.generation import generate_from_prior
from ..sampling.settings import SampleSettings


def millions(module: nn.Module) -> str:
    return f"{sum(parameter.numel() for parameter in module.parameters()) / 1e6:.2f}M"


class Objective:
    """Base: a single-update objective (one loss, one optimizer step per training step)."""

    name = ""
    network_name = ""  # for the summary line: "U-Net", "VAE", ...
    adam_betas: tuple[float, float] = (0.9, 0.999)
    scales_out = True  # trains under torchrun, with accumulation, compile and fp16
    draws_in_one_pass = False  # samples without a solver: takes no sampler, steps or request
    makes_images = True  # False for CLIP: no preview grids, no FID while training
    max_steps: int | None = 1  # the most solver steps a request may ask for (None: no bound of the objective's own)

    def __init__(self, config) -> None:
        self.config = config
        self.image_shape = (3, config.data.image_size, config.data.image_size)
        self.parts: dict[str, tuple[torch.Tensor, int]] = {}  # parts of the loss since the last log row (tally)

    # --- training ---

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        """The randomness of one global batch beside the images (timesteps, noise, latents), row i for image i."""
        return {}

    def loss(
        self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition: Any
    ) -> torch.Tensor:
        """The mean loss of a micro-batch x0 (B, C, H, W) in [-1, 1] with its slice of the draws."""
        raise NotImplementedError

    def tally(self, name: str, value: torch.Tensor) -> None:
        """Add a part of the loss to what the next log row shows as `name` (its mean since the previous row)."""
        total, count = self.parts.get(name, (0.0, 0))
        self.parts[name] = (total + value.detach().float(), count + 1)

    def logged_parts(self) -> dict[str, float]:
        """The means of the tallied parts since the last call (this process's), then a fresh tally; {} for an
        objective whose loss has no parts."""
        parts = {name: round((total / count).item(), 6) for name, (total, count) in self.parts.items()}
        self.parts = {}
        return parts

    def train_step(self, trainer) -> torch.Tensor:
        """One optimizer step on the loss over the accumulation steps; returns the step's loss (a device scalar).

        `trainer` (train.trainer.Trainer, a higher layer) offers micro_batches(), autocast(), apply_gradients(), its
        optimizer, scaler, network, ddp and config; an objective calls those and nothing else.
        """
        trainer.optimizer.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=trainer.device)
        accum = trainer.config.train.accum
        for micro, (x0, draws, condition) in enumerate(trainer.micro_batches()):
            # Gradients are averaged across ranks once per step, on the last accumulation step.
            last = micro == accum - 1
            synced = contextlib.nullcontext() if last or trainer.ddp is None else trainer.ddp.no_sync()
            with synced:
                with trainer.autocast():
                    loss = self.loss(trainer.network, x0, draws, condition) / accum
                trainer.scaler.scale(loss).backward()
            step_loss += loss.detach()
        trainer.apply_gradients()
        return step_loss

    # --- sampling ---

    def resolve(self, settings: SampleSettings) -> SampleSettings:
        """The settings with what they leave open filled in from the run's defaults."""
        return settings

    def check_config(self) -> None:
        """Refuse settings of the run's config this objective cannot use, before training starts."""

    def warnings(self) -> list[str]:
        """What a user should hear about the run's settings before it trains (printed with its start-up summary)."""
        return []

    def check_sampling(self, settings: SampleSettings, on_step) -> None:
        """Refuse settings this family cannot use (UserError naming them)."""

    def generate(self, model: nn.Module, settings: SampleSettings, on_step=None, condition=None) -> torch.Tensor:
        """settings.n images (n, C, H, W) uint8; `condition` (one row per image) overrides the settings' request."""
        raise NotImplementedError

    def preview(self, model: nn.Module, condition=None) -> torch.Tensor:
        """The grid of images written while training (train.sample_count of them, seeded by train.seed)."""
        train = self.config.train
        return self.generate(model, SampleSettings(n=train.sample_count, seed=train.seed), condition=condition)

    def solver_steps(self, settings: SampleSettings) -> int:
        """Steps from noise to image (the calls on_step sees)."""
        return 1

    def nfe(self, settings: SampleSettings) -> int:
        """Network evaluations per image."""
        return 1

    def forward_process(
        self, x0: torch.Tensor, noise: torch.Tensor, levels: Sequence[float] | None = None
    ) -> tuple[torch.Tensor, list[str]]:
        """The forward process as the objective trains on it, for a picture: x_0 (1, C, H, W) and one noise at growing
        noise levels -> (K, C, H, W) in the model range, with a label for each. Raises UserError for a run without
        a forward process (VAE, GAN) or for levels outside the formulation's range."""
        raise UserError(f"a {self.network_name} run has no forward (noising) process to picture")

    def noise_level_label(self, sigma: float) -> str:
        return f"sigma={sigma:.3g}"

    def sampling_network(self, model: nn.Module) -> nn.Module:
        """The part of the model that makes images (what sampling costs)."""
        return model

    def describe_parameters(self, model: nn.Module) -> str:
        """The network and its size, for the start-up summary."""
        return f"{self.network_name}: {millions(model)} parameters"

    def describe_sampling(self, settings: SampleSettings) -> str:
        """How the settings draw, for a summary line (a one-pass family: its network's name)."""
        return self.network_name


class OnePassObjective(Objective):
    """A family that draws an image in one pass of a network from z ~ N(0, I) (VAE, GAN)."""

    scales_out = False
    draws_in_one_pass = True

    def resolve(self, settings: SampleSettings) -> SampleSettings:
        self.check_sampling(settings, on_step=None)  # before validate(): name what does not apply, not a solver's rule
        return settings

    def check_sampling(self, settings: SampleSettings, on_step) -> None:
        given = settings.sampling_options_given() + (["intermediate steps"] if on_step is not None else [])
        if given:
            verb = "does" if len(given) == 1 and given[0] != "intermediate steps" else "do"
            raise UserError(
                f"a {self.network_name} run draws in one network pass, so {', '.join(given)} {verb} not apply",
                settings=tuple(name for name in given if name != "intermediate steps"),
            )

    def generate(self, model: nn.Module, settings: SampleSettings, on_step=None, condition=None) -> torch.Tensor:
        self.check_sampling(settings, on_step)
        return generate_from_prior(model, settings)

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        latent = self.config.model.latent_dim
        return {name: torch.randn((count, latent), generator=generator, device=device) for name in self.latent_draws}

    latent_draws: tuple[str, ...] = ("z",)
