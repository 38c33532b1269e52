"""What every diffusion formulation shares as an objective: requests and guidance, solvers on grids, previews, NFE.

A formulation (ddpm.py, edm.py, flow.py) adds its training draws and loss, its denoiser D(x; sigma), its grids
of noise levels and its default sampling.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ..diffusion.denoiser import DenoiserLike
from ..diffusion.losses import prediction_loss, uncertainty_weighted_loss
from ..diffusion.samplers import count_nfe
from ..errors import UserError
from ..models.log_variance import WithLogVariance
from ..sampling.generation import generate
from ..sampling.requests import request_condition
from ..sampling.settings import SampleSettings
from .base import Objective


def conditioned(network, condition):
    """The network with its condition bound (the network itself when there is none)."""
    return network if condition is None else partial(network, condition=condition)


class DenoisingObjective(Objective):
    """Base of the diffusion formulations. Subclasses set the defaults below and implement the abstract methods."""

    name = "diffusion"
    default_sampler = "ddpm"
    default_steps: int | None = None  # None: the formulation's full grid
    spacings: tuple[str, ...] = ()  # the grids this formulation offers
    # The continuous formulations' bound (DDPM's is T): far beyond any use (the best FIDs measured came at 10-50 NFE),
    # so that a typo of a few zeros is a line, not hours of silent sampling.
    max_steps: int | None = 10_000

    def __init__(self, config) -> None:
        super().__init__(config)
        self.network_name = "U-Net" if config.model.architecture == "unet" else "toy U-Net"

    # --- what a formulation provides ---

    def denoiser_for(self, network) -> DenoiserLike:
        raise NotImplementedError

    def levels(self, steps: int | None, spacing: str, rho: float) -> torch.Tensor:
        """The grid of `steps` noise levels (then 0) for a spacing this formulation offers."""
        raise NotImplementedError

    def noise_level_label(self, sigma: float) -> str:
        return f"sigma={sigma:.3g}"

    def preferred_spacing(self, sampler: str) -> str:
        """The grid a sampler gets on this formulation unless one is asked for."""
        return self.spacings[0]

    # --- shared ---

    def regression_loss(
        self, network: nn.Module, condition, x: torch.Tensor, time: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        """The mean over the micro-batch of diffusion.loss between network(x, time) and target, each sample weighed by
        its noise level's learned log-variance where diffusion.weighting is uncertainty (EDM2); the log then also shows
        the unweighted loss, comparable with runs without it."""
        d = self.config.diffusion
        if d.weighting != "uncertainty":
            return prediction_loss(conditioned(network, condition)(x, time), target, d.loss).mean()
        output, log_variance = conditioned(network, condition)(x, time, log_variance=True)
        per_sample = prediction_loss(output, target, d.loss)
        self.tally("unweighted_loss", per_sample.mean())
        return uncertainty_weighted_loss(per_sample, log_variance)

    def sampling_network(self, model: nn.Module) -> nn.Module:
        """The U-Net alone: an uncertainty-weighted run's u(sigma) only weighs its training loss."""
        return model.network if isinstance(model, WithLogVariance) else model

    def resolve(self, settings: SampleSettings) -> SampleSettings:
        """Fill what the settings leave open from the run's sampling config, then from the formulation's defaults."""
        stored = self.config.sampling
        sampler = settings.sampler or stored.sampler or self.default_sampler
        steps = settings.steps if settings.steps is not None else (stored.steps or self.default_steps)
        spacing = settings.spacing or stored.spacing or self.preferred_spacing(sampler)
        return settings.replace(sampler=sampler, steps=steps, spacing=spacing)

    def check_config(self) -> None:
        """Refuse stored sampling defaults this formulation cannot use, before any training (UserError naming them)."""
        stored = self.config.sampling
        if stored.spacing and stored.spacing not in self.spacings:
            raise UserError(
                f"sampling.spacing {stored.spacing} does not apply to diffusion.objective "
                f"{self.config.diffusion.objective}; it takes {', '.join(self.spacings)}",
                settings=("sampling.spacing", "diffusion.objective"),
            )
        try:
            self.grid(self.resolve(SampleSettings()))
        except UserError as error:
            raise UserError(
                f"sampling.steps {stored.steps} does not fit this run: {error}", settings=("sampling.steps",)
            )

    def grid(self, settings: SampleSettings) -> torch.Tensor:
        """The noise levels of resolved settings (UserError for a spacing this formulation does not offer)."""
        if settings.spacing not in self.spacings:
            raise UserError(
                f"spacing {settings.spacing} does not apply to objective {self.config.diffusion.objective}; "
                f"it takes {', '.join(self.spacings)}",
                settings=("spacing",),
            )
        if settings.steps is not None and self.max_steps is not None and settings.steps > self.max_steps:
            raise UserError(f"steps must be between 1 and {self.max_steps}, got {settings.steps}", settings=("steps",))
        return self.levels(settings.steps, settings.spacing, settings.grid_rho)

    def generate(self, model: nn.Module, settings: SampleSettings, on_step=None, condition=None) -> torch.Tensor:
        settings = self.resolve(settings).validate()
        grid = self.grid(settings)
        baseline = None
        if condition is None:
            condition, baseline = self.request(model, settings, settings.n)
        return generate(model, self.denoiser_for, grid, self.image_shape, settings, condition, baseline, on_step)

    def request(self, model: nn.Module, settings: SampleSettings, count: int):
        """(condition, baseline) for `count` images of the resolved settings' request (sampling.requests): None, None
        when nothing is asked."""
        if settings.prior_guidance is not None:
            raise UserError(
                "prior_guidance guides the prior of an unCLIP run (condition.kind clip); this run has none",
                settings=("prior_guidance", "condition.kind"),
            )
        return request_condition(
            self.config.condition,
            count,
            next(model.parameters()).device,
            settings.attrs,
            settings.prompt,
            settings.negative_prompt,
            settings.guidance,
        )

    def preview(self, model: nn.Module, condition=None) -> torch.Tensor:
        """train.sample_count images with the run's default sampler at train.sample_steps steps, guided where
        conditional.
        """
        train = self.config.train
        steps = min(train.sample_steps, self.solver_steps(SampleSettings()))
        return self.generate(
            model, SampleSettings(n=train.sample_count, seed=train.seed, steps=steps), condition=condition
        )

    def solver_steps(self, settings: SampleSettings) -> int:
        return len(self.grid(self.resolve(settings))) - 1

    def nfe(self, settings: SampleSettings) -> int:
        settings = self.resolve(settings)
        grid = self.grid(settings)
        return count_nfe(settings.solver_name, len(grid) - 1, starts_at_infinity=math.isinf(grid[0].item()))

    def describe_sampling(self, settings: SampleSettings) -> str:
        settings = self.resolve(settings)
        return f"{settings.solver_name}, {self.solver_steps(settings)} steps, {settings.spacing} spacing"
