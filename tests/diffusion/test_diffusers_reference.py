"""Our DDIM against diffusers' DDIMScheduler.step, the reference implementation most users know (skipped without it)."""

import pytest
import torch

from unnoise.diffusion.denoiser import Denoiser
from unnoise.diffusion.grids import noise_level_grid
from unnoise.diffusion.samplers import sample_ddim
from unnoise.diffusion.schedules import make_schedule


def eps_network(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Any smooth function of (x, t) will do: both implementations must do the same arithmetic with it."""
    t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return torch.tanh(0.7 * x + 0.3 * torch.sin(t / 97.0))


def test_ddim_matches_diffusers_ddim_scheduler_over_10_steps():
    diffusers = pytest.importorskip("diffusers", reason="diffusers is in the bench extra: pip install -e '.[bench]'")
    # diffusers' step goes from t to t - T/K whatever the spacing; its "trailing" spacing (999, 899, ..., 99, then
    # alpha_bar = 1) is exactly our trailing grid.
    scheduler = diffusers.DDIMScheduler(
        num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", clip_sample=False,
        set_alpha_to_one=True, timestep_spacing="trailing", prediction_type="epsilon",
    )  # fmt: skip
    scheduler.set_timesteps(10)
    x_T = torch.randn((3, 2, 4, 4), generator=torch.Generator().manual_seed(0))
    theirs = x_T.clone()
    for t in scheduler.timesteps:
        theirs = scheduler.step(eps_network(theirs, t.repeat(3)), t, theirs, eta=0.0).prev_sample

    schedule = make_schedule("linear", 1000)
    grid = noise_level_grid(schedule, 10, "trailing")
    assert schedule.timestep_of_sigma(grid[:-1]).round().long().tolist() == scheduler.timesteps.tolist()
    ours = sample_ddim(Denoiser(eps_network, schedule, "eps", clip_x0=False), x_T.clone(), grid)
    assert torch.allclose(ours, theirs, atol=2e-5), (ours - theirs).abs().max()
