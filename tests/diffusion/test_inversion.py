"""Inversion against the exact denoiser of Gaussian data: reconstruction undoes it, and its noise is N(0, I)."""

import math

import pytest
import torch

from tests.diffusion.gaussians import GaussianDenoiser, correlated
from tests.diffusion.test_samplers import gaussian_network
from unnoise.diffusion.denoiser import Denoiser
from unnoise.diffusion.flow import uniform_time_grid
from unnoise.diffusion.grids import karras_grid, noise_level_grid
from unnoise.diffusion.inversion import invert
from unnoise.diffusion.samplers import SOLVERS
from unnoise.diffusion.schedules import make_schedule

DETERMINISTIC = ["ddim", "euler", "heun", "midpoint", "dpmpp_2m"]
# Each formulation's grid: DDPM's timesteps (finite top), EDM's rho = 7 levels, flow matching's t from 1 (sigma = inf).
GRIDS = {
    "ddpm": lambda steps: noise_level_grid(make_schedule("linear", 1000), steps),
    "edm": lambda steps: karras_grid(0.002, 80.0, steps),
    "flow": uniform_time_grid,
}


def round_trip(sampler, grid, denoiser, x0, iterations=3):
    solver = SOLVERS[sampler]
    noise = invert(solver.function, denoiser, x0, grid, iterations=iterations, multistep=solver.multistep)
    return noise, solver.function(denoiser, noise, grid)


@pytest.mark.parametrize("formulation", sorted(GRIDS))
@pytest.mark.parametrize("sampler", DETERMINISTIC)
def test_reconstruction_from_the_inverted_noise_returns_the_input(sampler, formulation):
    denoiser = correlated()
    x0 = denoiser.sample(300, (1, 2, 2), seed=3)
    noise, reconstruction = round_trip(sampler, GRIDS[formulation](100), denoiser, x0)
    # Single-step solvers are inverted step by step to the fixed point; the multistep one runs backwards as it is.
    tolerance = 0.02 if SOLVERS[sampler].multistep else 1e-3
    assert (reconstruction - x0).abs().max().item() < tolerance
    # The exact flow maps data drawn from the distribution to standard normal noise at the top of the grid.
    assert noise.mean().item() == pytest.approx(0, abs=0.05) and noise.std().item() == pytest.approx(1, abs=0.05)


def test_the_fixed_point_makes_a_coarse_ddim_inversion_exact():
    """Plain DDIM inversion (the step up alone) adds both directions' errors; solving each step removes them."""
    denoiser = correlated()
    x0 = denoiser.sample(300, (1, 2, 2), seed=4)
    grid = GRIDS["edm"](20)
    plain = (round_trip("ddim", grid, denoiser, x0, iterations=0)[1] - x0).abs().max().item()
    solved = (round_trip("ddim", grid, denoiser, x0, iterations=6)[1] - x0).abs().max().item()
    assert plain > 0.1 and solved < plain / 20


def test_ddim_inversion_of_a_ddpm_network_through_its_denoiser():
    """The DDPM Denoiser (discrete timesteps, eps prediction) of the samplers' tests, on its own respaced grid."""
    schedule = make_schedule("linear", 1000)
    denoiser = Denoiser(gaussian_network(schedule), schedule, "eps", clip_x0=False)
    x0 = GaussianDenoiser.isotropic(16).sample(200, (1, 4, 4), seed=5)
    noise, reconstruction = round_trip("ddim", noise_level_grid(schedule, 50), denoiser, x0)
    assert (reconstruction - x0).abs().max().item() < 1e-3 and noise.abs().max().item() < 6


def test_each_step_up_costs_one_plus_iterations_solver_steps_and_reports_progress():
    denoiser = GaussianDenoiser.isotropic(4)
    seen = []
    invert(
        SOLVERS["euler"].function,
        denoiser,
        torch.zeros(1, 1, 2, 2, dtype=torch.float64),
        uniform_time_grid(5),
        lambda i, sigma, x, x0: seen.append((i, sigma)),
        iterations=2,
    )
    assert denoiser.evaluations == 5 * 3 - 1  # the guess of the first step, alpha x_0, costs nothing
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4] and math.isinf(seen[-1][1])
