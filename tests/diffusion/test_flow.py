"""Flow matching's path, target and time change against their closed forms (Lipman et al. 2023; Esser et al. 2024)."""

import math

import pytest
import torch

from unnoise.diffusion.flow import (
    flow_interpolate,
    logit_normal_time,
    sigma_of_time,
    time_of_sigma,
    uniform_time_grid,
    velocity_target,
    x0_from_velocity,
)  # fmt: skip


def test_the_straight_path_its_velocity_and_its_inverse():
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 3, 2, 2, generator=generator), torch.randn(4, 3, 2, 2, generator=generator)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    x_t = flow_interpolate(x0, noise, t)
    assert torch.equal(x_t[0], x0[0]) and torch.equal(x_t[3], noise[3])
    assert torch.allclose(x_t[1], 0.75 * x0[1] + 0.25 * noise[1])
    v = velocity_target(x0, noise)
    # d/dt x_t = eps - x_0 along the whole path, and x_0 = x_t - t v recovers the data from any point.
    assert torch.allclose(flow_interpolate(x0, noise, t + 1e-3) - x_t, 1e-3 * v, atol=1e-6)
    assert torch.allclose(x0_from_velocity(x_t, v, t), x0, atol=1e-6)


def test_time_and_sigma_are_the_same_noise_level():
    """x_t / (1 - t) = x_0 + t / (1 - t) eps: sigma = t / (1 - t), and back."""
    for sigma in (0.002, 0.5, 1.0, 80.0):
        t = time_of_sigma(sigma)
        assert sigma_of_time(torch.tensor(t, dtype=torch.float64)).item() == pytest.approx(sigma, rel=1e-12)
    assert time_of_sigma(math.inf) == 1.0 and math.isinf(sigma_of_time(torch.tensor(1.0)).item())
    grid = uniform_time_grid(4)
    assert torch.allclose(grid[1:], torch.tensor([3.0, 1.0, 1 / 3, 0.0], dtype=torch.float64)) and math.isinf(grid[0])


def test_logit_normal_times_are_symmetric_around_one_half():
    t = logit_normal_time(torch.randn(100_000, generator=torch.Generator().manual_seed(2)))
    assert 0 < t.min() and t.max() < 1 and t.median().item() == pytest.approx(0.5, abs=0.01)
    assert (torch.logit(t).std().item()) == pytest.approx(1.0, rel=0.02)
