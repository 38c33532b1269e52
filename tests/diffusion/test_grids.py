import math

import pytest
import torch

from unnoise.diffusion.grids import SPACINGS, TIMESTEP_SPACINGS, karras_grid, noise_level_grid, spaced_timesteps
from unnoise.diffusion.schedules import make_schedule
from unnoise.errors import UserError


@pytest.mark.parametrize("spacing", TIMESTEP_SPACINGS)
def test_every_spacing_for_every_k_starts_at_t_minus_1_and_decreases_strictly(spacing):
    """For each K from 1 to T: K distinct timesteps from T - 1 (pure noise), strictly decreasing, all in 0..T-1."""
    for num_timesteps in (10, 1000):
        for steps in range(1, num_timesteps + 1):
            timesteps = spaced_timesteps(num_timesteps, steps, spacing)
            assert len(timesteps) == steps and timesteps[0] == num_timesteps - 1, (num_timesteps, steps)
            assert all(a > b for a, b in zip(timesteps, timesteps[1:])) and timesteps[-1] >= 0, (num_timesteps, steps)


def test_uniform_spacing_is_the_documented_rounded_linspace():
    for steps in range(1, 1001):
        expected = torch.linspace(999, 0, steps, dtype=torch.float64).round().long().tolist()
        assert spaced_timesteps(1000, steps, "uniform") == expected, steps


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("steps", [1, 2, 7, 100])
def test_every_grid_ends_at_the_data_and_decreases_strictly(spacing, steps):
    schedule = make_schedule("linear", 100)
    grid = noise_level_grid(schedule, steps, spacing)
    assert len(grid) == steps + 1 and grid[-1] == 0 and grid.dtype == torch.float64
    assert bool((grid[:-1] > grid[1:]).all())
    first = schedule.sigmas[-1].item()  # the noisiest level: the start of every spacing, Karras' included
    assert grid[0].item() == pytest.approx(first, rel=1e-12)


def test_a_zero_terminal_snr_grid_starts_at_infinite_sigma():
    grid = noise_level_grid(make_schedule("linear", 100, zero_terminal_snr=True), 5)
    assert math.isinf(grid[0].item()) and grid[-1] == 0


def test_spacing_shapes():
    assert spaced_timesteps(1000, None) == list(range(999, -1, -1))
    assert spaced_timesteps(1000, 10, "uniform") == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert spaced_timesteps(1000, 10, "trailing") == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert spaced_timesteps(1000, 1, "quadratic") == [999]
    quadratic = spaced_timesteps(1000, 10, "quadratic")
    assert quadratic[0] == 999 and quadratic[-1] == 0
    gaps = [a - b for a, b in zip(quadratic, quadratic[1:])]
    assert gaps == sorted(gaps, reverse=True)  # dense near the data
    for bad in (0, 1001):
        with pytest.raises(UserError, match="steps must be between 1 and 1000"):
            spaced_timesteps(1000, bad)
    with pytest.raises(UserError, match="unknown spacing"):
        spaced_timesteps(1000, 10, "leading")


def test_karras_grid_follows_equation_5():
    schedule = make_schedule("linear", 1000)
    sigmas = noise_level_grid(schedule, 10, "karras", rho=7.0)
    sigma_min, sigma_max = schedule.sigmas[0].item(), schedule.sigmas[-1].item()
    assert len(sigmas) == 11 and sigmas[-1] == 0
    assert sigmas[0].item() == pytest.approx(sigma_max) and sigmas[-2].item() == pytest.approx(sigma_min)
    i = 4
    expected = (sigma_max ** (1 / 7) + i / 9 * (sigma_min ** (1 / 7) - sigma_max ** (1 / 7))) ** 7
    assert sigmas[i].item() == pytest.approx(expected, rel=1e-12)
    assert torch.equal(karras_grid(0.002, 80.0, 1), torch.tensor([80.0, 0.0], dtype=torch.float64))


def test_timestep_of_sigma_inverts_sigma_of_timestep():
    schedule = make_schedule("cosine", 1000)
    t = torch.tensor([0.0, 3.0, 250.0, 998.0])
    assert torch.allclose(schedule.timestep_of_sigma(schedule.sigmas[t.long()]), t.double(), atol=1e-9)
    assert schedule.timestep_of_sigma(schedule.sigmas[t.long()]).tolist() == t.tolist()  # exactly, not nearly
    midway = schedule.timestep_of_sigma((schedule.sigmas[10].log() / 2 + schedule.sigmas[11].log() / 2).exp())
    assert midway.item() == pytest.approx(10.5)


def test_zero_terminal_snr_rescaling():
    schedule = make_schedule("linear", 1000, zero_terminal_snr=True)
    plain = make_schedule("linear", 1000)
    assert schedule.alpha_bar[-1] == 0 and schedule.zero_terminal_snr and not plain.zero_terminal_snr
    assert schedule.alpha_bar[0].item() == pytest.approx(plain.alpha_bar[0].item(), rel=1e-12)
    # sqrt(alpha_bar) is an affine map of the original one.
    root, plain_root = schedule.alpha_bar.sqrt(), plain.alpha_bar.sqrt()
    slope = (root[0] - root[500]) / (plain_root[0] - plain_root[500])
    assert torch.allclose(root - root[0], slope * (plain_root - plain_root[0]), atol=1e-12)


def test_strength_is_flow_matchings_time_of_the_starting_level():
    """sigma = t / (1 - t): strength 0 is the data, 1 pure noise, 1/2 equal signal and noise (x_VE = x_0 + 1 eps)."""
    from unnoise.diffusion.flow import time_of_sigma
    from unnoise.diffusion.grids import sigma_of_strength

    assert sigma_of_strength(0) == 0 and sigma_of_strength(0.5) == 1 and math.isinf(sigma_of_strength(1))
    for strength in (0.1, 0.6, 0.95):
        assert time_of_sigma(sigma_of_strength(strength)) == pytest.approx(strength, rel=1e-12)
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(UserError, match="strength must be a number in") as refused:
            sigma_of_strength(bad)
        assert refused.value.settings == ("strength",)


def test_a_partial_grid_starts_at_the_level_and_keeps_the_grids_levels_below_it():
    from unnoise.diffusion.flow import uniform_time_grid
    from unnoise.diffusion.grids import partial_grid

    grid = karras_grid(0.002, 80.0, 10)
    start = partial_grid(grid, 1.0)
    assert start[0] == 1.0 and torch.equal(start[1:], grid[grid < 1.0])
    assert torch.equal(partial_grid(grid, math.inf), grid) and torch.equal(partial_grid(grid, 500.0), grid)
    assert torch.equal(partial_grid(grid, 0.0), torch.zeros(1, dtype=torch.float64))
    flow = uniform_time_grid(4)  # sigma = inf, 3, 1, 1/3, 0
    assert torch.equal(partial_grid(flow, math.inf), flow) and torch.equal(partial_grid(flow, 1.0), flow[2:])
