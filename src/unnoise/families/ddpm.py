"""DDPM (discrete variance-preserving, Ho et al. 2020) as an objective: the denoising loss on T timesteps."""

from __future__ import annotations

import torch
from torch import nn

from ..diffusion.denoiser import Denoiser
from ..diffusion.grids import SPACINGS, noise_level_grid
from ..diffusion.losses import denoising_loss
from ..diffusion.samplers import SOLVERS
from ..diffusion.schedules import schedule_of
from ..viz.noising import ddpm_noising_frames
from .denoising import DenoisingObjective, conditioned

# Above this alpha_bar_T the noisiest training step keeps a visible image (sqrt 0.01 = 10%): Lin et al. 2024 show
# the mismatch with sampling's pure-noise start; T = 1000 linear ends at 4e-5, the article's T = 300 at 0.05.
TERMINAL_SIGNAL_WARNING = 0.01


class DDPMObjective(DenoisingObjective):
    spacings = SPACINGS
    # 50 ancestral steps: at 20-100 NFE ancestral DDPM beat every deterministic solver on the CPU-trained models, and
    # all T = 1000 steps were worse than 20 or 50 (benchmarks/RESULTS.md, the sampler race and the recipe table).
    default_sampler, default_steps = "ddpm", 50

    def __init__(self, config) -> None:
        super().__init__(config)
        self.schedule = schedule_of(config.diffusion)
        self.max_steps = self.schedule.timesteps
        self.default_steps = min(type(self).default_steps, self.schedule.timesteps)  # a short schedule: all of it
        self._alpha_bar: dict[torch.device, torch.Tensor] = {}

    def warnings(self) -> list[str]:
        """A schedule whose last step keeps much of the image; sampling starts from pure noise (Lin et al. 2024)."""
        terminal = self.schedule.alpha_bar[-1].item()
        if terminal <= TERMINAL_SIGNAL_WARNING:
            return []
        d = self.config.diffusion
        return [
            f"the {d.schedule} schedule with {d.timesteps} timesteps ends at alpha_bar_T = {terminal:.3g}: "
            f"x_T keeps sqrt(alpha_bar_T) = {terminal**0.5:.2f} of the image, but sampling starts from pure noise, "
            "which this model never sees in training. Raise diffusion.timesteps or diffusion.beta_end, or set "
            "diffusion.zero_terminal_snr (with diffusion.prediction v)"
        ]

    def alpha_bar_on(self, device: torch.device) -> torch.Tensor:
        # float64 where the device has it (Apple's MPS does not); q_sample casts to the images' dtype anyway.
        if device not in self._alpha_bar:
            dtype = torch.float32 if device.type == "mps" else torch.float64
            self._alpha_bar[device] = self.schedule.alpha_bar.to(device, dtype)
        return self._alpha_bar[device]

    def training_draws(self, generator: torch.Generator, count: int, device: torch.device) -> dict[str, torch.Tensor]:
        """t ~ U{0..T-1} and eps ~ N(0, I) for each image (DDPM Alg. 1)."""
        t = torch.randint(0, self.schedule.timesteps, (count,), generator=generator, device=device)
        noise = torch.randn((count, *self.image_shape), generator=generator, device=device)
        return {"t": t, "noise": noise}

    def loss(self, network: nn.Module, x0: torch.Tensor, draws: dict[str, torch.Tensor], condition) -> torch.Tensor:
        d = self.config.diffusion
        return denoising_loss(
            conditioned(network, condition),
            self.alpha_bar_on(x0.device),
            x0,
            draws["t"],
            draws["noise"],
            d.loss,
            d.prediction,
            d.weighting,
            d.min_snr_gamma,
        )

    def denoiser_for(self, network) -> Denoiser:
        return Denoiser(network, self.schedule, self.config.diffusion.prediction)

    def preferred_spacing(self, sampler: str) -> str:
        return SOLVERS[sampler].default_spacing if sampler in SOLVERS else "uniform"  # validate() names a bad sampler

    def levels(self, steps: int | None, spacing: str, rho: float) -> torch.Tensor:
        return noise_level_grid(self.schedule, steps, spacing, rho)

    def forward_process(self, x0, noise, levels=None):
        """q(x_t | x_0) at timesteps `levels` (default noising_timesteps(T): 0, T/20, ..., T-1), labelled t=."""
        return ddpm_noising_frames(self.schedule, x0, noise, levels)

    def noise_level_label(self, sigma: float) -> str:
        return f"t={round(self.schedule.timestep_of_sigma(torch.tensor(sigma, dtype=torch.float64)).item())}"
