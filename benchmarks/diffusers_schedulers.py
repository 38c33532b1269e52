"""unnoise's trained network driven by diffusers' schedulers: the peers of the sampler race.

Only the benchmarks import this (diffusers is in the `bench` extra, never in the core install).
Each scheduler is built from the run's own betas and parameterisation, so the network, the noise
schedule and the initial noise are exactly those unnoise's samplers get.
"""

from __future__ import annotations

import inspect

import torch

PREDICTION_TYPES = {"eps": "epsilon", "x0": "sample", "v": "v_prediction"}


def make_scheduler(name: str, betas: torch.Tensor, prediction: str, spacing: str | None = None):
    """A diffusers scheduler over our betas; spacing None keeps the scheduler's own default timestep spacing."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

    options = {
        "num_train_timesteps": len(betas),
        "trained_betas": betas.double().numpy().tolist(),
        "prediction_type": PREDICTION_TYPES[prediction],
    }
    if spacing is not None:
        options["timestep_spacing"] = spacing
    if name == "diffusers_ddpm":  # ancestral, at the scheduler's defaults (fixed_small variance, clip_sample=True)
        return DDPMScheduler(**options)
    if name == "diffusers_ddim":
        return DDIMScheduler(**options, clip_sample=True, set_alpha_to_one=True)
    if name == "diffusers_dpmsolver++":
        return DPMSolverMultistepScheduler(**options, algorithm_type="dpmsolver++", solver_order=2)
    if name == "diffusers_unipc":
        return UniPCMultistepScheduler(**options, solver_order=2)
    raise ValueError(f"unknown diffusers scheduler {name}")


SCHEDULERS = ("diffusers_ddpm", "diffusers_ddim", "diffusers_dpmsolver++", "diffusers_unipc")


@torch.no_grad()
def sample_with_scheduler(network, scheduler, x_T: torch.Tensor, steps: int, generator: torch.Generator | None = None):
    """The standard diffusers loop: set_timesteps, then scale_model_input / network / step. Returns x_0 in [-1, 1]."""
    scheduler.set_timesteps(steps, device=x_T.device)
    # DDIM and DPM-Solver draw noise only when stochastic; UniPC's step takes no generator at all.
    extra = {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}
    x = x_T * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        output = network(scheduler.scale_model_input(x, t), t.expand(x.shape[0]).to(x.device))
        x = scheduler.step(output, t, x, **extra).prev_sample
    return x
