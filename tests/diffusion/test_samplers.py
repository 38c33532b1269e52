"""Samplers against the exact answer: for Gaussian data the ideal denoiser is known in closed form."""

import functools

import pytest
import torch

from unnoise.diffusion.denoiser import Denoiser
from unnoise.diffusion.samplers import SAMPLERS, count_nfe, run_sampler, sample_ddim, sample_ddpm
from unnoise.diffusion.schedules import make_schedule
from unnoise.errors import UserError

MEAN, STD = 0.3, 0.2


def gaussian_network(schedule, mean=MEAN, std=STD, prediction="eps"):
    """The exact E[eps | x_t] (or E[x_0 | x_t], E[v | x_t]) when the data are N(mean, std^2 I): the ideal network.

    Fractional t (sigma-based samplers) is mapped back to alpha_bar through the schedule's sigma(t),
    interpolated in log sigma exactly as the Denoiser maps sigma to t.
    """
    log_sigmas = schedule.sigmas.log()

    def alpha_bar_of(t):
        low = t.floor().long().clamp(0, len(log_sigmas) - 1)
        high = (low + 1).clamp(max=len(log_sigmas) - 1)
        log_sigma = log_sigmas[low] + (t.double() - low) * (log_sigmas[high] - log_sigmas[low])
        return 1 / (1 + (2 * log_sigma).exp())

    def network(x_t, t):
        a = alpha_bar_of(t).to(x_t.dtype)[:, None, None, None]
        eps = (1 - a).sqrt() * (x_t - a.sqrt() * mean) / (a * std**2 + 1 - a)
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        return {"eps": eps, "x0": x0, "v": a.sqrt() * eps - (1 - a).sqrt() * x0}[prediction]

    return network


@functools.lru_cache(maxsize=None)  # several tests look at the same long chains; compute each once
def cached_draw(sampler, steps, prediction, seed, n, options):
    return draw_now(sampler, steps, prediction, seed, n, **dict(options))


def draw(sampler, steps, prediction="eps", seed=1, n=1000, **options):
    return cached_draw(sampler, steps, prediction, seed, n, tuple(sorted(options.items())))


def draw_now(sampler, steps, prediction="eps", seed=1, n=1000, **options):
    schedule = make_schedule("linear", 1000)
    denoiser = Denoiser(gaussian_network(schedule, prediction=prediction), schedule, prediction, clip_x0=False)
    x_T = torch.randn((n, 1, 4, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    samples = run_sampler(sampler, denoiser, x_T, steps, torch.Generator().manual_seed(seed), **options)
    return samples, denoiser.evaluations


# Enough steps for each sampler's discretisation error to fall below the Monte Carlo error here.
ENOUGH_STEPS = {"ddpm": 1000, "ddim": 250, "euler": 250, "dpmpp_2m": 250, "dpmpp_2m_sde": 1000, "heun": 50}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_reproduces_gaussian_data_at_enough_steps(sampler):
    steps = ENOUGH_STEPS[sampler]
    samples, evaluations = draw(sampler, steps)
    assert samples.mean().item() == pytest.approx(MEAN, abs=0.006)
    assert samples.std().item() == pytest.approx(STD, rel=0.03)
    assert evaluations == count_nfe(sampler, steps)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampler_variance_error_shrinks_with_steps(sampler):
    errors = [abs(draw(sampler, steps)[0].std().item() - STD) for steps in (20, ENOUGH_STEPS[sampler])]
    assert errors[1] < errors[0] / 2


@pytest.mark.parametrize("prediction", ["x0", "v"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "heun"])
def test_samplers_work_with_every_parameterisation(sampler, prediction):
    reference, _ = draw(sampler, 20, "eps")
    other, _ = draw(sampler, 20, prediction)
    assert torch.allclose(reference, other, atol=1e-6)


def test_ddpm_variance_choices_bracket_the_truth():
    """beta~ is the lower bound on the reverse variance, beta the upper: coarse chains come out narrower / wider."""
    narrow, _ = draw("ddpm", 50, variance="beta_tilde")
    wide, _ = draw("ddpm", 50, variance="beta")
    assert narrow.std().item() < STD < wide.std().item()
    full, _ = draw("ddpm", 1000, variance="beta_tilde")
    assert abs(full.std().item() - STD) < abs(narrow.std().item() - STD)


def test_ddim_with_eta_0_is_deterministic_and_eta_1_is_ddpm():
    first, _ = draw("ddim", 30, seed=1)
    second, _ = draw("ddim", 30, seed=2)
    assert torch.equal(first, second)  # no noise is drawn at eta = 0
    ddpm, _ = draw("ddpm", 30, seed=5)
    ddim_eta_1, _ = draw("ddim", 30, seed=5, eta=1.0)
    assert torch.allclose(ddpm, ddim_eta_1, atol=1e-9)


def test_deterministic_samplers_converge_to_each_other_as_steps_grow():
    """DDIM, DPM-Solver++(2M), Euler and Heun all integrate the same probability-flow ODE."""
    reference, _ = draw("heun", 200)
    gaps = {}
    for sampler, options in [("ddim", {"spacing": "quadratic"}), ("dpmpp_2m", {"spacing": "quadratic"}), ("euler", {})]:
        gaps[sampler] = [(draw(sampler, steps, **options)[0] - reference).abs().mean().item() for steps in (10, 50, 200)]
        assert gaps[sampler][0] > gaps[sampler][1] > gaps[sampler][2] and gaps[sampler][2] < 0.005, gaps
    # Higher order pays off at few steps: DPM-Solver++(2M) beats DDIM (first order) at 10 steps.
    assert gaps["dpmpp_2m"][0] < gaps["ddim"][0]


def test_stochastic_samplers_depend_on_the_seed_and_deterministic_ones_do_not():
    for sampler, stochastic in [("ddpm", True), ("dpmpp_2m_sde", True), ("ddim", False), ("euler", False), ("heun", False)]:
        a, _ = draw(sampler, 10, seed=1, n=4)
        b, _ = draw(sampler, 10, seed=2, n=4)
        assert torch.equal(a, b) != stochastic, sampler


def test_options_a_sampler_does_not_take_are_user_errors():
    with pytest.raises(UserError, match="does not take --eta"):
        draw("euler", 5, eta=0.5)
    with pytest.raises(UserError, match="unknown sampler"):
        draw("plms", 5)
    with pytest.raises(UserError, match="variance"):
        draw("ddpm", 5, variance="learned")


def test_clipping_keeps_x0_in_the_data_range_and_eps_consistent():
    schedule = make_schedule("linear", 1000)
    denoiser = Denoiser(gaussian_network(schedule, mean=3.0, std=0.1), schedule, "eps", clip_x0=True)
    x_t = torch.randn(4, 1, 2, 2, dtype=torch.float64)
    eps, x0 = denoiser(x_t, 500)
    alpha_bar = schedule.alpha_bar[500]
    assert x0.max() <= 1
    assert torch.allclose(alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps, x_t)
