"""RePaint against closed forms: known pixels kept exactly, unknown ones drawn from the conditional Gaussian."""

import pytest
import torch

from tests.diffusion.gaussians import correlated
from unnoise.diffusion.denoiser import alpha_bar_of_sigma
from unnoise.diffusion.flow import uniform_time_grid
from unnoise.diffusion.grids import karras_grid
from unnoise.diffusion.inpainting import renoise, repaint_schedule, sample_repaint, steps_down
from unnoise.diffusion.process import q_sample
from unnoise.diffusion.samplers import SAMPLERS, SOLVERS

KEEP = torch.tensor([True, False, True, False]).reshape(1, 1, 2, 2)  # pixels 0 and 2 known
KNOWN_VALUES = torch.tensor([0.4, -0.2], dtype=torch.float64)


def seeded_noise(seed):
    generator = torch.Generator().manual_seed(seed)
    return lambda like: torch.randn(like.shape, generator=generator, dtype=like.dtype)


def inpaint(sampler, grid, count, jump_length, resample, seed=1):
    denoiser = correlated()
    known = torch.zeros(count, 1, 2, 2, dtype=torch.float64)
    known.flatten(1)[:, KEEP.flatten()] = KNOWN_VALUES
    noise = seeded_noise(seed)
    x = noise(known)
    solver = SOLVERS[sampler].function
    return denoiser, sample_repaint(solver, denoiser, x, grid, known, KEEP, noise, None, jump_length, resample)


def test_the_schedule_walks_each_stretch_resample_times_and_ends_at_the_data():
    path = repaint_schedule(10, 3, 3)
    assert path[0] == 0 and path[-1] == 10 and min(path) >= 0
    moves = [b - a for a, b in zip(path, path[1:])]
    assert set(moves) == {1, -3}  # one level down at a time, jumps of j back up
    assert moves.count(-3) == 3 * (3 - 1)  # jumps from 9, 6 and 3, r - 1 = 2 times each
    assert steps_down(10, 3, 3) == moves.count(1) == 10 + 3 * 2 * 3
    assert repaint_schedule(6, 2, 1) == list(range(7))  # resample 1: the plain chain


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_known_pixel_is_kept_exactly_for_every_sampler(sampler):
    _, out = inpaint(sampler, karras_grid(0.002, 80.0, 8), 16, jump_length=2, resample=3)
    assert torch.equal(out.flatten(1)[:, KEEP.flatten()], KNOWN_VALUES.expand(16, -1))
    assert out.flatten(1)[:, ~KEEP.flatten()].std(0).min() > 0.05  # the unknown ones are drawn, not copied


def test_unknown_pixels_follow_the_conditional_gaussian_given_the_known_ones():
    """E[x_u | x_k] = mu_u + S_uk S_kk^-1 (x_k - mu_k); resampling (RePaint's harmonisation) is what gets it right."""
    denoiser = correlated()
    mean, cov, k, u = denoiser.mean, denoiser.covariance, KEEP.flatten(), ~KEEP.flatten()
    conditional_mean = mean[u] + cov[u][:, k] @ torch.linalg.solve(cov[k][:, k], KNOWN_VALUES - mean[k])
    assert (conditional_mean - mean[u]).abs().max() > 0.5  # the known pixels say much about the unknown ones
    errors = {}
    for resample in (1, 20):
        _, out = inpaint("ddpm", uniform_time_grid(50), 4000, jump_length=1, resample=resample)
        unknown = out.flatten(1)[:, u]
        errors[resample] = (unknown.mean(0) - conditional_mean).abs().max().item()
    assert errors[20] < 0.02 and errors[1] > 0.1, errors


def test_renoise_draws_the_forward_process_between_two_levels():
    """From x_t ~ q(x_t | x_0), renoise to a noisier level gives q(x_up | x_0): mean sqrt(ab_up) x_0, var 1 - ab_up."""
    x0 = torch.full((200_000,), 0.7, dtype=torch.float64)
    noise = seeded_noise(3)
    x_t = q_sample(x0, alpha_bar_of_sigma(0.5), noise(x0))
    x_up = renoise(x_t, 0.5, 4.0, noise(x0))
    alpha_bar_up = alpha_bar_of_sigma(4.0)
    assert x_up.mean().item() == pytest.approx(alpha_bar_up**0.5 * 0.7, abs=0.005)
    assert x_up.var().item() == pytest.approx(1 - alpha_bar_up, rel=0.01)
    assert torch.equal(renoise(x_t, 0.5, float("inf"), x0), x0)  # to sigma = inf: the fresh noise alone
